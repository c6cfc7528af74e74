import { randomUUID } from 'node:crypto';
import type { DataServiceClient, JobServiceClient } from '@gpulink/proto';
import { type ArtifactsApi, createArtifactsApi } from './artifacts.js';
import { jobEvent, jobInfo, jobStateToProto } from './convert.js';
import { GpulinkError, toGpulinkError } from './errors.js';
import { JobFailedError } from './job-failed-error.js';
import type { JobOptions, JobTask } from './job-options.js';
import { toJobSpec } from './job-spec.js';
import {
  backoffDelay,
  type CallContext,
  type CallOptions,
  defaultRetry,
  limitsOf,
  type OperationLimits,
  type RetryPolicy,
  serverStream,
  sleep,
  unary,
  unaryWithRetry,
} from './rpc.js';
import { isTerminalState, type JobEvent, type JobInfo, type JobState, type JobSummary } from './types.js';

/**
 * Options of {@link Job.events}.
 *
 * @example
 * ```ts
 * for await (const e of job.events({ afterSeq: lastSeenSeq, retry: { maxAttempts: 20 } })) {
 *   lastSeenSeq = e.seq;
 * }
 * ```
 */
export interface JobEventsOptions extends CallOptions {
  /** Start after this seq (0: from the first event). Pass the last seq you handled to pick up later. @default 0 */
  afterSeq?: number;
  /** Stop after the events logged so far instead of following the job live. @default false */
  replayOnly?: boolean;
  /**
   * How to resume after a dropped connection or an agent restart; `false` fails on the first drop.
   * @default { maxAttempts: 10, initialDelayMs: 250, maxDelayMs: 5000 }
   */
  retry?: RetryPolicy | false;
}

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
 * const job = await agent.train.vision({ data: { fastaiUrl: 'MNIST_SAMPLE' }, epochs: 1 });
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
}

/**
 * Folds a job's events into its summary; also the source of truth for what `wait()` resolves with.
 * @internal
 */
export class JobSummaryBuilder {
  private readonly summary: JobSummary;
  private readonly artifacts = new Map<string, JobSummary['artifacts'][number]>();
  private terminal = false;

