import { mkdir, rm } from 'node:fs/promises';
import {
  ErrorKind,
  type Job,
  type JobError,
  type JobEvent,
  type JobSpec,
  JobState,
  type LogLine,
  LogStream,
  type StatsSample,
} from '@gpulink/proto';
import {
  failedPrecondition,
  invalidArgument,
  notFound,
  StatusError,
  toStatusError,
  unavailable,
} from '../rpc/status-error.js';
import { DeviceQueues } from './device-queues.js';
import { newJobId } from './ids.js';
import { type SpecContext, validateSpec } from './job-spec.js';
import { applyEvent, isTerminal } from './job-state.js';
import { type JobRecord, type JobStore, newJobSummary } from './job-store.js';
import type { WarmPool } from './warm-pool.js';
import { buildEnvelope, cancelMessage } from './worker-envelope.js';
import { killLeftoverWorker, type WorkerProcess } from './worker-process.js';
import { type EventKind, isProgress, readWorkerMessage, type WorkerOutcome } from './worker-protocol.js';

/** What the job manager needs of the stats sampler. */
export interface JobStatsSource {
  /** Samples taken at or after `sinceMs` (epoch ms), oldest first. */
  recent(sinceMs: number): StatsSample[];
  /** Listens for samples; returns the function that stops listening. */
  subscribe(intervalMs: number, onSample: (sample: StatsSample) => void): () => void;
}

/** How often a running job's log gets a stats event. */
const JOB_STATS_EVENT_MS = 5_000;

export interface JobManagerOptions {
  store: JobStore;
  pool: WarmPool;
  /** Resolves dataset ids to folders (NOT_FOUND when unknown). */
  datasetDir(id: string): Promise<string>;
  gpuCount: () => number;
  /**
   * The agent's stats sampler: a running job keeps it sampling (for post-mortems and stall
   * warnings) and gets a stats event in its log every few seconds, in line with its training events.
   */
  stats?: JobStatsSource;
  /** Grace between a cancel request and killing the worker. */
  cancelGraceMs?: number;
  /** Default stall warning threshold. */
  stallWarningMs?: number;
  log: (message: string) => void;
}

/** A job the manager holds in memory: its summary, and its events while it is active. */
interface LiveJob {
  record: JobRecord;
  job: Job;
  /** Every event, indexed by seq - 1, while the job is queued or running (and for watchers after). */
  events: JobEvent[] | undefined;
  /**
   * Highest seq handed to the OS. Watchers get nothing beyond it: an event a client saw must survive
   * the agent being killed, or a restarted agent would give its seq to another event.
   */
  durableSeq: number;
  wakers: Set<() => void>;
  run?: RunningJob;
  /** Set when the job's log could not be written (a disk that stayed full): nothing more is logged. */
  logFailure?: Error;
}

interface RunningJob {
  worker: WorkerProcess;
  cancelReason?: string;
  timedOut?: boolean;
  shuttingDown?: boolean;
  done?: { outcome: WorkerOutcome };
  errorSent?: boolean;
  logs: LogLine[];
  lastProgressAt: number;
  stallWarned: boolean;
  timers: NodeJS.Timeout[];
  /** Settles when every event appended so far from the worker's output is on disk (or failed). */
  pending: Promise<unknown>;
  /** The worker's output is not being read while its log catches up with a slow disk. */
  outputPaused?: boolean;
  /** Stops the job's stats subscription. */
  stopStats?: () => void;
}

/** Log not yet written, in characters, beyond which the agent stops reading the worker's output. */
const LOG_BACKLOG_PAUSE_CHARS = 4 * 1024 * 1024;
const POST_MORTEM_LOG_LINES = 200;
const POST_MORTEM_STATS_MS = 60_000;

/**
 * Owns every job: validation, the per-device queues, workers, the event logs and their watchers.
 * Lifecycle per job: QUEUED -> STARTING -> RUNNING -> SUCCEEDED | FAILED | CANCELLED, or
 * INTERRUPTED when the agent stops under it.
 */
