// The two pictures of a job drawn as text: the lr_find curve over a log-lr axis with its suggestions
// marked, and the loss curve with validation loss beside training loss. The follow view, the job
// detail and plain output all draw them from here.
import type { LrFindResult } from '@gpulink/sdk';
import { type ChartSeries, decadeTicks, drawChart, legendLines } from './chart.js';
import { formatLearningRate, formatNumber } from './format.js';
import type { JobView } from './job-view.js';

export interface ChartSize {
  width: number;
  height: number;
  /** ASCII only (plain output). */
  ascii?: boolean;
}

/** The letter each suggestion is marked with on the curve. */
const SUGGESTION_MARKS: Record<string, string> = { valley: 'V', slide: 'S', minimum: 'M', steep: 'T' };
const markOf = (method: string) => SUGGESTION_MARKS[method] ?? method.charAt(0).toUpperCase();
/** fastai's plot leaves out the last points, where the loss has diverged (plot_lr_find's skip_end). */
const SKIP_END = 5;

/** The lr_find curve (loss over log lr), each suggestion marked by its letter, and a legend. */
export function lrFindChartLines(result: LrFindResult, size: ChartSize): string[] {
  const n = result.lrs.length > SKIP_END * 2 ? result.lrs.length - SKIP_END : result.lrs.length;
  const points = result.lrs.slice(0, n).map((x, i) => ({ x, y: result.losses[i] ?? Number.NaN }));
  const finite = points.filter((p) => p.x > 0 && Number.isFinite(p.y));
  if (finite.length < 2) return [];
  const marks: ChartSeries[] = result.suggestions.map((s) => {
    const nearest = finite.reduce((a, b) =>
      Math.abs(Math.log(b.x / s.lr)) < Math.abs(Math.log(a.x / s.lr)) ? b : a,
    );
    return { points: [{ x: s.lr, y: nearest.y }], glyph: markOf(s.method) };
  });
  const xs = finite.map((p) => p.x);
  const lines = drawChart([{ points: finite, glyph: size.ascii ? '*' : '•' }, ...marks], {
    width: size.width,
    height: size.height,
    xLog: true,
    xTicks: decadeTicks(Math.min(...xs), Math.max(...xs), size.width - 8),
    yLabel: formatNumber,
    ascii: size.ascii,
  });
  const legend = result.suggestions.map((s) => `${markOf(s.method)} ${s.method} ${formatLearningRate(s.lr)}`);
  return [...lines, ...legendLines(['learning rate (log scale):', ...legend], size.width)];
}

/** Training loss per batch and validation loss per epoch over the steps, epochs ticked, and a legend. */
export function lossChartLines(view: JobView, size: ChartSize): string[] {
  const first = view.lossSteps - view.trainLossSeries.length;
  const train = view.trainLossSeries.map((y, i) => ({ x: first + i + 1, y }));
  if (train.length < 2) return [];
  const valid = view.validLossSeries.filter((p) => p.step > first).map((p) => ({ x: p.step, y: p.loss }));
  const glyphs = size.ascii ? { train: '*', valid: 'o' } : { train: '•', valid: '◆' };
  const every = Math.max(1, Math.ceil(valid.length / Math.max(1, Math.floor((size.width - 8) / 4))));
  const ticks = view.validLossSeries
    .map((p, i) => ({ x: p.step, label: String(i + 1) }))
    .filter((t, i) => t.x > first && (i + 1) % every === 0);
  const lines = drawChart(
    [
      { points: train, glyph: glyphs.train },
      { points: valid, glyph: glyphs.valid },
    ],
    {
      width: size.width,
      height: size.height,
      xTicks: ticks,
      yLabel: formatNumber,
      ascii: size.ascii,
      // Validation loss far above training loss (an early epoch of a model trained from scratch)
      // is marked at the top rather than squashing the training curve flat.
      yMax: Math.max(...view.trainLossSeries.filter(Number.isFinite)) * 1.5,
    },
  );
  const legend = [`${glyphs.train} train_loss ${formatNumber(view.trainLossSeries.at(-1))}`];
  const lastValid = view.validLossSeries.at(-1);
  if (lastValid) legend.push(`${glyphs.valid} valid_loss ${formatNumber(lastValid.loss)}`);
  return [...lines, ...legendLines([...(ticks.length ? ['epochs:'] : []), ...legend], size.width)];
}
