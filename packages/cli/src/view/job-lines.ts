// A job's events and outcome as text: the plain lines of a followed job and its closing summary, and
// the exit code it maps to. Both the plain follower (commands/) and the Ink view (ui/) print these.
import type { JobEvent } from '@gpulink/sdk';
import { EXIT } from '../cli-error.js';
import {
  formatBytes,
  formatDuration,
  formatItemRate,
  formatLearningRate,
  formatNumber,
  plural,
} from './format.js';
import { elapsedMs, etaMs, type JobView, lastMetric } from './job-view.js';

/** How a followed job ended, as an exit code. */
export function exitCodeFor(view: JobView): number {
  switch (view.state) {
    case 'succeeded':
      return EXIT.ok;
    case 'failed':
      return EXIT.jobFailed;
    default:
      return EXIT.jobStopped;
  }
}

/** One plain line for an event, or undefined for events that would only be noise in a log (batches, stats). */
export function describeEvent(event: JobEvent, view: JobView): string | undefined {
  switch (event.type) {
    case 'state':
      return `${event.jobId}  ${event.state}${event.reason ? ` (${event.reason})` : ''}`;
    case 'log':
      return `  | ${event.text}`;
    case 'fitStarted':
      return `fit ${event.fitIndex + 1}: ${plural(event.epochs, 'epoch')}, ${event.trainBatches} training batches, ${event.trainItems} training / ${event.validItems} validation items`;
    case 'epochEnded': {
      const metrics = Object.entries(event.metrics).map(([k, v]) => `${k} ${formatNumber(v)}`);
      const total = view.totalEpochs ? `/${view.totalEpochs}` : '';
      return [
        `epoch ${event.completedEpochs}${total}`,
        `train_loss ${formatNumber(event.trainLoss)}`,
        `valid_loss ${formatNumber(event.validLoss)}`,
        ...metrics,
        formatDuration(event.durationMs),
      ].join('  ');
    }
    case 'lrFind': {
      const s = event.suggestions.map((x) => `${x.method} ${formatLearningRate(x.lr)}`).join(', ');
      return `lr_find: ${event.lrs.length} points; suggestions: ${s}`;
    }
    case 'artifact':
      return `artifact ${event.artifact.name} (${formatBytes(event.artifact.sizeBytes)}, sha256 ${event.artifact.sha256.slice(0, 12)}…)`;
    case 'interpretation': {
      const worst = event.mostConfused.slice(0, 3).map((p) => `${p.actual}→${p.predicted} ×${p.count}`);
      return `most confused: ${worst.join(', ') || 'none'}`;
    }
    case 'predictions':
      // The closing summary lists them (summaryLines), in a terminal as when piped.
      return undefined;
    case 'phase':
      return `${event.description}…`;
    case 'warning':
      return `warning [${event.code}]: ${event.message}`;
    case 'error':
      // One line: the worker writes the traceback to the job's log, whose lines print above this one.
      return `error [${event.error.kind}]: ${event.error.message}`;
    default:
      return undefined;
  }
}

/**
 * The closing lines: outcome, the headline metric, where the model is (unless `model` is false: a
 * command that saves the model itself says where, once).
 */
export function summaryLines(view: JobView, { model: withModel = true }: { model?: boolean } = {}): string[] {
  const lines: string[] = [];
  const accuracy = lastMetric(view, 'accuracy');
  const last = view.epochs.at(-1);
  const headline =
    accuracy !== undefined
      ? `, accuracy ${(accuracy * 100).toFixed(1)}%`
      : last?.validLoss !== undefined
        ? `, valid_loss ${formatNumber(last.validLoss)}`
        : '';
  const valley = view.lrFind?.suggestions.find((x) => x.method === 'valley') ?? view.lrFind?.suggestions[0];
  const predictions = view.predictions ?? [];
  if (predictions.length > 0 && !last) {
    lines.push(`job ${view.jobId} ${view.state}: ${plural(predictions.length, 'prediction')}`);
    lines.push(...predictionLines(predictions));
    return lines;
  }
  lines.push(
    view.lrFind && !last
      ? `job ${view.jobId} ${view.state}: lr_find tried ${view.lrFind.lrs.length} learning rates${valley ? `, suggests ${valley.method} ${formatLearningRate(valley.lr)}` : ''}`
      : // A job that never planned an epoch (lr_find, predict, a script) is not "after 0 epochs".
        `job ${view.jobId} ${view.state}${last || view.totalEpochs > 0 ? ` after ${plural(last?.completedEpochs ?? 0, 'epoch')}` : ''}${headline}`,
  );
  const model = view.artifacts.find((a) => a.kind === 'model');
  if (model && withModel)
    lines.push(
      `model: ${model.name} (${formatBytes(model.sizeBytes)}) — download with: gpulink pull ${view.jobId} ${model.name}`,
    );
  if (view.error) lines.push(`failed: ${view.error.message}`);
  return lines;
}

/** Each input's name, label and probability, the names in one column. */
function predictionLines(predictions: NonNullable<JobView['predictions']>): string[] {
  const width = Math.max(...predictions.map((p) => p.input.length));
  return predictions.map((p) => `${p.input.padEnd(width)}  ${p.label}  ${(p.probability * 100).toFixed(1)}%`);
}

/**
 * Where a running job is, in one line: the epoch, the batch, the loss, items/s, time elapsed and
 * left. What a pipe gets now and then between the lines of describeEvent; undefined between fits.
 */
export function progressLine(view: JobView, now: number): string | undefined {
  const b = view.batch;
  const p = view.lrFindProgress;
  const parts: string[] = [];
  if (b) {
    const total = view.totalEpochs ? `/${view.totalEpochs}` : '';
    parts.push(`epoch ${view.completedEpochs + 1}${total}`, `${b.phase} ${b.iter}/${b.iters}`);
    if (b.smoothLoss !== undefined) parts.push(`loss ${formatNumber(b.smoothLoss)}`);
    if (b.itemsPerSecond > 0) parts.push(formatItemRate(b.itemsPerSecond));
  } else if (p) {
    parts.push(`lr_find ${p.iter}/${p.iters}`, `lr ${formatLearningRate(p.lr)}`);
    if (p.smoothLoss !== undefined) parts.push(`loss ${formatNumber(p.smoothLoss)}`);
  } else return undefined;
  const elapsed = elapsedMs(view, now);
  if (elapsed !== undefined) parts.push(`${formatDuration(elapsed)} elapsed`);
  const eta = etaMs(view);
  if (eta !== undefined) parts.push(`about ${formatDuration(eta)} left`);
  return parts.join('  ');
}
