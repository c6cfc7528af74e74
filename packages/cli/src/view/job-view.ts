import {
  emptyJobSummary,
  foldJobEvent,
  type JobEvent,
  type JobSummary,
  type LogLine,
  type StatsSample,
} from '@gpulink/sdk';

/**
 * Everything the CLI shows about one job: the SDK's summary of its events (state, epochs done and
 * planned, artifacts, failure, ...), plus what only a display needs. Plain data: React renders it,
 * tests read it.
 */
export interface JobView extends JobSummary {
  metricNames: string[];
  /** The fit in progress. */
  fit: { index: number; epochs: number; trainBatches: number; validBatches: number } | undefined;
  /** Progress inside the current epoch. */
  batch:
    | {
        epoch: number;
        iter: number;
        iters: number;
        phase: 'train' | 'valid';
        smoothLoss?: number;
        itemsPerSecond: number;
      }
    | undefined;
  /** The log tail; seq keeps each line's identity for rendering. */
  logs: Array<LogLine & { seq: number }>;
  /** Where a running learning-rate finder is. */
  lrFindProgress: { iter: number; iters: number; lr: number } | undefined;
  stats: StatsSample | undefined;
  /** The loss after each training batch event (smoothed by fastai), for the loss chart. */
  trainLossSeries: number[];
}

const LOG_TAIL = 200;
const SERIES_MAX = 400;

export function emptyJobView(jobId: string): JobView {
  return {
    ...emptyJobSummary(jobId),
    metricNames: [],
    fit: undefined,
    batch: undefined,
    logs: [],
    lrFindProgress: undefined,
    stats: undefined,
    trainLossSeries: [],
  };
}

/**
 * Folds one event into the view, returning a new view (React state must not be mutated): the SDK's
 * fold for the summary, then the display state.
 */
export function reduceJobView(view: JobView, event: JobEvent): JobView {
  if (event.seq <= view.lastSeq) return view;
  const v = foldJobEvent(view, event);
  switch (event.type) {
    case 'log':
      v.logs = [...view.logs, { seq: event.seq, stream: event.stream, text: event.text }].slice(-LOG_TAIL);
      break;
    case 'fitStarted':
      v.fit = {
        index: event.fitIndex,
        epochs: event.epochs,
        trainBatches: event.trainBatches,
        validBatches: event.validBatches,
      };
      v.metricNames = event.metricNames;
      v.batch = undefined;
      break;
    case 'batch':
      v.batch = {
        epoch: event.epoch,
        iter: event.iter,
        iters: event.iters,
        phase: event.phase,
        smoothLoss: event.smoothLoss,
        itemsPerSecond: event.itemsPerSecond,
      };
      if (event.phase === 'train' && event.smoothLoss !== undefined) {
        v.trainLossSeries = [...view.trainLossSeries, event.smoothLoss].slice(-SERIES_MAX);
      }
      break;
    case 'lrFindProgress':
      v.lrFindProgress = { iter: event.iter, iters: event.iters, lr: event.lr };
      break;
    case 'lrFind':
      v.lrFindProgress = undefined;
      break;
    case 'stats':
      v.stats = event.sample;
      break;
    default:
      break;
  }
  return v;
}

/** The last value of a metric, e.g. accuracy. */
export function lastMetric(view: JobView, name: string): number | undefined {
  return view.epochs.at(-1)?.metrics[name];
}
