import type { Job, JobEvent } from '@gpulink/sdk';
import { emptyJobView, type JobView, lastMetric, reduceJobView } from '../ui/job-view.js';
import { EXIT, type OutputMode, printJson, printLine } from './context.js';
import { formatBytes, formatDuration, formatNumber, plural } from './format.js';

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

/**
 * Follows a job to its end: NDJSON events with --json, plain lines otherwise (the Ink view is in
 * ui/FollowJob.tsx). Returns the final view.
 */
export async function followJobPlain(
  job: Job,
  mode: Exclude<OutputMode, 'interactive'>,
  options: { afterSeq?: number; replayOnly?: boolean; signal?: AbortSignal; logsOnly?: boolean } = {},
): Promise<JobView> {
  let view = emptyJobView(job.id);
  for await (const event of job.events({
    afterSeq: options.afterSeq ?? 0,
    replayOnly: options.replayOnly,
    signal: options.signal,
  })) {
    view = reduceJobView(view, event);
    if (mode === 'json') {
      if (!options.logsOnly || event.type === 'log') printJson(event);
    } else if (options.logsOnly) {
      if (event.type === 'log') printLine(event.text);
    } else {
      const line = describeEvent(event, view);
      if (line !== undefined) printLine(line);
    }
  }
  if (mode === 'plain' && !options.logsOnly) for (const line of summaryLines(view)) printLine(line);
  return view;
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
      return event.predictions
        .map((p) => `${p.input}: ${p.label} (${(p.probability * 100).toFixed(1)}%)`)
        .join('\n');
    case 'warning':
      return `warning [${event.code}]: ${event.message}`;
    case 'error':
      return `error [${event.error.kind}]: ${event.error.message}${event.error.traceback ? `\n${event.error.traceback.trimEnd()}` : ''}`;
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
