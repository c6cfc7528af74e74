// Line charts as text, with a labelled y axis and ticks on the x axis: the lr_find curve (log lr) and
// the loss curve (training and validation). Plain strings: Ink prints them, and so do pipes.

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  points: readonly ChartPoint[];
  /** The character each point is drawn with. */
  glyph: string;
}

export interface ChartOptions {
  /** Columns of the whole chart, labels included. */
  width: number;
  /** Rows of the plot area (the x axis and its labels add two). */
  height: number;
  /** Place x on a log10 scale (learning rates). */
  xLog?: boolean;
  /** Ticks on the x axis, in data units. */
  xTicks: ReadonlyArray<{ x: number; label: string }>;
  /** How a y value is written on the axis. */
  yLabel: (y: number) => string;
  /** ASCII axes (`|`, `+`, `-`) for output that may not be read in a UTF-8 terminal. */
  ascii?: boolean;
  /**
   * The top of the y axis; points above it are drawn on the top row as `↑` (a first epoch's huge
   * validation loss would flatten the rest of the curve).
   */
  yMax?: number;
}

/** The chart's lines: plot rows, the x axis, the tick labels. Series drawn later sit on top. */
export function drawChart(series: readonly ChartSeries[], options: ChartOptions): string[] {
  const ax = options.ascii
    ? { v: '|', tick: '+', h: '-', corner: '+', htick: '+' }
    : { v: '│', tick: '┤', h: '─', corner: '└', htick: '┬' };
  const tx = (x: number) => (options.xLog ? Math.log10(x) : x);
  const all = series.flatMap((s) => s.points.filter((p) => Number.isFinite(p.y) && Number.isFinite(tx(p.x))));
  if (all.length === 0) return [];
  const xs = all.map((p) => tx(p.x));
  const ys = all.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const y0 = Math.min(...ys);
  const y1 = Math.min(Math.max(...ys), options.yMax ?? Number.POSITIVE_INFINITY);
  const labels = [options.yLabel(y1), options.yLabel((y0 + y1) / 2), options.yLabel(y0)];
  const labelWidth = Math.max(...labels.map((l) => l.length));
  const plotWidth = Math.max(8, options.width - labelWidth - 2);
  const height = Math.max(3, options.height);
  const col = (x: number) => Math.round(((tx(x) - x0) / (x1 - x0 || 1)) * (plotWidth - 1));
  const row = (y: number) => Math.round(((y1 - y) / (y1 - y0 || 1)) * (height - 1));
  const grid = Array.from({ length: height }, () => Array<string>(plotWidth).fill(' '));
  const marked = new Set<string>();
  for (const [i, s] of series.entries()) {
    for (const p of s.points) {
      if (!Number.isFinite(p.y)) continue;
      const c = col(p.x);
      const above = p.y > y1;
      if (c < 0 || c >= plotWidth) continue;
      // A later series' point that would hide another's goes to the nearest free row (two lr_find
      // suggestions often fall in one cell).
      let r = above ? 0 : row(p.y);
      for (let d = 1; i > 0 && marked.has(`${r},${c}`) && d < height; d++) {
        const up = row(p.y) - d;
        const down = row(p.y) + d;
        r = up >= 0 && !marked.has(`${up},${c}`) ? up : down < height ? down : r;
      }
      const cells = grid[r];
      if (!cells) continue;
      cells[c] = above ? (options.ascii ? '^' : '↑') : s.glyph;
      if (i > 0) marked.add(`${r},${c}`);
    }
  }
  const mid = Math.floor((height - 1) / 2);
  const lines = grid.map((cells, r) => {
    const label = r === 0 ? labels[0] : r === height - 1 ? labels[2] : r === mid ? labels[1] : '';
    return `${(label ?? '').padStart(labelWidth)} ${label ? ax.tick : ax.v}${cells.join('')}`.trimEnd();
  });
  const axis = Array<string>(plotWidth).fill(ax.h);
  const tickLine = Array<string>(plotWidth + 2).fill(' ');
  let free = 0;
  for (const t of options.xTicks) {
    const c = col(t.x);
    if (c < 0 || c >= plotWidth) continue;
    axis[c] = ax.htick;
    // A label starts under its tick, or as near as fits without running into the one before.
    const start = Math.max(free, c - Math.floor(t.label.length / 2));
    if (start + t.label.length > plotWidth + 2 || start > c) continue;
    for (const [i, ch] of [...t.label].entries()) tickLine[start + i] = ch;
    free = start + t.label.length + 1;
  }
  lines.push(`${''.padStart(labelWidth)} ${ax.corner}${axis.join('')}`);
  lines.push(`${''.padStart(labelWidth + 2)}${tickLine.join('')}`.trimEnd());
  return lines;
}

/** Ticks at each power of ten from `min` to `max`, thinned so that labels `1e-7` wide fit `columns`. */
export function decadeTicks(min: number, max: number, columns: number): Array<{ x: number; label: string }> {
  const lo = Math.ceil(Math.log10(min) - 1e-9);
  const hi = Math.floor(Math.log10(max) + 1e-9);
  const decades = Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
  const fit = Math.max(1, Math.floor(columns / 6));
  const step = Math.max(1, Math.ceil(decades.length / fit));
  return decades.filter((_, i) => i % step === 0).map((d) => ({ x: 10 ** d, label: `1e${d}` }));
}

/** Legend items joined two spaces apart, in as many lines of `width` as they need. */
export function legendLines(items: readonly string[], width: number, indent = '  '): string[] {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line ? `${line}  ${item}` : `${indent}${item}`;
    if (line && next.length > width) {
      lines.push(line);
      line = `${indent}${item}`;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}
