// A job as a whole: its state, the agent's record of it, and the summary folded from its events.
import type { JobTask } from '../job-options.js';
import type { EpochMetrics, Interpretation, JobFailure, LrFindResult, Prediction } from './job-results.js';
import type { ArtifactInfo } from './stored-files.js';

/**
 * Where a job is in its life. {@link isTerminalState} says which states a job does not leave by
 * itself; an interrupted job (the agent stopped while it ran) can be resumed.
 *
 * @example
 * ```ts
 * import type { JobState } from '@gpulink/sdk';
 * const waiting: JobState[] = ['queued', 'starting'];
 * const queue = await agent.jobs.list({ states: waiting });
 * ```
 */
export type JobState =
  | 'queued'
  | 'starting'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'interrupted';

/**
 * A job and what it has done so far, as the agent reports it.
 *
 * @example
 * ```ts
 * for (const j of await agent.jobs.list({ states: ['running'] })) {
 *   console.log(j.id, j.task.type, `${j.completedEpochs}/${j.totalEpochs}`);
 * }
 * ```
 */
export interface JobInfo {
  /** Agent-assigned id, e.g. "job_01JD3..."; ids sort by creation time. */
  id: string;
  /** The name given at submit (empty when none). */
  name: string;
  /** Labels given at submit. */
  tags: string[];
  /** What it runs, with the options it was submitted with. */
  task: JobTask;
  /** What it runs as the agent resolved it: `task` with every default filled in (what its worker gets). */
  resolvedTask: JobTask;
  /** GPUs it asked for; undefined: one when the agent has any, 0: the CPU. */
  gpuCount: number | undefined;
  /** Its run-time limit, milliseconds; undefined: none. */
  maxDurationMs: number | undefined;
  /** Its checkpoint policy; undefined: no checkpoints (it cannot be resumed from one). */
  checkpoint: { everyEpoch: boolean; keepLast: number } | undefined;
  /** Where it is in its life. */
  state: JobState;
  /** Why it was cancelled or interrupted, in words. */
  stateReason: string | undefined;
  /** When it was accepted. */
  createdAt: Date | undefined;
  /** When its current attempt's worker started (its `'starting'` event); a resume sets it again. */
  startedAt: Date | undefined;
  /** When it reached a terminal state; cleared when an interrupted job is queued to resume. */
  finishedAt: Date | undefined;
  /** Where it runs: "cpu" or "cuda:0" (empty while unassigned). */
  device: string;
  /** Jobs ahead of it in its device's queue. */
  queuePosition: number;
  /** seq of the newest event in its log. */
  lastSeq: number;
  /** Run number: 1, then +1 for each resume. */
  attempt: number;
  /** Epochs completed, counting every fit. */
  completedEpochs: number;
  /**
   * Epochs planned, counting every fit (0 until known): each `'fitStarted'` raises it to the epochs
   * completed so far plus those the fit has left; fine_tune's second fit raises it when it starts.
   */
  totalEpochs: number;
  /** The latest losses and metrics. */
  lastEpoch: EpochMetrics | undefined;
  /** Artifacts written so far. */
  artifacts: ArtifactInfo[];
  /** Why it failed; only for failed jobs. */
  error: JobFailure | undefined;
}

/**
 * What a job did, folded from its event log by {@link foldJobEvent}; {@link Job.wait} resolves with it
 * once the job finished. The fields it shares with {@link JobInfo} mean the same.
 *
 * @example
 * ```ts
 * const s = await job.wait();
 * console.log(s.state, s.epochs.at(-1)?.metrics, s.artifacts.map((a) => a.name));
 * ```
 */
export interface JobSummary {
  /** The job's id. */
  jobId: string;
  /** Where it is in its life; its terminal state once it finished. */
  state: JobState;
  /** Why it is in that state, in words, when the agent said. */
  stateReason: string | undefined;
  /** The attempt that ended. */
  attempt: number;
  /** As {@link JobInfo.startedAt}: when the last attempt's worker started. */
  startedAt: Date | undefined;
  /** As {@link JobInfo.finishedAt}: when it reached its terminal state. */
  finishedAt: Date | undefined;
  /** As {@link JobInfo.completedEpochs}: epochs completed, counting every fit. */
  completedEpochs: number;
  /** As {@link JobInfo.totalEpochs}: epochs planned, counting every fit (0 until known). */
  totalEpochs: number;
  /** Every finished epoch of every fit and attempt, in order. */
  epochs: EpochMetrics[];
  /** Every artifact it wrote (a rewritten name keeps its newest version, moved last). */
  artifacts: ArtifactInfo[];
  /** The learning-rate finder's result, for lrFind jobs (or training with `lr: 'find'`). */
  lrFind: LrFindResult | undefined;
  /** Validation results of a classifier. */
  interpretation: Interpretation | undefined;
  /** The labels of a predict job. */
  predictions: Prediction[] | undefined;
  /** Warnings raised while it ran. */
  warnings: { code: string; message: string }[];
  /** Why it failed; only for failed jobs. */
  error: JobFailure | undefined;
  /** seq of the last event read. */
  lastSeq: number;
}
