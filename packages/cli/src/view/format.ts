/** Human-readable figures for plain output and the UI. */

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n >= 100 || u === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[u]}`;
}

/** A duration as one number and its unit, no space: `850ms`, `12.3s`, `2m05s`, `1h02m`, `2d03h`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  // Rounded before it is split, so a place never shows 60 (59.96 s is 1m00s, not 60.0s or 0m60s).
  if (Math.round(ms / 100) < 600) return `${(ms / 1000).toFixed(1)}s`;
  return wholeDuration(ms);
}

/** From a minute up: two places, the smaller one padded (`2m05s`, `1h02m`, `2d03h`). */
function wholeDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${pad2(s % 60)}s`;
  const m = Math.round(ms / 60_000);
  if (m < 24 * 60) return `${Math.floor(m / 60)}h${pad2(m % 60)}m`;
  const h = Math.round(ms / 3_600_000);
  return `${Math.floor(h / 24)}d${pad2(h % 24)}h`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A count and its noun: `1 file`, `3 files`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function formatPercent(p: number | undefined): string {
  return p === undefined ? '-' : `${Math.round(p)}%`;
}

/** A loss or metric: 4 significant digits, small values in exponent form. */
export function formatNumber(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (n !== 0 && Math.abs(n) < 1e-3) return n.toExponential(2);
  return n.toPrecision(4);
}

/** How long ago, in whole seconds under a minute: `12s ago`, `2m05s ago`. */
export function formatAge(date: Date | undefined, now = Date.now()): string {
  if (!date) return '-';
  const ms = Math.max(0, now - date.getTime());
  return `${Math.round(ms / 1000) < 60 ? `${Math.round(ms / 1000)}s` : wholeDuration(ms)} ago`;
}

/**
 * Each id cut to the shortest prefix that no other id in `ids` starts with, and at least `minLength`
 * long: what a list shows where the full id does not fit. Every command that takes a job accepts it.
 */
export function abbreviateIds(ids: readonly string[], minLength = 12): Map<string, string> {
  const sorted = [...ids].sort();
  const out = new Map<string, string>();
  for (const [i, id] of sorted.entries()) {
    // Sorted, the ids sharing the longest start with this one are its neighbours.
    const shared = Math.max(commonStart(id, sorted[i - 1]), commonStart(id, sorted[i + 1]));
    out.set(id, id.slice(0, Math.max(minLength, shared + 1)));
  }
  return out;
}

function commonStart(a: string, b: string | undefined): number {
  let n = 0;
  while (b !== undefined && n < a.length && a[n] === b[n]) n++;
  return n;
}

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((cells) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** A learning rate, always in one form: `1.74e-3`. */
export function formatLearningRate(lr: number | undefined): string {
  if (lr === undefined || !Number.isFinite(lr)) return '-';
  return lr.toExponential(2).replace('e+', 'e');
}

/** Bytes per second: `3.2 MiB/s`. */
export function formatByteRate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined ? '-' : `${formatBytes(bytesPerSecond)}/s`;
}

/** Items per second: whole numbers, one decimal below 10 (`2.4 items/s` on a busy CPU, not `2`). */
export function formatItemRate(perSecond: number): string {
  return `${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond)} items/s`;
}
