// A job's events and outcome as text: the plain lines of a followed job and its closing summary, and
// the exit code it maps to. Both the plain follower (commands/) and the Ink view (ui/) print these.
import type { JobEvent } from '@gpulink/sdk';
import { EXIT } from '../cli-error.js';
import { formatBytes, formatDuration, formatNumber, plural } from './format.js';
import { type JobView, lastMetric } from './job-view.js';

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
      const s = event.suggestions.map((x) => `${x.method} ${formatNumber(x.lr)}`).join(', ');
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
    case 'warning':
      return `warning [${event.code}]: ${event.message}`;
    case 'error':
      // One line: the worker writes the traceback to the job's log, whose lines print above this one.
      return `error [${event.error.kind}]: ${event.error.message}`;
    default:
      return undefined;
  }
}

/** The closing lines: outcome, the headline metric, where the model is. */
export function summaryLines(view: JobView): string[] {
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
      ? `job ${view.jobId} ${view.state}: lr_find tried ${view.lrFind.lrs.length} learning rates${valley ? `, suggests ${valley.method} ${formatNumber(valley.lr)}` : ''}`
      : `job ${view.jobId} ${view.state} after ${plural(last?.completedEpochs ?? 0, 'epoch')}${headline}`,
  );
  const model = view.artifacts.find((a) => a.kind === 'model');
  if (model)
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
