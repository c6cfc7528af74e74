import { randomUUID } from 'node:crypto';
import type { DataServiceClient, JobServiceClient } from '@gpulink/proto';
import { type ArtifactsApi, createArtifactsApi } from './artifacts.js';
import { jobInfo, jobStateToProto } from './convert.js';
import { GpulinkError } from './errors.js';
import { type JobEventsOptions, watchJobEvents } from './job-events.js';
import { JobFailedError } from './job-failed-error.js';
import { gpuCountFor } from './job-gpus.js';
import type { JobOptions, JobTask } from './job-options.js';
import { toJobSpec } from './job-spec.js';
import { emptyJobSummary, foldJobEvent, isTerminalState } from './job-summary.js';
import {
  type CallContext,
  type CallOptions,
  limitsOf,
  type RetryPolicy,
  unary,
  unaryWithRetry,
} from './rpc.js';
import type { AgentInfo, JobEvent, JobInfo, JobState, JobSummary } from './types.js';

/**
 * Options of {@link Job.wait}.
 *
 * @example
 * ```ts
 * const summary = await job.wait({ onEvent: (e) => e.type === 'log' && console.log(e.text) });
 * ```
 */
export interface WaitOptions extends CallOptions {
  /** Sees every event on the way, in order, so a caller can show progress and get the summary in one pass. */
  onEvent?: (event: JobEvent) => void;
  /** As in {@link JobEventsOptions.retry}. */
  retry?: RetryPolicy | false;
}

/**
 * Options of {@link Job.cancel}.
 *
 * @example
 * ```ts
 * await job.cancel({ reason: 'superseded by sweep-4' });
 * ```
 */
export interface CancelOptions extends CallOptions {
  /** Why, recorded in the job's log. @default 'cancelled by client' */
  reason?: string;
}

/**
 * A handle on one job: follow it, wait for it, cancel or resume it, fetch what it wrote.
 *
 * @example
 * ```ts
 * const job = await agent.trainVision({ data: { fastaiUrl: 'MNIST_SAMPLE' }, epochs: 1 });
 * for await (const e of job.events()) {
 *   if (e.type === 'epochEnded') console.log(`epoch ${e.epoch}: ${e.metrics.accuracy}`);
 * }
 * const summary = await job.wait();
 * await job.artifacts.download('export.pkl', './export.pkl');
 * ```
 */
export interface Job {
  /** The job's id. */
  readonly id: string;
  /** The job as last seen (at submit, `get`, `refresh`, `cancel` or `resume`). */
  readonly info: JobInfo;
  /** Fetches the job's current state. */
  refresh(options?: CallOptions): Promise<JobInfo>;
  /**
   * The job's events in order, replayed from the agent's durable log and then live, ending after the
   * job's final state (`'succeeded'`, `'failed'`, `'cancelled'`; an `'interrupted'` job's stream ends
   * too unless it is resumed meanwhile). A dropped connection or an agent restart is retried with
   * backoff from the last event delivered, so each event arrives exactly once. A try that gets no
   * event through before its connection drops asks the agent for smaller messages; after
   * `retry.maxAttempts` tries in a row that make no progress it throws. Breaking out of the loop
   * cancels the stream.
   */
  events(options?: JobEventsOptions): AsyncIterable<JobEvent>;
  /**
   * Follows the job to its end and resolves with what it did, or rejects with a {@link JobFailedError}
   * (carrying the same summary and the failure detail) when it did not succeed.
   */
  wait(options?: WaitOptions): Promise<JobSummary>;
  /** Asks the job to stop: a queued job is cancelled at once, a running one within about one batch. */
  cancel(options?: CancelOptions): Promise<JobInfo>;
  /** Continues an interrupted job from its last checkpoint (attempt + 1). */
  resume(options?: CallOptions): Promise<JobInfo>;
  /** The files the job wrote. */
  readonly artifacts: ArtifactsApi;
}

/**
 * Options of {@link JobsApi.list}.
 *
 * @example
 * ```ts
 * const running = await agent.jobs.list({ states: ['queued', 'running'], tags: ['sweep-3'] });
 * ```
 */
export interface ListJobsOptions {
  /** Only jobs in these states. @default all */
  states?: JobState[];
  /** Only jobs carrying every one of these tags. */
  tags?: string[];
  /** Most jobs to return, newest first. @default 50 */
  limit?: number;
}

/**
 * `agent.jobs`: jobs by id.
 *
 * @example
 * ```ts
 * const job = await agent.jobs.get('job_01JD3');
 * if (job.info.state === 'interrupted') await agent.jobs.resume(job.id);
 * ```
 */
export interface JobsApi {
  /** A handle on an existing job; `NOT_FOUND` when the id is unknown. */
  get(jobId: string, options?: CallOptions): Promise<Job>;
  /** Jobs, newest first. */
  list(filter?: ListJobsOptions, options?: CallOptions): Promise<JobInfo[]>;
  /** Asks a job to stop; `FAILED_PRECONDITION` when it already finished. */
  cancel(jobId: string, options?: CancelOptions): Promise<JobInfo>;
  /** Continues an interrupted job; `FAILED_PRECONDITION` when it is not interrupted. */
  resume(jobId: string, options?: CallOptions): Promise<Job>;
  /**
   * Removes a finished job with its log and artifacts, all or nothing. `FAILED_PRECONDITION` while it
   * is queued or running (cancel it first), `NOT_FOUND` when the id is unknown.
   *
   * @example
   * ```ts
   * for (const j of await agent.jobs.list({ states: ['failed'] })) await agent.jobs.delete(j.id);
   * ```
   */
  delete(jobId: string, options?: CallOptions): Promise<void>;
}