  constructor(jobId: string) {
    this.summary = {
      jobId,
      state: 'queued',
      stateReason: undefined,
      attempt: 1,
      startedAt: undefined,
      finishedAt: undefined,
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

  add(event: JobEvent): void {
    const s = this.summary;
    s.lastSeq = event.seq;
    s.attempt = event.attempt;
    switch (event.type) {
      case 'state':
        s.state = event.state;
        s.stateReason = event.reason;
        this.terminal = isTerminalState(event.state);
        if (event.state === 'running') s.startedAt ??= event.time;
        if (this.terminal) s.finishedAt = event.time;
        else s.finishedAt = undefined;
        if (event.state === 'queued' && event.previous === 'interrupted') s.error = undefined;
        break;
      case 'epochEnded': {
        const { seq: _s, time: _t, jobId: _j, attempt: _a, type: _type, ...metrics } = event;
        s.epochs.push(metrics);
        break;
      }
      case 'artifact':
        this.artifacts.set(event.artifact.name, event.artifact);
        break;
      case 'lrFind':
        s.lrFind = { lrs: event.lrs, losses: event.losses, suggestions: event.suggestions };
        break;
      case 'interpretation':
        s.interpretation = {
          classes: event.classes,
          confusionMatrix: event.confusionMatrix,
          mostConfused: event.mostConfused,
        };
        break;
      case 'predictions':
        // A large predict job reports its predictions over several events, in input order.
        s.predictions = [...(s.predictions ?? []), ...event.predictions];
        break;
      case 'warning':
        s.warnings.push({ code: event.code, message: event.message });
        break;
      case 'error':
        s.error = event.error;
        break;
      default:
        break;
    }
  }

  /** True once the job reached a state it does not leave by itself. */
  get finished(): boolean {
    return this.terminal;
  }

  result(): JobSummary {
    return { ...this.summary, artifacts: [...this.artifacts.values()], epochs: [...this.summary.epochs] };
  }
}

/**
 * Errors after which watching again may succeed: the connection dropped or the agent restarted. grpc-js
 * reports a reset HTTP/2 stream from a proxy as INTERNAL, so that one counts too.
 * @internal
 */
export function isResumable(error: GpulinkError): boolean {
  if (error.code === 'UNAVAILABLE') return true;
  return error.code === 'INTERNAL' && /RST_STREAM|stream closed|protocol error/i.test(error.details);
}

/** Consecutive failures are forgiven after a try that stayed connected this long without any event. */
const connectedLongEnoughMs = 10_000;

/**
 * The message bound (WatchJobRequest.max_message_bytes) asked for once a stream was cut after the
 * agent answered but before any event got through, halved after each such try down to the least.
 * 0 leaves it to the agent, whose own first messages are a few KiB.
 */
const firstSmallerMessageBytes = 2048;
const smallestMessageBytes = 512;

/** The next, smaller message bound after a try that got nothing through; undefined at the least. */
function smallerMessageBound(current: number): number | undefined {
  if (current === 0) return firstSmallerMessageBytes;
  return current > smallestMessageBytes ? Math.max(smallestMessageBytes, current / 2) : undefined;
}

/**
 * The resuming event stream behind {@link Job.events}.
 * @internal
 */
export async function* watchJobEvents(
  ctx: CallContext,
  client: JobServiceClient,
  jobId: string,
  options: JobEventsOptions = {},
): AsyncGenerator<JobEvent, void, undefined> {
  const method = 'JobService.WatchJob';
  const limits: OperationLimits = limitsOf(options);
  const policy = options.retry === false ? { maxAttempts: 1 } : { ...defaultRetry, ...options.retry };
  const replayOnly = options.replayOnly ?? false;
  let afterSeq = options.afterSeq ?? 0;
  if (!Number.isInteger(afterSeq) || afterSeq < 0) {
    throw new GpulinkError('INVALID_ARGUMENT', `afterSeq must be a whole number >= 0, got ${afterSeq}`, {
      method,
    });
  }
  let failures = 0;
  let maxMessageBytes = 0;
  for (;;) {
    const startedAt = Date.now();
    const startSeq = afterSeq;
    let reachedAgent = false;
    try {
      const stream = serverStream(
        ctx,
        method,
        (m, o) => client.watchJob({ jobId, afterSeq, replayOnly, maxMessageBytes }, m, o),
        limits,
        { onHeaders: () => (reachedAgent = true) },
      );
      for await (const { events } of stream) {
        for (const event of events) {
          if (event.seq <= afterSeq) continue;
          if (event.seq !== afterSeq + 1) {
            throw new GpulinkError(
              'DATA_LOSS',
              `job ${jobId}: the agent sent event seq ${event.seq} after seq ${afterSeq}; the log should be dense`,
              { method },
            );
          }
          afterSeq = event.seq;
          failures = 0;
          const mapped = jobEvent(event);
          if (mapped === undefined) continue;
          yield mapped;
          // After these the agent ends the stream anyway; returning spares waiting for its status. An
          // interrupted job is left to the agent to end, since it may be resumed onto the same log.
          if (mapped.type === 'state' && isTerminalState(mapped.state) && mapped.state !== 'interrupted')
            return;
        }
      }
      return;
    } catch (e) {
      const error = toGpulinkError(e, method);
      if (!isResumable(error) || limits.signal?.aborted || ctx.closed) throw error;
      if (reachedAgent && Date.now() - startedAt >= connectedLongEnoughMs) failures = 0;
      // Progress is an event delivered, or failing that a smaller bound to try: a link that drops
      // before one message gets through is asked for smaller ones, and only tries at the least
      // bound that still get nothing through count toward giving up.
      const gotNothing = reachedAgent && afterSeq === startSeq && policy.maxAttempts > 1;
      const smaller = gotNothing ? smallerMessageBound(maxMessageBytes) : undefined;
      if (smaller === undefined) failures++;
      else maxMessageBytes = smaller;
      if (failures >= policy.maxAttempts) {
        throw new GpulinkError(
          error.code,
          `${error.details} (gave up after ${failures} tries in a row to resume job ${jobId}'s events after seq ${afterSeq})`,
          { method, cause: error },
        );
      }
      await sleep(backoffDelay(failures, policy), limits, method);
    }
  }
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
    const builder = new JobSummaryBuilder(this.id);
    for await (const event of watchJobEvents(this.ctx, this.client, this.id, { ...rest, afterSeq: 0 })) {
      builder.add(event);
      onEvent?.(event);
    }
    const summary = builder.result();
    if (!builder.finished) {
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
  const spec = toJobSpec(task, jobOptions);
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
  };
}