export class JobManager {
  readonly #o: Required<Omit<JobManagerOptions, 'stats'>> & Pick<JobManagerOptions, 'stats'>;
  readonly #jobs = new Map<string, LiveJob>();
  readonly #byKey = new Map<string, string>();
  readonly #queues = new DeviceQueues();
  #accepting = true;

  constructor(options: JobManagerOptions) {
    this.#o = { cancelGraceMs: 15_000, stallWarningMs: 120_000, ...options };
  }

  /** Loads the state dir. Jobs that were starting or running become INTERRUPTED; queued ones queue again. */
  async init(): Promise<void> {
    const loaded = await this.#o.store.loadAll(this.#o.log);
    loaded.sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
    for (const { record, job } of loaded) {
      const live: LiveJob = { record, job, events: undefined, durableSeq: job.lastSeq, wakers: new Set() };
      this.#jobs.set(record.id, live);
      if (record.idempotencyKey) this.#byKey.set(record.idempotencyKey, record.id);
      if (record.workerPid && killLeftoverWorker(record.workerPid)) {
        this.#o.log(
          `killed worker process group ${record.workerPid} left over by the previous agent (job ${record.id})`,
        );
      }
      if (job.state === JobState.JOB_STATE_STARTING || job.state === JobState.JOB_STATE_RUNNING) {
        await this.#loadEvents(live);
        await this.#append(live, {
          $case: 'stateChanged',
          value: {
            state: JobState.JOB_STATE_INTERRUPTED,
            previous: job.state,
            reason: 'the agent stopped while the job was running',
          },
        });
        record.workerPid = undefined;
        await this.#o.store.saveRecord(record);
        await this.#finish(live);
      } else if (job.state === JobState.JOB_STATE_QUEUED) {
        await this.#loadEvents(live);
        this.#queues.add(record.device, record.id);
      }
    }
    this.#schedule();
  }

  #specContext(): SpecContext {
    return {
      datasetDir: (id) => this.#o.datasetDir(id),
      jobFacts: (id) => {
        const live = this.#jobs.get(id);
        return live ? { state: live.job.state, artifacts: live.job.artifacts.map((a) => a.name) } : undefined;
      },
      gpuCount: this.#o.gpuCount(),
    };
  }

  async submit(spec: JobSpec, idempotencyKey: string, unknownFields: string[] = []): Promise<Job> {
    if (!this.#accepting) throw unavailable('the agent is shutting down');
    if (unknownFields.length > 0) {
      throw invalidArgument(
        `unknown field(s) ${unknownFields.join(', ')}: this agent speaks an older gpulink.v1 revision; upgrade it`,
      );
    }
    if (idempotencyKey.length > 128) throw invalidArgument('idempotency_key: at most 128 characters');
    const existing = idempotencyKey ? this.#byKey.get(idempotencyKey) : undefined;
    if (existing) return this.#view(this.#jobs.get(existing) as LiveJob);
    const device = await validateSpec(spec, this.#specContext());
    const record: JobRecord = { id: newJobId(), spec, createdAt: new Date(), device, idempotencyKey };
    try {
      await mkdir(this.#o.store.artifactsDir(record.id), { recursive: true, mode: 0o700 });
      await this.#o.store.saveRecord(record);
      const live: LiveJob = {
        record,
        job: newJobSummary(record),
        events: [],
        durableSeq: 0,
        wakers: new Set(),
      };
      await this.#append(live, {
        $case: 'stateChanged',
        value: { state: JobState.JOB_STATE_QUEUED, previous: 0, reason: '' },
      });
      this.#jobs.set(record.id, live);
      if (idempotencyKey) this.#byKey.set(idempotencyKey, record.id);
      this.#queues.add(record.device, record.id);
      this.#schedule();
      return this.#view(live);
    } catch (error) {
      // Nothing half-written stays behind: a job either exists with its QUEUED event or not at all.
      this.#jobs.delete(record.id);
      await this.#o.store.closeLog(record.id).catch(() => undefined);
      await rm(this.#o.store.jobDir(record.id), { recursive: true, force: true });
      throw error;
    }
  }

  get(id: string): Job {
    return this.#view(this.#live(id));
  }

  list(filter: { states: JobState[]; tags: string[] }): Job[] {
    return [...this.#jobs.values()]
      .filter((l) => filter.states.length === 0 || filter.states.includes(l.job.state))
      .filter((l) => filter.tags.every((t) => l.record.spec.tags.includes(t)))
      .sort((a, b) => (a.record.id < b.record.id ? 1 : -1))
      .map((l) => this.#view(l));
  }

  async cancel(id: string, reason: string): Promise<Job> {
    const live = this.#live(id);
    const why = reason || 'cancelled by a client';
    const state = live.job.state;
    if (isTerminal(state)) throw failedPrecondition(`job ${id} has already finished (${JobState[state]})`);
    if (state === JobState.JOB_STATE_QUEUED) {
      this.#queues.remove(live.record.device, id);
      await this.#append(live, {
        $case: 'stateChanged',
        value: { state: JobState.JOB_STATE_CANCELLED, previous: state, reason: why },
      });
      await this.#finish(live);
    } else if (live.run && !live.run.cancelReason) {
      this.#requestStop(live, why);
    }
    return this.#view(live);
  }

  async resume(id: string): Promise<Job> {
    const live = this.#live(id);
    if (live.job.state !== JobState.JOB_STATE_INTERRUPTED) {
      throw failedPrecondition(
        `job ${id} is ${JobState[live.job.state]}; only INTERRUPTED jobs can be resumed`,
      );
    }
    await this.#loadEvents(live);
    live.job.attempt += 1;
    await this.#append(live, {
      $case: 'stateChanged',
      value: {
        state: JobState.JOB_STATE_QUEUED,
        previous: JobState.JOB_STATE_INTERRUPTED,
        reason: 'resumed',
      },
    });
    this.#queues.add(live.record.device, id);
    this.#schedule();
    return this.#view(live);
  }

  /**
   * Sends events after `afterSeq` through `send`, in order and in batches (whatever is ready, see
   * nextBatch): from memory or the log, then live as they are appended, until the terminal state
   * change (or the end of the log with `replayOnly`).
   */
  async watch(
    id: string,
    afterSeq: number,
    replayOnly: boolean,
    send: (events: JobEvent[]) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const live = this.#live(id);
    let next = afterSeq + 1;
    if (!live.events) {
      // A finished job: its log on disk is complete (or ends where it could not be written).
      const logged = await this.#o.store.readEvents(id, afterSeq);
      for (let from = 0; from < logged.length; ) {
        if (signal.aborted) return;
        const batch = nextBatch(logged, from, logged.length);
        from += batch.length;
        await send(batch);
      }
      if (live.logFailure && !replayOnly) throw logFailureStatus(live);
      return;
    }
    const events = live.events;
    // The array, not live.events: a resume after the terminal event starts a new one, and this
    // watcher ends at that terminal event anyway.
    const durable = () => Math.min(live.durableSeq, events.length);
    while (!signal.aborted) {
      while (next <= durable()) {
        const batch = nextBatch(events, next - 1, durable());
        next += batch.length;
        await send(batch);
        if (signal.aborted) return;
      }
      const last = events[durable() - 1];
      const ended = last?.kind?.$case === 'stateChanged' && isTerminal(last.kind.value.state);
      if (ended || replayOnly) return;
      if (live.logFailure) throw logFailureStatus(live);
      await new Promise<void>((resolve) => {
        const wake = () => {
          live.wakers.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        live.wakers.add(wake);
        signal.addEventListener('abort', wake);
      });
    }
  }

  /** Stops accepting jobs, asks running ones to stop, kills them after the grace period. */
  async shutdown(graceMs: number): Promise<void> {
    this.#accepting = false;
    const running = [...this.#jobs.values()].filter((l) => l.run);
    for (const live of running) {
      if (!live.run) continue;
      live.run.shuttingDown = true;
      live.run.worker.send(cancelMessage('the agent is shutting down'));
    }
    await Promise.all(running.map((l) => l.run?.worker.stop(graceMs)));
    // Let exit handlers record INTERRUPTED before the process ends.
    await Promise.all(running.map((l) => this.#o.store.closeLog(l.record.id)));
  }

  /** Running jobs' worker pids, for per-process stats. */
  runningWorkers(): Array<{ jobId: string; pid: number }> {
    return [...this.#jobs.values()].flatMap((l) =>
      l.run?.worker.pid ? [{ jobId: l.record.id, pid: l.run.worker.pid }] : [],
    );
  }

  get runningCount(): number {
    return [...this.#jobs.values()].filter((l) => l.run).length;
  }

  #live(id: string): LiveJob {
    const live = this.#jobs.get(id);
    if (!live) throw notFound(`job ${id} does not exist`);
    return live;
  }

  #view(live: LiveJob): Job {
    const queued = live.job.state === JobState.JOB_STATE_QUEUED;
    return {
      ...live.job,
      queuePosition: queued ? this.#queues.position(live.record.device, live.record.id) : 0,
    };
  }

  async #loadEvents(live: LiveJob): Promise<void> {
    if (!live.events) live.events = await this.#o.store.readEvents(live.record.id, 0);
  }

  /**
   * Appends an event: memory now, then disk, then watchers. The seq is given at the call, so events
   * keep the order of the calls; the promise settles when the event is on disk. Appends are group
   * committed: callers on a hot path (the worker's output) need not wait for one before the next.
   * A failed write fails the caller, and the job (see #onLogFailure).
   */
  #append(live: LiveJob, kind: EventKind): Promise<JobEvent> {
    if (live.logFailure) return Promise.reject(logFailureStatus(live));
    const event: JobEvent = {
      seq: live.job.lastSeq + 1,
      time: new Date(),
      jobId: live.record.id,
      attempt: live.job.attempt,
      kind,
    };
    applyEvent(live.job, event);
    live.events?.push(event);
    return this.#o.store.append(event).then(
      () => {
        // Appends to one log complete in order, so the durable mark only moves forward, seq by seq.
        live.durableSeq = Math.max(live.durableSeq, event.seq);
        for (const wake of [...live.wakers]) wake();
        return event;
      },
      (error: unknown) => {
        this.#onLogFailure(live, error as Error);
        throw toStatusError(error);
      },
    );
  }

  /**
   * The job's log cannot be written (it gave up retrying a full disk). Nothing the job does from now
   * on could be recorded, so it stops: its worker is killed, watchers end with the error, and its
   * summary says FAILED. The log on disk ends with the last event written; a restarted agent finds
   * the job running there and records it INTERRUPTED, so it can be resumed once there is space.
   */
  #onLogFailure(live: LiveJob, error: Error): void {
    if (live.logFailure) return;
    live.logFailure = error;
    this.#o.log(`job ${live.record.id}: its event log could not be written: ${error.message}`);
    if (!isTerminal(live.job.state)) {
      live.job.state = JobState.JOB_STATE_FAILED;
      live.job.stateReason = `its event log could not be written: ${error.message}`;
    }
    live.run?.worker.kill('SIGKILL');
    for (const wake of [...live.wakers]) wake();
  }

  /** After a terminal event: flush the log, release memory once watchers have what they need. */
  async #finish(live: LiveJob): Promise<void> {
    await this.#o.store.closeLog(live.record.id);
    live.events = undefined;
  }

  /** Starts the head of every idle device queue. */
  #schedule(): void {
    if (!this.#accepting) return;
    for (const head of this.#queues.heads()) {
      const live = this.#jobs.get(head);
      if (!live || live.run || live.job.state !== JobState.JOB_STATE_QUEUED) continue;
      this.#run(live).catch((error: unknown) => this.#o.log(`job ${head}: ${(error as Error).message}`));
    }
  }

  async #run(live: LiveJob): Promise<void> {
    const worker = this.#o.pool.take();
    const run: RunningJob = {
      worker,
      logs: [],
      lastProgressAt: Date.now(),
      stallWarned: false,
      timers: [],
      pending: Promise.resolve(),
    };
    live.run = run;
    live.record.workerPid = worker.pid;
    try {
      await this.#o.store.saveRecord(live.record);
      await this.#append(live, {
        $case: 'stateChanged',
        value: { state: JobState.JOB_STATE_STARTING, previous: JobState.JOB_STATE_QUEUED, reason: '' },
      });
      this.#wire(live, run);
      const ready = await worker.ready;
      if (run.cancelReason) throw new Error('cancelled before start');
      worker.send(
        await buildEnvelope(
          live.record,
          live.job.attempt,
          ready.cudaAvailable,
          this.#o.store,
          this.#specContext(),
        ),
      );
      await this.#append(live, {
        $case: 'stateChanged',
        value: { state: JobState.JOB_STATE_RUNNING, previous: JobState.JOB_STATE_STARTING, reason: '' },
      });
      this.#startTimers(live, run);
      this.#followStats(live, run);
    } catch (error) {
      if (!run.cancelReason && !live.logFailure) {
        run.errorSent = true;
        await this.#appendError(live, {
          kind: ErrorKind.ERROR_KIND_WORKER_START,
          message: `the worker could not start: ${(error as Error).message}. Run \`gpulink-agent doctor\` on the agent's machine.`,
        }).catch(() => undefined);
      }
      worker.kill('SIGKILL');
    }
    const exit = await worker.exited;
    for (const t of run.timers) clearTimeout(t);
    run.stopStats?.();
    await this.#settle(live, run, exit);
  }

  /** Turns the worker's output into events. */
  #wire(live: LiveJob, run: RunningJob): void {
    const { worker } = run;
    // Each append takes its seq when called, so events keep the worker's order without waiting for
    // the disk between them; run.pending follows the newest (appends land in order). A failed log is
    // reported once, by #onLogFailure.
    const track = (append: Promise<unknown> | undefined) => {
      if (!append) return;
      run.pending = append.catch(() => undefined);
      // A disk slower than the job: stop reading the worker until its log has caught up.
      if (!run.outputPaused && this.#o.store.backlog(live.record.id) > LOG_BACKLOG_PAUSE_CHARS) {
        run.outputPaused = true;
        worker.pauseOutput();
        this.#o.store.drained(live.record.id).then(() => {
          run.outputPaused = false;
          worker.resumeOutput();
        });
      }
    };
    worker.on('log', (stream, text) => {
      const line: LogLine = {
        stream: stream === 'stdout' ? LogStream.LOG_STREAM_STDOUT : LogStream.LOG_STREAM_STDERR,
        text,
      };
      pushBounded(run.logs, line, POST_MORTEM_LOG_LINES);
      track(this.#append(live, { $case: 'log', value: line }));
    });
    worker.on('badLine', (text) =>
      track(
        this.#warn(
          live,
          'bad_worker_output',
          `the worker wrote a line that is not JSON: ${text.slice(0, 200)}`,
        ),
      ),
    );
    worker.on('message', (message) => track(this.#onWorkerMessage(live, run, message)));
  }

  #onWorkerMessage(
    live: LiveJob,
    run: RunningJob,
    message: Record<string, unknown>,
  ): Promise<unknown> | undefined {
    const read = readWorkerMessage(message);
    switch (read.type) {
      case 'invalid':
        return this.#warn(live, 'bad_worker_output', read.problem);
      case 'done':
        run.done = { outcome: read.outcome };
        return undefined;
      case 'empty':
        return undefined;
      case 'event':
        if (isProgress(read.kind)) {
          run.lastProgressAt = Date.now();
          run.stallWarned = false;
        }
        if (read.kind.$case === 'error') {
          run.errorSent = true;
          return this.#appendError(live, read.kind.value);
        }
        return this.#append(live, read.kind);
    }
  }

  /** Appends an error with its post-mortem: the last minute of stats and the last log lines. */
  #appendError(
    live: LiveJob,
    error: Partial<JobError> & { kind: ErrorKind; message: string },
  ): Promise<JobEvent> {
    const value: JobError = {
      exceptionType: '',
      traceback: '',
      signal: '',
      exitCode: undefined,
      peakCudaMemoryBytes: 0,
      ...error,
      postMortem: {
        stats: this.#o.stats?.recent(Date.now() - POST_MORTEM_STATS_MS) ?? [],
        logs: [...(live.run?.logs ?? [])],
      },
    };
    return this.#append(live, { $case: 'error', value });
  }

  #warn(live: LiveJob, code: string, message: string): Promise<JobEvent> {
    const stats = this.#o.stats?.recent(Date.now() - 5_000).at(-1);
    return this.#append(live, { $case: 'warning', value: { code, message, stats } });
  }

  /** Keeps the sampler running while the job runs and logs a stats sample every few seconds. */
  #followStats(live: LiveJob, run: RunningJob): void {
    let lastLogged = 0;
    run.stopStats = this.#o.stats?.subscribe(1_000, (sample) => {
      const now = sample.time?.getTime() ?? Date.now();
      if (now - lastLogged < JOB_STATS_EVENT_MS) return;
      lastLogged = now;
      const own = { ...sample, processes: sample.processes.filter((p) => p.jobId === live.record.id) };
      run.pending = this.#append(live, { $case: 'stats', value: own }).catch(() => undefined);
    });
  }

  #startTimers(live: LiveJob, run: RunningJob): void {
    const spec = live.record.spec;
    if (spec.timeoutMs > 0) {
      run.timers.push(
        setTimeout(() => {
          run.timedOut = true;
          this.#requestStop(live, `the job ran past its timeout of ${spec.timeoutMs} ms`);
        }, spec.timeoutMs),
      );
    }
    const stallMs = spec.stallWarningMs || this.#o.stallWarningMs;
    const check = setInterval(
      () => {
        if (run.stallWarned || Date.now() - run.lastProgressAt < stallMs) return;
        run.stallWarned = true;
        const gpu = this.#o.stats?.recent(Date.now() - 5_000).at(-1)?.gpus[0];
        const util =
          gpu?.utilizationGpuPercent !== undefined
            ? ` GPU utilisation is ${gpu.utilizationGpuPercent}%.`
            : '';
        this.#warn(
          live,
          'stalled',
          `no training progress for ${Math.round(stallMs / 1000)} s while the worker is alive.${util}`,
        ).catch(() => undefined);
      },
      Math.min(stallMs, 5_000),
    );
    run.timers.push(check);
  }

  /** Sticky cancel through the worker's stdin, then SIGTERM/SIGKILL of its group after the grace. */
  #requestStop(live: LiveJob, reason: string): void {
    const run = live.run;
    if (!run || run.cancelReason) return;
    run.cancelReason = reason;
    this.#append(live, {
      $case: 'log',
      value: { stream: LogStream.LOG_STREAM_AGENT, text: `stopping: ${reason}` },
    }).catch(() => undefined);
    run.worker.send(cancelMessage(reason));
    run.timers.push(setTimeout(() => run.worker.stop(5_000).catch(() => undefined), this.#o.cancelGraceMs));
  }

  /** Decides the terminal state from how the worker ended, records it, and frees the device. */
  async #settle(
    live: LiveJob,
    run: RunningJob,
    exit: { code: number | null; signal: NodeJS.Signals | null },
  ): Promise<void> {
    await run.pending;
    const previous = live.job.state;
    let state = JobState.JOB_STATE_FAILED;
    let reason = '';
    try {
      if (live.logFailure) {
        // #onLogFailure stopped the job and set its state; nothing more can be logged.
      } else if (run.shuttingDown) {
        state = JobState.JOB_STATE_INTERRUPTED;
        reason = 'the agent shut down while the job was running';
      } else if (run.timedOut) {
        await this.#appendError(live, {
          kind: ErrorKind.ERROR_KIND_TIMEOUT,
          message: run.cancelReason ?? 'timed out',
        });
      } else if (run.cancelReason && (run.done?.outcome === 'cancelled' || exit.signal || !run.errorSent)) {
        state = JobState.JOB_STATE_CANCELLED;
        reason = run.cancelReason;
      } else if (exit.code === 0 && run.done?.outcome === 'succeeded') {
        state = JobState.JOB_STATE_SUCCEEDED;
      } else if (exit.code === 0 && run.done?.outcome === 'cancelled') {
        state = JobState.JOB_STATE_CANCELLED;
        reason = 'cancelled';
      } else if (!run.errorSent && exit.signal) {
        await this.#appendError(live, {
          kind: ErrorKind.ERROR_KIND_KILLED,
          message: `the worker was killed by ${exit.signal}${exit.signal === 'SIGKILL' ? ' (often the kernel out-of-memory killer)' : ''}`,
          signal: exit.signal,
        });
      } else if (!run.errorSent) {
        await this.#appendError(live, {
          kind: ErrorKind.ERROR_KIND_WORKER_EXIT,
          message: `the worker exited with code ${exit.code} without reporting an error: ${run.worker.stderrTail() || 'no output'}`,
          exitCode: exit.code ?? undefined,
        });
      }
    } catch {
      // The log failed while recording how the job ended: #onLogFailure has taken it from here.
    }
    live.run = undefined;
    live.record.workerPid = undefined;
    this.#queues.remove(live.record.device, live.record.id);
    const problem = (error: unknown) =>
      this.#o.log(`job ${live.record.id}: could not record its end: ${(error as Error).message}`);
    // job.json only loses the worker's pid here: a failure to save it must not keep the job running.
    await this.#o.store.saveRecord(live.record).catch(problem);
    if (!live.logFailure) {
      await this.#append(live, { $case: 'stateChanged', value: { state, previous, reason } }).catch(problem);
    }
    await this.#finish(live).catch(problem);
    this.#schedule();
  }
}