class JobHandle implements Job {
  readonly artifacts: ArtifactsApi;
  private current: JobInfo;

  constructor(
    private readonly ctx: CallContext,
    private readonly client: JobServiceClient,
    data: DataServiceClient,
    info: JobInfo,
  ) {
    this.current = info;
    this.artifacts = createArtifactsApi(ctx, data, info.id);
  }

  get id(): string {
    return this.current.id;
  }

  get info(): JobInfo {
    return this.current;
  }

  async refresh(options?: CallOptions): Promise<JobInfo> {
    const response = await unaryWithRetry(
      this.ctx,
      'JobService.GetJob',
      this.client.getJob.bind(this.client),
      { jobId: this.id },
      limitsOf(options),
    );
    this.current = jobInfo(response.job);
    return this.current;
  }

  events(options?: JobEventsOptions): AsyncIterable<JobEvent> {
    return watchJobEvents(this.ctx, this.client, this.id, options);
  }

  async wait(options: WaitOptions = {}): Promise<JobSummary> {
    const { onEvent, ...rest } = options;
    let summary = emptyJobSummary(this.id);
    for await (const event of watchJobEvents(this.ctx, this.client, this.id, { ...rest, afterSeq: 0 })) {
      summary = foldJobEvent(summary, event);
      onEvent?.(event);
    }
    if (!isTerminalState(summary.state)) {
      throw new GpulinkError(
        'INTERNAL',
        `job ${this.id}'s event stream ended in state '${summary.state}' before the job finished`,
        { method: 'JobService.WatchJob' },
      );
    }
    if (summary.state !== 'succeeded') throw new JobFailedError(summary);
    return summary;
  }

  async cancel(options: CancelOptions = {}): Promise<JobInfo> {
    this.current = await cancelJob(this.ctx, this.client, this.id, options);
    return this.current;
  }

  async resume(options?: CallOptions): Promise<JobInfo> {
    this.current = await resumeJob(this.ctx, this.client, this.id, options);
    return this.current;
  }
}

async function cancelJob(
  ctx: CallContext,
  client: JobServiceClient,
  jobId: string,
  options: CancelOptions,
): Promise<JobInfo> {
  const response = await unary(
    ctx,
    'JobService.CancelJob',
    client.cancelJob.bind(client),
    { jobId, reason: options.reason ?? 'cancelled by client' },
    limitsOf(options),
  );
  return jobInfo(response.job);
}

async function resumeJob(
  ctx: CallContext,
  client: JobServiceClient,
  jobId: string,
  options: CallOptions | undefined,
): Promise<JobInfo> {
  const response = await unary(
    ctx,
    'JobService.ResumeJob',
    client.resumeJob.bind(client),
    { jobId },
    limitsOf(options),
  );
  return jobInfo(response.job);
}

/** @internal */
export interface JobClients {
  ctx: CallContext;
  jobs: JobServiceClient;
  data: DataServiceClient;
  /** The agent's GetInfo from connect: its GPUs, for a job's `gpus`. */
  info: () => AgentInfo;
}

/**
 * Submits a task. The idempotency key makes the SDK's retries after a dropped connection return the
 * job the first try created instead of queueing it twice.
 * @internal
 */
export async function submitJob(
  clients: JobClients,
  task: Exclude<JobTask, { type: 'unknown' }>,
  jobOptions: JobOptions,
  options: CallOptions | undefined,
): Promise<Job> {
  const gpus = gpuCountFor(jobOptions.gpus, clients.info());
  const spec = toJobSpec(task, { ...jobOptions, gpus });
  const idempotencyKey = jobOptions.idempotencyKey ?? randomUUID();
  const response = await unaryWithRetry(
    clients.ctx,
    'JobService.SubmitJob',
    clients.jobs.submitJob.bind(clients.jobs),
    { spec, idempotencyKey },
    limitsOf(options),
    { maxAttempts: 5 },
  );
  return new JobHandle(clients.ctx, clients.jobs, clients.data, jobInfo(response.job));
}

/** @internal */
export function createJobsApi(clients: JobClients): JobsApi {
  const { ctx, jobs, data } = clients;
  return {
    async get(jobId, options) {
      const response = await unaryWithRetry(
        ctx,
        'JobService.GetJob',
        jobs.getJob.bind(jobs),
        { jobId },
        limitsOf(options),
      );
      return new JobHandle(ctx, jobs, data, jobInfo(response.job));
    },
    async list(filter = {}, options) {
      const limits = limitsOf(options);
      const limit = filter.limit ?? 50;
      const states = (filter.states ?? []).map(jobStateToProto);
      const out: JobInfo[] = [];
      let pageToken = '';
      do {
        const page = await unaryWithRetry(
          ctx,
          'JobService.ListJobs',
          jobs.listJobs.bind(jobs),
          {
            pageSize: Math.min(1000, Math.max(1, limit - out.length)),
            pageToken,
            states,
            tags: filter.tags ?? [],
          },
          limits,
        );
        out.push(...page.jobs.map(jobInfo));
        pageToken = page.nextPageToken;
      } while (pageToken && out.length < limit);
      return out.slice(0, limit);
    },
    cancel: (jobId, options = {}) => cancelJob(ctx, jobs, jobId, options),
    async resume(jobId, options) {
      const info = await resumeJob(ctx, jobs, jobId, options);
      return new JobHandle(ctx, jobs, data, info);
    },
    async delete(jobId, options) {
      await unary(ctx, 'JobService.DeleteJob', jobs.deleteJob.bind(jobs), { jobId }, limitsOf(options));
    },
  };
}
