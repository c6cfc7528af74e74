// One entry of a job's event log, as job.events() yields it.
import type { JobState } from './job.js';
import type {
  EpochMetrics,
  Interpretation,
  JobFailure,
  LogLine,
  LrFindResult,
  Prediction,
} from './job-results.js';
import type { StatsSample } from './stats.js';
import type { ArtifactInfo } from './stored-files.js';

/**
 * Fields every {@link JobEvent} carries.
 *
 * @example
 * ```ts
 * const line = (e: JobEventBase) => `#${e.seq} ${e.time.toISOString()} attempt ${e.attempt}`;
 * ```
 */
export interface JobEventBase {
  /** Position in the job's log: dense, from 1. Pass the last one you handled as `afterSeq` to resume. */
  seq: number;
  /** When the agent recorded it. */
  time: Date;
  /** The job it belongs to. */
  jobId: string;
  /** Which run of the job produced it: 1, then +1 for each resume. */
  attempt: number;
}

/**
 * One entry of a job's event log, discriminated by `type`.
 *
 * @example
 * ```ts
 * for await (const e of job.events()) {
 *   switch (e.type) {
 *     case 'batch': bar.update(e.iter / e.iters); break;
 *     case 'epochEnded': console.log(e.epoch, e.validLoss, e.metrics); break;
 *     case 'log': console.log(e.text); break;
 *   }
 * }
 * ```
 */
export type JobEvent =
  | (JobEventBase & {
      /** The job moved to another state. */
      type: 'state';
      /** The new state. */
      state: JobState;
      /** The state before; undefined for the first event. */
      previous: JobState | undefined;
      /** Why, in words (e.g. "cancelled by client"). */
      reason: string | undefined;
    })
  | (JobEventBase & { type: 'log' } & LogLine)
  | (JobEventBase & {
      /** A fastai fit began (fine_tune runs two). */
      type: 'fitStarted';
      /** 0 for the job's first fit, then 1, ... */
      fitIndex: number;
      /** Epochs in this fit. */
      epochs: number;
      /** First epoch it runs (non-zero when resumed from a checkpoint). */
      startEpoch: number;
      /** Batches per training epoch. */
      trainBatches: number;
      /** Batches per validation pass. */
      validBatches: number;
      /** Names of the metrics each epochEnded carries, in order. */
      metricNames: string[];
      /** Items in the training set. */
      trainItems: number;
      /** Items in the validation set. */
      validItems: number;
    })
  | (JobEventBase & {
      /** Progress inside an epoch (about 10 per second). */
      type: 'batch';
      /** Which fit it belongs to. */
      fitIndex: number;
      /** 0-based epoch within the fit. */
      epoch: number;
      /** Batches done in this phase, 1..iters. */
      iter: number;
      /** Batches in this phase. */
      iters: number;
      /** Training or validation. */
      phase: 'train' | 'valid';
      /** fastai's smoothed training loss (training batches only). */
      smoothLoss: number | undefined;
      /** Learning rate of the last parameter group. */
      lr: number | undefined;
      /** Throughput over the last interval, items per second. */
      itemsPerSecond: number;
    })
  | (JobEventBase & { type: 'epochEnded' } & EpochMetrics)
  | (JobEventBase & {
      /** The learning-rate finder is running (about 10 per second); it runs no epochs. */
      type: 'lrFindProgress';
      /** Iterations done, 1..iters. */
      iter: number;
      /** Iterations it runs at most (it stops early once the loss diverges). */
      iters: number;
      /** Learning rate of the last iteration. */
      lr: number;
      /** fastai's smoothed training loss after the last iteration. */
      smoothLoss: number | undefined;
    })
  | (JobEventBase & { type: 'lrFind' } & LrFindResult)
  | (JobEventBase & {
      /** A step other than training began, e.g. exporting the model; it lasts until the next event of its kind, a fit or the end. */
      type: 'phase';
      /** What runs, in words: "exporting the model", "interpreting results". */
      description: string;
    })
  | (JobEventBase & {
      /** GPU and host figures taken while the job ran. */
      type: 'stats';
      /** The reading. */
      sample: StatsSample;
    })
  | (JobEventBase & {
      /** The job wrote an artifact. */
      type: 'artifact';
      /** What it wrote. */
      artifact: ArtifactInfo;
    })
  | (JobEventBase & { type: 'interpretation' } & Interpretation)
  | (JobEventBase & {
      /** Something looks wrong but the job goes on. */
      type: 'warning';
      /** Stable machine name: "stalled", "bad_worker_output", "fp16_on_cpu", ... */
      code: string;
      /** What happened and what to do. */
      message: string;
      /** Figures when the warning was raised, if the agent had them. */
      stats: StatsSample | undefined;
    })
  | (JobEventBase & {
      /** Why the job failed; a `'failed'` state event follows. */
      type: 'error';
      /** The failure. */
      error: JobFailure;
    })
  | (JobEventBase & {
      /** Labels a predict job gave its inputs. */
      type: 'predictions';
      /** One per input, in input order. */
      predictions: Prediction[];
    });

/**
 * The `type` names of {@link JobEvent}.
 *
 * @example
 * ```ts
 * import type { JobEventType } from '@gpulink/sdk';
 * const quiet: JobEventType[] = ['batch', 'stats'];
 * ```
 */
export type JobEventType = JobEvent['type'];

/**
 * The {@link JobEvent} variant with a given `type`.
 *
 * @example
 * ```ts
 * import type { JobEventOf } from '@gpulink/sdk';
 * const onEpoch = (e: JobEventOf<'epochEnded'>) => console.log(e.metrics);
 * ```
 */
export type JobEventOf<T extends JobEventType> = Extract<JobEvent, { type: T }>;
