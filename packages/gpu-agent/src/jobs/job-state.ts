import { type Job, type JobEvent, JobState } from '@gpulink/proto';

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
  JobState.JOB_STATE_INTERRUPTED,
]);

export const isTerminal = (state: JobState): boolean => TERMINAL_STATES.has(state);

/**
 * Folds one event into the job's summary. The event log is the source of truth: the same function
 * rebuilds a job from its log at start-up and keeps it current while it runs, so the two can never
 * disagree.
 */
export function applyEvent(job: Job, event: JobEvent): void {
  job.lastSeq = event.seq;
  job.attempt = Math.max(job.attempt, event.attempt);
  const kind = event.kind;
  if (!kind) return;
  switch (kind.$case) {
    case 'stateChanged': {
      const state = kind.value.state;
      job.state = state;
      job.stateReason = kind.value.reason;
      if (state === JobState.JOB_STATE_QUEUED && event.seq > 1) {
        job.finishedAt = undefined;
        job.error = undefined;
      }
      if (state === JobState.JOB_STATE_STARTING) job.startedAt = event.time;
      if (isTerminal(state)) job.finishedAt = event.time;
      break;
    }
    case 'fitStarted':
      // fine_tune announces its second fit only when it starts; the total grows then.
      job.totalEpochs = Math.max(
        job.totalEpochs,
        job.completedEpochs + kind.value.nEpoch - kind.value.startEpoch,
      );
      break;
    case 'epochEnded':
      job.lastEpoch = kind.value;
      job.completedEpochs = kind.value.completedEpochs;
      break;
    case 'artifact': {
      const others = job.artifacts.filter((a) => a.name !== kind.value.name);
      job.artifacts = [...others, kind.value];
      break;
    }
    case 'error':
      job.error = kind.value;
      break;
    default:
      break;
  }
}
