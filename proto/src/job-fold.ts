/**
 * The one fold of a job's events into what a job has done so far. The agent keeps each job's `Job`
 * record with it, the SDK builds `JobSummary` with it, and the CLI's view builds on the SDK's, so a
 * field such as `started_at` means the same wherever it is shown. What each field means is written
 * once, on `Job` in job.proto.
 */
import {
  type Artifact,
  type EpochEnded,
  type JobError,
  type JobEvent,
  JobState,
} from './gen/gpulink/v1/events.js';
import type { Job } from './gen/gpulink/v1/job.js';

/** The states a job does not leave by itself (an interrupted job leaves it only when resumed). */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
  JobState.JOB_STATE_INTERRUPTED,
]);

/** True for the states in {@link TERMINAL_JOB_STATES}. */
export const isTerminalJobState = (state: JobState): boolean => TERMINAL_JOB_STATES.has(state);

/**
 * The fields of a job that its events decide, in whichever form a side of the wire keeps them:
 * `Epoch`, `Artifact` and `Failure` are the wire messages on the agent and the SDK's types in the SDK.
 */
export interface JobProgress<Epoch, Artifact extends { name: string }, Failure> {
  state: JobState;
  stateReason: string;
  attempt: number;
  lastSeq: number;
  startedAt?: Date | undefined;
  finishedAt?: Date | undefined;
  completedEpochs: number;
  totalEpochs: number;
  lastEpoch?: Epoch | undefined;
  artifacts: Artifact[];
  error?: Failure | undefined;
}

/** What the fold reads of one event; events that change none of {@link JobProgress} are `other`. */
export type JobProgressStep<Epoch, Artifact extends { name: string }, Failure> = {
  seq: number;
  time: Date | undefined;
  attempt: number;
} & (
  | { type: 'state'; state: JobState; reason: string }
  | { type: 'fitStarted'; epochs: number; startEpoch: number }
  | { type: 'epochEnded'; completedEpochs: number; epoch: Epoch }
  | { type: 'artifact'; artifact: Artifact }
  | { type: 'error'; error: Failure }
  | { type: 'other' }
);

/**
 * The fields one event changes, given the job so far. Pure: apply the result with `Object.assign` to
 * keep one record current, or spread it into a new object where state must not be mutated (React).
 */
export function jobProgressChanges<Epoch, Artifact extends { name: string }, Failure>(
  job: JobProgress<Epoch, Artifact, Failure>,
  step: JobProgressStep<Epoch, Artifact, Failure>,
): Partial<JobProgress<Epoch, Artifact, Failure>> {
  const changes: Partial<JobProgress<Epoch, Artifact, Failure>> = {
    lastSeq: step.seq,
    attempt: Math.max(job.attempt, step.attempt),
  };
  switch (step.type) {
    case 'state':
      changes.state = step.state;
      changes.stateReason = step.reason;
      // Queued again after the first event: a resume, whose attempt starts with a clean slate.
      if (step.state === JobState.JOB_STATE_QUEUED && step.seq > 1) {
        changes.finishedAt = undefined;
        changes.error = undefined;
      }
      if (step.state === JobState.JOB_STATE_STARTING) changes.startedAt = step.time;
      if (isTerminalJobState(step.state)) changes.finishedAt = step.time;
      break;
    case 'fitStarted':
      // fine_tune announces its second fit only when it starts; the total grows then.
      changes.totalEpochs = Math.max(job.totalEpochs, job.completedEpochs + step.epochs - step.startEpoch);
      break;
    case 'epochEnded':
      changes.lastEpoch = step.epoch;
      changes.completedEpochs = step.completedEpochs;
      break;
    case 'artifact': {
      const name = step.artifact.name;
      changes.artifacts = [...job.artifacts.filter((a) => a.name !== name), step.artifact];
      break;
    }
    case 'error':
      changes.error = step.error;
      break;
    default:
      break;
  }
  return changes;
}

/** Reads a wire event as a {@link JobProgressStep}. */
export function wireJobProgressStep(event: JobEvent): JobProgressStep<EpochEnded, Artifact, JobError> {
  const base = { seq: event.seq, time: event.time, attempt: event.attempt };
  const kind = event.kind;
  switch (kind?.$case) {
    case 'stateChanged':
      return { ...base, type: 'state', state: kind.value.state, reason: kind.value.reason };
    case 'fitStarted':
      return { ...base, type: 'fitStarted', epochs: kind.value.nEpoch, startEpoch: kind.value.startEpoch };
    case 'epochEnded':
      return { ...base, type: 'epochEnded', completedEpochs: kind.value.completedEpochs, epoch: kind.value };
    case 'artifact':
      return { ...base, type: 'artifact', artifact: kind.value };
    case 'error':
      return { ...base, type: 'error', error: kind.value };
    default:
      return { ...base, type: 'other' };
  }
}

/**
 * Folds one wire event into a job's record, in place. The event log is the source of truth: the agent
 * rebuilds a job from its log at start-up with this and keeps it current while it runs, so the two
 * can never disagree.
 */
export function applyJobEvent(job: Job, event: JobEvent): void {
  Object.assign(job, jobProgressChanges(job, wireJobProgressStep(event)));
}
