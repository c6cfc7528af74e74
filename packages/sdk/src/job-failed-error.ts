// A job that ended other than succeeded, as job.wait() rejects with it. Apart from errors.ts so that
// module stays a leaf: this one needs the job types, errors.ts needs nothing of the SDK.
import { GpulinkError, type StatusName } from './errors.js';
import type { JobFailure, JobState, JobSummary } from './types.js';

/**
 * Thrown by {@link Job.wait} when a job ends in any state but `'succeeded'`. `failure` carries the
 * agent's account of a failed job (exception, traceback, the last stats and log lines); `summary`
 * holds everything the job did before it ended, so a caller can still show its epochs.
 *
 * The code says what kind of ending it was: `'CANCELLED'` for a cancelled job, `'UNAVAILABLE'` for one
 * interrupted by an agent restart (resume it with {@link Job.resume}), `'RESOURCE_EXHAUSTED'` when CUDA
 * ran out of memory, `'DEADLINE_EXCEEDED'` for a job timeout, `'FAILED_PRECONDITION'` when the worker
 * could not start or the data could not be loaded, and `'ABORTED'` for any other failure.
 *
 * @example
 * ```ts
 * import { JobFailedError } from '@gpulink/sdk';
 * try {
 *   await job.wait();
 * } catch (e) {
 *   if (e instanceof JobFailedError) console.error(e.failure?.traceback ?? e.message);
 *   else throw e;
 * }
 * ```
 */
export class JobFailedError extends GpulinkError {
  static override readonly kind: string = 'JobFailedError';

  /** The job's id. */
  readonly jobId: string;
  /** The terminal state it reached. */
  readonly state: JobState;
  /** Why it failed, as the agent recorded it; absent for cancelled and interrupted jobs. */
  readonly failure: JobFailure | undefined;
  /** What the job did before it ended. */
  readonly summary: JobSummary;

  constructor(summary: JobSummary) {
    const failure = summary.error;
    super(jobEndCode(summary.state, failure), jobEndDetails(summary), { method: 'JobService.WatchJob' });
    this.jobId = summary.jobId;
    this.state = summary.state;
    this.failure = failure;
    this.summary = summary;
  }
}

function jobEndCode(state: JobState, failure: JobFailure | undefined): StatusName {
  if (state === 'cancelled') return 'CANCELLED';
  if (state === 'interrupted') return 'UNAVAILABLE';
  switch (failure?.kind) {
    case 'cudaOutOfMemory':
      return 'RESOURCE_EXHAUSTED';
    case 'timeout':
      return 'DEADLINE_EXCEEDED';
    case 'workerStart':
    case 'data':
      return 'FAILED_PRECONDITION';
    default:
      return 'ABORTED';
  }
}

function jobEndDetails(summary: JobSummary): string {
  const reason = summary.error
    ? [summary.error.exceptionType, summary.error.message].filter(Boolean).join(': ')
    : summary.stateReason;
  const hint = summary.state === 'interrupted' ? ' (resume it with job.resume())' : '';
  return `job ${summary.jobId} ${summary.state}${reason ? `: ${reason}` : ''}${hint}`;
}

/**
 * True for the error {@link Job.wait} throws when the job did not succeed.
 *
 * @example
 * ```ts
 * import { isJobFailed } from '@gpulink/sdk';
 * const summary = await job.wait().catch((e) => (isJobFailed(e) ? e.summary : Promise.reject(e)));
 * ```
 */
export function isJobFailed(error: unknown): error is JobFailedError {
  return error instanceof JobFailedError;
}
