import {
  ErrorKind,
  type JobError,
  type JobEvent,
  JobState,
  type LogLine,
  LogStream,
  type StateChanged,
  type StatsSample,
} from '@gpulink/proto';
import type { JobStore } from './job-store.js';
import type { LiveJob } from './live-job.js';
import { type ErrorReport, howRunEnded, type RunStop } from './run-outcome.js';
import { cancelMessage, type WorkerEnvelopeJson } from './worker-envelope.js';
import type { WorkerProcess } from './worker-process.js';
import { isProgress, readWorkerMessage, type WorkerOutcome } from './worker-protocol.js';

/** What a run needs of the stats sampler. */
export interface JobStatsSource {
  /** Samples taken at or after `sinceMs` (epoch ms), oldest first. */
  recent(sinceMs: number): StatsSample[];
  /** Listens for samples; returns the function that stops listening. */
  subscribe(intervalMs: number, onSample: (sample: StatsSample) => void): () => void;
}

export interface JobRunOptions {
  store: JobStore;
  /** Keeps sampling while the job runs (for post-mortems and stall warnings); its log gets a sample every few seconds. */
  stats: JobStatsSource | undefined;
  /** Grace between a cancel request and killing the worker. */
  cancelGraceMs: number;
  /** Stall warning threshold when the spec sets none. */
  stallWarningMs: number;
  /** The envelope to hand the worker once it is ready; throws when the job cannot run in it. */
  envelope(cudaAvailable: boolean): Promise<WorkerEnvelopeJson>;
  /** True once the agent is shutting down: it stops every worker itself, and their jobs are INTERRUPTED. */
  agentStopping(): boolean;
}

/** How often a running job's log gets a stats event. */
const JOB_STATS_EVENT_MS = 5_000;
/** Log not yet written, in characters, beyond which the agent stops reading the worker's output. */
const LOG_BACKLOG_PAUSE_CHARS = 1024 * 1024;
const POST_MORTEM_LOG_LINES = 200;
const POST_MORTEM_STATS_MS = 60_000;

/**
 * One attempt of a job in its own worker: hands it the envelope, turns its output into events, keeps
 * the clock (timeout, stall warning), stops it when asked, and decides how it ended.
 */
export class JobRun {
  readonly worker: WorkerProcess;
  readonly #live: LiveJob;
  readonly #o: JobRunOptions;
  #stop: RunStop = { kind: 'none' };
  #outcome: WorkerOutcome | undefined;
  /** The last log lines, for a post-mortem. */
  readonly #logs: LogLine[] = [];
  #lastProgressAt = Date.now();
  #stallWarned = false;
  readonly #timers: NodeJS.Timeout[] = [];
  /** Settles when every event appended so far from the worker's output is on disk (or failed). */
  #pending: Promise<unknown> = Promise.resolve();
  /** The worker's output is not being read while its log catches up with a slow disk. */
  #outputPaused = false;
  #stopStats: (() => void) | undefined;

  constructor(live: LiveJob, worker: WorkerProcess, options: JobRunOptions) {
    this.#live = live;
    this.worker = worker;
    this.#o = options;
  }

