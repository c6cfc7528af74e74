// A job's events as lines of text, read one event at a time: what a piped `gpulink train` prints
// (createFollowLines) and what `gpulink logs` prints (createJobOutput). Both space their progress
// lines by the job's own clock (the events' timestamps), so a replay prints what a live run did.
import type { JobEvent } from '@gpulink/sdk';
import { lrFindChartLines } from './job-charts.js';
import { describeEvent, progressLine } from './job-lines.js';
import type { JobView } from './job-view.js';
import { PLAIN_PROGRESS_INTERVAL_MS } from './progress-line.js';

/** Turns each event, in order (with the view that includes it), into the lines it adds (often none). */
export type JobOutput = (event: JobEvent, view: JobView) => string[];

/**
 * The lines of a followed job when stdout is not a terminal: one per event that matters
 * (describeEvent), a progress line at most every `intervalMs` of training, the lr_find chart.
 */
export function createFollowLines(intervalMs = PLAIN_PROGRESS_INTERVAL_MS): JobOutput {
  const progress = throttledProgress(intervalMs);
  return (event, view) => {
    if (event.type === 'batch' || event.type === 'lrFindProgress') return progress(event, view);
    const line = describeEvent(event, view);
    const lines = line === undefined ? [] : [line];
    if (event.type === 'lrFind')
      lines.push(...lrFindChartLines(event, { width: 72, height: 12, ascii: true }));
    return lines;
  };
}

/** A progress line for a batch event, when `intervalMs` of the job's time have passed since the last. */
function throttledProgress(intervalMs: number): JobOutput {
  let lastAt = Number.NEGATIVE_INFINITY;
  return (event, view) => {
    const at = event.time.getTime();
    if (at - lastAt < intervalMs) return [];
    lastAt = at;
    const line = progressLine(view, at);
    return line ? [line] : [];
  };
}

/**
 * The job's output as a console run of it would have printed it: the worker's stdout and stderr
 * lines as they came, and fastai's progress as fastai writes it to a console (its epoch table,
 * with a progress line at most every `intervalMs`).
 */
export function createJobOutput(intervalMs = PLAIN_PROGRESS_INTERVAL_MS): JobOutput {
  const progress = throttledProgress(intervalMs);
  let columns: string[] = [];
  return (event, view) => {
    switch (event.type) {
      case 'log':
        return [event.text];
      case 'fitStarted':
        columns = ['epoch', 'train_loss', 'valid_loss', ...event.metricNames, 'time'];
        return [
          columns
            .map((c) => c.padEnd(Math.max(c.length, 10)))
            .join(' ')
            .trimEnd(),
        ];
      case 'epochEnded': {
        const cells = [
          String(event.epoch),
          fastaiFloat(event.trainLoss),
          fastaiFloat(event.validLoss),
          ...columns.slice(3, -1).map((m) => fastaiFloat(event.metrics[m])),
          fastaiTime(event.durationMs),
        ];
        return [
          cells
            .map((c, i) => c.padEnd(Math.max((columns[i] ?? '').length, 10)))
            .join(' ')
            .trimEnd(),
        ];
      }
      case 'batch':
      case 'lrFindProgress':
        return progress(event, view);
      case 'phase':
      case 'lrFind':
      case 'artifact':
      case 'warning':
      case 'error': {
        const line = describeEvent(event, view);
        return line ? [line] : [];
      }
      default:
        return [];
    }
  };
}

/** A loss or metric as fastai's console table writes it: six decimals. */
const fastaiFloat = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(6));
/** An epoch's time as fastai writes it: mm:ss. */
function fastaiTime(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
