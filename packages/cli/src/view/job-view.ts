import {
  emptyJobSummary,
  foldJobEvent,
  isTerminalState,
  type JobEvent,
  type JobSummary,
  type LogLine,
  type StatsSample,
} from '@gpulink/sdk';
import { type SmoothedRate, smoothRate } from './rate.js';

/**
 * Everything the CLI shows about one job: the SDK's summary of its events (state, epochs done and
 * planned, artifacts, failure, ...), plus what only a display needs. Plain data: React renders it,
 * tests read it.
 */
export interface JobView extends JobSummary {
  metricNames: string[];
  /** The fit in progress. */
  fit:
    | {
        index: number;
        epochs: number;
        trainBatches: number;
        validBatches: number;
        trainItems: number;
        validItems: number;
      }
    | undefined;
  /** Progress inside the current epoch. */
  batch:
    | {
        epoch: number;
        iter: number;
        iters: number;
        phase: 'train' | 'valid';
        smoothLoss?: number;
        /** The worker's items/s, smoothed (rate.ts): the raw figure jumps from one report to the next. */
        itemsPerSecond: number;
      }
    | undefined;
  /** The smoothed items/s behind `batch.itemsPerSecond`, carried from one batch to the next. */
  itemsRate: SmoothedRate | undefined;
  /** What runs besides training (exporting the model, interpreting results), until the next fit or the end. */
  phase: string | undefined;
  /** The log tail; seq keeps each line's identity for rendering. */
  logs: Array<LogLine & { seq: number }>;
  /** Where a running learning-rate finder is. */
  lrFindProgress: { iter: number; iters: number; lr: number; smoothLoss?: number } | undefined;
  stats: StatsSample | undefined;
  /** The loss after each training batch event (smoothed by fastai), for the loss chart. */
  trainLossSeries: number[];
  /** Training batch events seen in all: the step of the last value of `trainLossSeries`. */
  lossSteps: number;
  /** The validation loss at the end of each epoch, at the step it was measured. */
  validLossSeries: Array<{ step: number; loss: number }>;
}

const LOG_TAIL = 200;
const SERIES_MAX = 400;

export function emptyJobView(jobId: string): JobView {
  return {
    ...emptyJobSummary(jobId),
    metricNames: [],
    fit: undefined,
    batch: undefined,
    itemsRate: undefined,
    phase: undefined,
    logs: [],
    lrFindProgress: undefined,
    stats: undefined,
    trainLossSeries: [],
    lossSteps: 0,
    validLossSeries: [],
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
        trainItems: event.trainItems,
        validItems: event.validItems,
      };
      v.metricNames = event.metricNames;
      v.batch = undefined;
      v.phase = undefined;
      break;
    case 'batch':
      v.itemsRate = smoothRate(view.itemsRate, event.itemsPerSecond, event.time.getTime());
      v.batch = {
        epoch: event.epoch,
        iter: event.iter,
        iters: event.iters,
        phase: event.phase,
        smoothLoss: event.smoothLoss,
        itemsPerSecond: v.itemsRate.perSecond,
      };
      if (event.phase === 'train' && event.smoothLoss !== undefined) {
        v.trainLossSeries = [...view.trainLossSeries, event.smoothLoss].slice(-SERIES_MAX);
        v.lossSteps = view.lossSteps + 1;
      }
      break;
    case 'epochEnded':
      // The epoch's bar is done: the next epoch's first batch, or a phase, takes its place.
      v.batch = undefined;
      if (event.validLoss !== undefined && Number.isFinite(event.validLoss)) {
        v.validLossSeries = [...view.validLossSeries, { step: view.lossSteps, loss: event.validLoss }];
      }
      break;
    case 'phase':
      v.phase = event.description;
      break;
    case 'state':
      if (isTerminalState(event.state)) v.phase = undefined;
      break;
    case 'lrFindProgress':
      v.lrFindProgress = { iter: event.iter, iters: event.iters, lr: event.lr, smoothLoss: event.smoothLoss };
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

/** How long the job has run: from its start to its end, or to `now` while it runs. */
export function elapsedMs(view: JobView, now = Date.now()): number | undefined {
  if (!view.startedAt) return undefined;
  return (view.finishedAt?.getTime() ?? now) - view.startedAt.getTime();
}

/**
 * The training time left: the epochs still to run times the time of one, taken from the last epoch
 * when one has ended and otherwise from the smoothed items/s. Undefined until there is a rate.
 */
export function etaMs(view: JobView): number | undefined {
  const fit = view.fit;
  const b = view.batch;
  if (!fit || !b || view.totalEpochs === 0) return undefined;
  const items = fit.trainItems + fit.validItems;
  const epochMs =
    view.epochs.at(-1)?.durationMs ?? (b.itemsPerSecond > 0 ? (items / b.itemsPerSecond) * 1000 : undefined);
  if (epochMs === undefined || items === 0) return undefined;
  const trainShare = fit.trainItems / items;
  const inPhase = b.iter / Math.max(1, b.iters);
  const doneOfEpoch = b.phase === 'train' ? inPhase * trainShare : trainShare + inPhase * (1 - trainShare);
  return Math.max(0, view.totalEpochs - view.completedEpochs - doneOfEpoch) * epochMs;
}