  /**
   * Runs the attempt until its worker has exited. Resolves with the terminal state change to log, or
   * undefined when the job's log failed (LiveJob has made it FAILED).
   */
  async run(): Promise<StateChanged | undefined> {
    const live = this.#live;
    const worker = this.worker;
    live.record.workerPid = worker.pid;
    live.record.workerTag = worker.tag;
    try {
      await this.#o.store.saveRecord(live.record);
      await live.append({
        $case: 'stateChanged',
        value: { state: JobState.JOB_STATE_STARTING, previous: JobState.JOB_STATE_QUEUED, reason: '' },
      });
      this.#readOutput();
      const ready = await worker.ready;
      if (this.#stop.kind !== 'none') throw new Error('cancelled before start');
      worker.send(await this.#o.envelope(ready.cudaAvailable));
      await live.append({
        $case: 'stateChanged',
        value: { state: JobState.JOB_STATE_RUNNING, previous: JobState.JOB_STATE_STARTING, reason: '' },
      });
      this.#startTimers();
      this.#followStats();
    } catch (error) {
      if (this.#stop.kind === 'none' && !live.logFailure) {
        await this.#appendError({
          kind: ErrorKind.ERROR_KIND_WORKER_START,
          message: `the worker could not start: ${(error as Error).message}. Run \`gpulink-agent doctor\` on the agent's machine.`,
        }).catch(() => undefined);
      }
      worker.kill('SIGKILL');
    }
    const exit = await worker.exited;
    for (const t of this.#timers) clearTimeout(t);
    this.#stopStats?.();
    await this.#pending;
    const previous = live.job.state;
    const end = howRunEnded({
      logFailed: live.logFailure !== undefined,
      agentStopping: this.#o.agentStopping(),
      stop: this.#stop,
      outcome: this.#outcome,
      // The summary holds the attempt's error once it is logged (applyJobEvent), so no flag repeats it.
      errorLogged: live.job.error !== undefined,
      exit,
      stderrTail: worker.stderrTail(),
    });
    if (end.kind === 'unlogged') return undefined;
    try {
      if (end.error) await this.#appendError(end.error);
    } catch {
      // The log failed while recording how the job ended: LiveJob has taken it from here.
    }
    return { state: end.state, previous, reason: end.reason };
  }

  /** Sticky cancel through the worker's stdin, then SIGTERM/SIGKILL of its group after the grace. */
  requestStop(reason: string): void {
    if (this.#stop.kind !== 'none') return;
    this.#stop = { kind: 'cancelled', reason };
    this.#askToStop(reason);
  }

  #askToStop(reason: string): void {
    this.#live
      .append({ $case: 'log', value: { stream: LogStream.LOG_STREAM_AGENT, text: `stopping: ${reason}` } })
      .catch(() => undefined);
    this.worker.send(cancelMessage(reason));
    this.#timers.push(
      setTimeout(() => this.worker.stop(5_000).catch(() => undefined), this.#o.cancelGraceMs),
    );
  }

  /** Turns the worker's output into events. */
  #readOutput(): void {
    const { worker } = this;
    const id = this.#live.id;
    // Each append takes its seq when called, so events keep the worker's order without waiting for
    // the disk between them; #pending follows the newest (appends land in order). A failed log is
    // reported once, by LiveJob.
    const track = (append: Promise<unknown> | undefined) => {
      if (!append) return;
      this.#pending = append.catch(() => undefined);
      // A disk slower than the job: stop reading the worker until its log has caught up.
      if (!this.#outputPaused && this.#o.store.backlog(id) > LOG_BACKLOG_PAUSE_CHARS) {
        this.#outputPaused = true;
        worker.pauseOutput();
        this.#o.store.drained(id).then(() => {
          this.#outputPaused = false;
          worker.resumeOutput();
        });
      }
    };
    worker.on('log', (stream, text) => {
      const line: LogLine = {
        stream: stream === 'stdout' ? LogStream.LOG_STREAM_STDOUT : LogStream.LOG_STREAM_STDERR,
        text,
      };
      this.#logs.push(line);
      if (this.#logs.length > POST_MORTEM_LOG_LINES) this.#logs.shift();
      track(this.#live.append({ $case: 'log', value: line }));
    });
    worker.on('badLine', (text) =>
      track(
        this.#warn('bad_worker_output', `the worker wrote a line that is not JSON: ${text.slice(0, 200)}`),
      ),
    );
    worker.on('message', (message) => track(this.#onMessage(message)));
  }

  #onMessage(message: Record<string, unknown>): Promise<unknown> | undefined {
    const read = readWorkerMessage(message);
    switch (read.type) {
      case 'invalid':
        return this.#warn('bad_worker_output', read.problem);
      case 'done':
        this.#outcome = read.outcome;
        return undefined;
      case 'empty':
        return undefined;
      case 'event':
        if (isProgress(read.kind)) {
          this.#lastProgressAt = Date.now();
          this.#stallWarned = false;
        }
        return read.kind.$case === 'error'
          ? this.#appendError(read.kind.value)
          : this.#live.append(read.kind);
    }
  }

  /** Appends an error with its post-mortem: the last minute of stats and the last log lines. */
  #appendError(error: ErrorReport): Promise<JobEvent> {
    const value: JobError = {
      exceptionType: '',
      traceback: '',
      signal: '',
      exitCode: undefined,
      peakCudaMemoryBytes: 0,
      ...error,
      postMortem: {
        stats: this.#o.stats?.recent(Date.now() - POST_MORTEM_STATS_MS) ?? [],
        logs: [...this.#logs],
      },
    };
    return this.#live.append({ $case: 'error', value });
  }

  #warn(code: string, message: string): Promise<JobEvent> {
    const stats = this.#o.stats?.recent(Date.now() - 5_000).at(-1);
    return this.#live.append({ $case: 'warning', value: { code, message, stats } });
  }

  /** Keeps the sampler running while the job runs and logs a stats sample every few seconds. */
  #followStats(): void {
    let lastLogged = 0;
    this.#stopStats = this.#o.stats?.subscribe(1_000, (sample) => {
      const now = sample.time?.getTime() ?? Date.now();
      if (now - lastLogged < JOB_STATS_EVENT_MS) return;
      lastLogged = now;
      const own = { ...sample, processes: sample.processes.filter((p) => p.jobId === this.#live.id) };
      this.#pending = this.#live.append({ $case: 'stats', value: own }).catch(() => undefined);
    });
  }

  #startTimers(): void {
    const spec = this.#live.record.spec;
    if (spec.timeoutMs > 0) {
      this.#timers.push(setTimeout(() => this.#timeOut(spec.timeoutMs), spec.timeoutMs));
    }
    const stallMs = spec.stallWarningMs || this.#o.stallWarningMs;
    const check = setInterval(
      () => {
        if (this.#stallWarned || Date.now() - this.#lastProgressAt < stallMs) return;
        this.#stallWarned = true;
        const gpu = this.#o.stats?.recent(Date.now() - 5_000).at(-1)?.gpus[0];
        const util =
          gpu?.utilizationGpuPercent !== undefined
            ? ` GPU utilisation is ${gpu.utilizationGpuPercent}%.`
            : '';
        this.#warn(
          'stalled',
          `no training progress for ${Math.round(stallMs / 1000)} s while the worker is alive.${util}`,
        ).catch(() => undefined);
      },
      Math.min(stallMs, 5_000),
    );
    this.#timers.push(check);
  }

  #timeOut(timeoutMs: number): void {
    if (this.#stop.kind === 'none') {
      const reason = `the job ran past its timeout of ${timeoutMs} ms`;
      this.#stop = { kind: 'timedOut', reason };
      this.#askToStop(reason);
    } else {
      // A cancel still under way when the time runs out: the job fails on its timeout, under the
      // reason its worker was already asked to stop for.
      this.#stop = { kind: 'timedOut', reason: this.#stop.reason };
    }
  }
}
