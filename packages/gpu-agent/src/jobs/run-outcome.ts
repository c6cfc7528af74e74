import { ErrorKind, type JobError, JobState } from '@gpulink/proto';
import type { WorkerExit } from './worker-process.js';
import type { WorkerOutcome } from './worker-protocol.js';

/**
 * Why the agent is stopping a run, set when it asks the worker to stop. A run is stopped at most once
 * (the cancel line and the grace kill are sent once), but a timeout outranks a cancel still under way.
 */
export type RunStop =
  | { kind: 'none' }
  | { kind: 'cancelled'; reason: string }
  | { kind: 'timedOut'; reason: string };

/** An error the agent adds to a job's log, before its post-mortem is attached. */
export type ErrorReport = Partial<JobError> & { kind: ErrorKind; message: string };

/** What is known once a run's worker has exited and its output is in the log. */
export interface RunFacts {
  /** The job's log failed: LiveJob already made it FAILED, and nothing more can be written. */
  logFailed: boolean;
  /** The agent is shutting down, and stopped the worker for that. */
  agentStopping: boolean;
  stop: RunStop;
  /** What the worker's `done` line said, if it sent one. */
  outcome: WorkerOutcome | undefined;
  /** An error event is in the log for this attempt (the worker's, or the agent's when it could not start). */
  errorLogged: boolean;
  exit: WorkerExit;
  /** The worker's last lines on stderr, to explain an exit it did not report. */
  stderrTail: string;
}

/** How a run ends in the log: its terminal state, after `error` when the agent has one to add. */
export type RunEnd =
  | { kind: 'unlogged' }
  | { kind: 'ended'; state: JobState; reason: string; error?: ErrorReport };

/** Decides a run's terminal state from how it was stopped and how its worker ended. */
export function howRunEnded(facts: RunFacts): RunEnd {
  const { stop, outcome, exit } = facts;
  if (facts.logFailed) return { kind: 'unlogged' };
  if (facts.agentStopping) {
    return ended(JobState.JOB_STATE_INTERRUPTED, 'the agent shut down while the job was running');
  }
  if (stop.kind === 'timedOut') {
    return failed({ kind: ErrorKind.ERROR_KIND_TIMEOUT, message: stop.reason });
  }
  // A cancel decides, unless the worker logged its own error and exited by itself without saying it
  // was cancelled: then how it ended stands.
  if (stop.kind === 'cancelled' && (outcome === 'cancelled' || exit.signal || !facts.errorLogged)) {
    return ended(JobState.JOB_STATE_CANCELLED, stop.reason);
  }
  if (exit.code === 0 && outcome === 'succeeded') return ended(JobState.JOB_STATE_SUCCEEDED, '');
  if (exit.code === 0 && outcome === 'cancelled') return ended(JobState.JOB_STATE_CANCELLED, 'cancelled');
  if (facts.errorLogged) return ended(JobState.JOB_STATE_FAILED, '');
  if (exit.signal) {
    return failed({
      kind: ErrorKind.ERROR_KIND_KILLED,
      message: `the worker was killed by ${exit.signal}${exit.signal === 'SIGKILL' ? ' (often the kernel out-of-memory killer)' : ''}`,
      signal: exit.signal,
    });
  }
  return failed({
    kind: ErrorKind.ERROR_KIND_WORKER_EXIT,
    message: `the worker exited with code ${exit.code} without reporting an error: ${facts.stderrTail || 'no output'}`,
    exitCode: exit.code ?? undefined,
  });
}

const ended = (state: JobState, reason: string): RunEnd => ({ kind: 'ended', state, reason });
const failed = (error: ErrorReport): RunEnd => ({
  kind: 'ended',
  state: JobState.JOB_STATE_FAILED,
  reason: '',
  error,
});