/** Events per WatchJob message at most, and the rough bytes a message should stay under. */
const WATCH_BATCH_EVENTS = 256;
const WATCH_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * events[from..] up to `end` (exclusive) that fit one WatchJob message: at least one event, at most
 * WATCH_BATCH_EVENTS, and about WATCH_BATCH_BYTES (sizes guessed without encoding: log text is
 * measured, kinds that can be large count as 1 MiB, the rest as 2 KiB).
 */
function nextBatch(events: JobEvent[], from: number, end: number): JobEvent[] {
  let to = from;
  let bytes = 0;
  while (to < end && to - from < WATCH_BATCH_EVENTS) {
    const kind = (events[to] as JobEvent).kind;
    const size =
      kind?.$case === 'log'
        ? kind.value.text.length + 64
        : kind && LARGE_KINDS.has(kind.$case)
          ? 1024 * 1024
          : 2048;
    if (to > from && bytes + size > WATCH_BATCH_BYTES) break;
    bytes += size;
    to++;
  }
  return events.slice(from, to);
}

const LARGE_KINDS = new Set<string>(['error', 'interpretation', 'predictions', 'lrFindResult']);

function logFailureStatus(live: LiveJob): StatusError {
  const cause = toStatusError(live.logFailure);
  return new StatusError(
    cause.code,
    `job ${live.record.id} was stopped: its event log could not be written (${cause.details})`,
  );
}

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.shift();
}
