// A job's summary, folded from its events. The fields a job's record on the agent also has (state,
// startedAt, epochs done and planned, artifacts, error, ...) come from the one fold in @gpulink/proto
// that the agent keeps its records with, so `job.wait()`, `job.refresh()` and the CLI agree on them.
import {
  isTerminalJobState,
  type JobProgress,
  type JobProgressStep,
  jobProgressChanges,
} from '@gpulink/proto';
import { jobState, jobStateToProto } from './convert.js';
import type { ArtifactInfo, EpochMetrics, JobEvent, JobFailure, JobState, JobSummary } from './types.js';

type Progress = JobProgress<EpochMetrics, ArtifactInfo, JobFailure>;
type Step = JobProgressStep<EpochMetrics, ArtifactInfo, JobFailure>;

/**
 * True for the states a job does not leave by itself: `'succeeded'`, `'failed'`, `'cancelled'` and
 * `'interrupted'` (which a resume leaves).
 *
 * @example
 * ```ts
 * import { isTerminalState } from '@gpulink/sdk';
 * const info = await job.refresh();
 * if (isTerminalState(info.state)) console.log('finished');
 * ```
 */
export function isTerminalState(state: JobState): boolean {
  return isTerminalJobState(jobStateToProto(state));
}

/**
 * The summary of a job before any of its events, to start {@link foldJobEvent} from.
 *
 * @example
 * ```ts
 * import { emptyJobSummary, foldJobEvent } from '@gpulink/sdk';
 * let summary = emptyJobSummary(job.id);
 * for await (const e of job.events()) summary = foldJobEvent(summary, e);
 * ```
 */
export function emptyJobSummary(jobId: string): JobSummary {
  return {
    jobId,
    state: 'queued',
    stateReason: undefined,
    attempt: 1,
    startedAt: undefined,
    finishedAt: undefined,
    completedEpochs: 0,
    totalEpochs: 0,
    epochs: [],
    artifacts: [],
    lrFind: undefined,
    interpretation: undefined,
    predictions: undefined,
    warnings: [],
    error: undefined,
    lastSeq: 0,
  };
}

function epochMetricsOf(event: JobEvent & { type: 'epochEnded' }): EpochMetrics {
  const { seq: _s, time: _t, jobId: _j, attempt: _a, type: _type, ...metrics } = event;
  return metrics;
}

function stepOf(event: JobEvent): Step {
  const base = { seq: event.seq, time: event.time, attempt: event.attempt };
  switch (event.type) {
    case 'state':
      return { ...base, type: 'state', state: jobStateToProto(event.state), reason: event.reason ?? '' };
    case 'fitStarted':
      return { ...base, type: 'fitStarted', epochs: event.epochs, startEpoch: event.startEpoch };
    case 'epochEnded':
      return {
        ...base,
        type: 'epochEnded',
        completedEpochs: event.completedEpochs,
        epoch: epochMetricsOf(event),
      };
    case 'artifact':
      return { ...base, type: 'artifact', artifact: event.artifact };
    case 'error':
      return { ...base, type: 'error', error: event.error };
    default:
      return { ...base, type: 'other' };
  }
}

function progressOf(s: JobSummary): Progress {
  return {
    state: jobStateToProto(s.state),
    stateReason: s.stateReason ?? '',
    attempt: s.attempt,
    lastSeq: s.lastSeq,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    completedEpochs: s.completedEpochs,
    totalEpochs: s.totalEpochs,
    lastEpoch: s.epochs.at(-1),
    artifacts: s.artifacts,
    error: s.error,
  };
}

/**
 * Folds one event into a job's summary and returns the new summary; the one passed in is left as it
 * was (React state can hold it). An event at or before the summary's `lastSeq` is already in it and
 * changes nothing, so a stream picked up again can be folded from where it left off. Extra fields of
 * `summary` (a view's own display state) are carried over.
 *
 * @example
 * ```ts
 * import { emptyJobSummary, foldJobEvent } from '@gpulink/sdk';
 * let summary = emptyJobSummary(job.id);
 * for await (const e of job.events()) {
 *   summary = foldJobEvent(summary, e);
 *   console.log(`${summary.state}: ${summary.completedEpochs}/${summary.totalEpochs} epochs`);
 * }
 * ```
 */
export function foldJobEvent<S extends JobSummary>(summary: S, event: JobEvent): S {
  if (event.seq <= summary.lastSeq) return summary;
  const {
    state,
    stateReason,
    lastEpoch: _last,
    ...changes
  } = jobProgressChanges(progressOf(summary), stepOf(event));
  const next: S = { ...summary, ...changes };
  if (state !== undefined) next.state = jobState(state);
  if (stateReason !== undefined) next.stateReason = stateReason || undefined;
  // What only the summary keeps: every epoch (the record keeps the last), and the results of tasks.
  switch (event.type) {
    case 'epochEnded':
      next.epochs = [...summary.epochs, epochMetricsOf(event)];
      break;
    case 'lrFind':
      next.lrFind = { lrs: event.lrs, losses: event.losses, suggestions: event.suggestions };
      break;
    case 'interpretation':
      next.interpretation = {
        classes: event.classes,
        confusionMatrix: event.confusionMatrix,
        mostConfused: event.mostConfused,
      };
      break;
    case 'predictions':
      // A large predict job reports its predictions over several events, in input order.
      next.predictions = [...(summary.predictions ?? []), ...event.predictions];
      break;
    case 'warning':
      next.warnings = [...summary.warnings, { code: event.code, message: event.message }];
      break;
    default:
      break;
  }
  return next;
}
