import type {
  ArtifactInfo,
  EpochMetrics,
  Interpretation,
  JobEvent,
  JobFailure,
  JobState,
  LogLine,
  LrFindResult,
  Prediction,
  StatsSample,
} from '@gpulink/sdk';

/** Everything the CLI shows about one job, folded from its events. Plain data: React renders it, tests read it. */
export interface JobView {
  jobId: string;
  state: JobState | undefined;
  stateReason: string | undefined;
  attempt: number;
  lastSeq: number;
  /** Epochs across every fit, as known so far. */
  plannedEpochs: number;
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
  epochs: EpochMetrics[];
  /** The log tail; seq keeps each line's identity for rendering. */
  logs: Array<LogLine & { seq: number }>;
  warnings: string[];
  /** Where a running learning-rate finder is. */
  lrFindProgress: { iter: number; iters: number; lr: number } | undefined;
  lrFind: LrFindResult | undefined;
  interpretation: Interpretation | undefined;
  predictions: Prediction[];
  artifacts: ArtifactInfo[];
  failure: JobFailure | undefined;
  stats: StatsSample | undefined;
  /** The loss after each training batch event (smoothed by fastai), for the loss chart. */
  trainLossSeries: number[];
}

const LOG_TAIL = 200;
const SERIES_MAX = 400;

export function emptyJobView(jobId: string): JobView {
  return {
    jobId,
    state: undefined,
    stateReason: undefined,
    attempt: 1,
    lastSeq: 0,
    plannedEpochs: 0,
    metricNames: [],
    fit: undefined,
    batch: undefined,
    epochs: [],
    logs: [],
    warnings: [],
    lrFindProgress: undefined,
    lrFind: undefined,
    interpretation: undefined,
    predictions: [],
    artifacts: [],
    failure: undefined,
    stats: undefined,
    trainLossSeries: [],
  };
}

/** Folds one event into the view, returning a new view (React state must not be mutated). */
export function reduceJobView(view: JobView, event: JobEvent): JobView {
  if (event.seq <= view.lastSeq) return view;
  const v: JobView = { ...view, lastSeq: event.seq, attempt: event.attempt };
  switch (event.type) {
    case 'state':
      v.state = event.state;
      v.stateReason = event.reason;
      break;
    case 'log':
      v.logs = [...view.logs, { seq: event.seq, stream: event.stream, text: event.text }].slice(-LOG_TAIL);
      break;
    case 'fitStarted': {
      const done = view.epochs.at(-1)?.completedEpochs ?? 0;
      v.fit = {
        index: event.fitIndex,
        epochs: event.epochs,
        trainBatches: event.trainBatches,
        validBatches: event.validBatches,
      };
      v.metricNames = event.metricNames;
      v.plannedEpochs = Math.max(view.plannedEpochs, done + event.epochs - event.startEpoch);
      v.batch = undefined;
      break;
    }
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
    case 'epochEnded': {
      const { seq: _s, time: _t, jobId: _j, attempt: _a, type: _type, ...metrics } = event;
      v.epochs = [...view.epochs, metrics];
      break;
    }
    case 'lrFindProgress':
      v.lrFindProgress = { iter: event.iter, iters: event.iters, lr: event.lr };
      break;
    case 'lrFind':
      v.lrFindProgress = undefined;
      v.lrFind = { lrs: event.lrs, losses: event.losses, suggestions: event.suggestions };
      break;
    case 'stats':
      v.stats = event.sample;
      break;
    case 'artifact':
      v.artifacts = [...view.artifacts.filter((a) => a.name !== event.artifact.name), event.artifact];
      break;
    case 'interpretation':
      v.interpretation = {
        classes: event.classes,
        confusionMatrix: event.confusionMatrix,
        mostConfused: event.mostConfused,
      };
      break;
    case 'warning':
      v.warnings = [...view.warnings, event.message].slice(-20);
      break;
    case 'error':
      v.failure = event.error;
      break;
    case 'predictions':
      v.predictions = [...view.predictions, ...event.predictions];
      break;
  }
  return v;
}

/** The epochs completed, counting every fit. */
export function completedEpochs(view: JobView): number {
  return view.epochs.at(-1)?.completedEpochs ?? 0;
}

/** The last value of a metric, e.g. accuracy. */
export function lastMetric(view: JobView, name: string): number | undefined {
  return view.epochs.at(-1)?.metrics[name];
}
