import { applyJobEvent, isTerminalJobState, type Job, type JobEvent, JobState } from '@gpulink/proto';
import { StatusError, toStatusError } from '../rpc/status-error.js';
import { messageBytes } from './event-size.js';
import type { JobRecord, JobStore } from './job-store.js';
import type { EventKind } from './worker-protocol.js';

export interface LiveJobOptions {
  store: JobStore;
  log: (message: string) => void;
  /** Called once when the job's log fails for good: whatever runs the job must stop at once. */
  onLogFailure: () => void;
}

/**
 * Newest events an active job keeps in memory for its live watchers, who all share them: a window of
 * at most this many events and bytes (as in WatchJob messages), trimmed once it holds half as much
 * again. Older events are read from the log on disk by whoever wants them (log-reader.ts). Events not
 * yet on disk stay whatever the bound: JobRun stops reading the worker while the disk lags.
 */
const WINDOW_EVENTS = 2_048;
const WINDOW_BYTES = 1024 * 1024;

/**
 * A job the manager holds in memory: its record and summary, and its newest events while it is
 * active. Every event goes through append, which keeps the summary, the log on disk and the watchers
 * in step. Memory per job is bounded (WINDOW_EVENTS, WINDOW_BYTES) whatever the length of its log.
 */
export class LiveJob {
  readonly record: JobRecord;
  readonly job: Job;
  /** The newest events while the job is queued or running, from seq #windowStart; else undefined. */
  #window: JobEvent[] | undefined;
  #windowStart = 1;
  #windowBytes = 0;
  /**
   * Highest seq handed to the OS. Watchers get nothing beyond it: an event a client saw must survive
   * the agent being killed, or a restarted agent would give its seq to another event.
   */
  durableSeq: number;
  /** Set when the job's log could not be written (a disk that stayed full): nothing more is logged. */
  logFailure: Error | undefined;
  readonly #wakers = new Set<() => void>();
  readonly #o: LiveJobOptions;

  constructor(record: JobRecord, job: Job, active: boolean, options: LiveJobOptions) {
    this.record = record;
    this.job = job;
    this.durableSeq = job.lastSeq;
    this.#o = options;
    if (active) this.activate();
  }

  get id(): string {
    return this.record.id;
  }

  /** Whether the job is queued or running: its newest events are in memory. */
  get active(): boolean {
    return this.#window !== undefined;
  }

  /** Starts keeping events in memory, for a job that is to be queued or run (again). */
  activate(): void {
    if (this.#window) return;
    this.#window = [];
    this.#windowStart = this.job.lastSeq + 1;
    this.#windowBytes = 0;
  }

  /**
   * Events `fromSeq`..`untilSeq` from memory, shared with every other watcher; undefined when the job
   * is not active or `fromSeq` is older than what memory keeps (read them with readLog).
   */
  recent(fromSeq: number, untilSeq: number): JobEvent[] | undefined {
    const window = this.#window;
    if (!window || fromSeq < this.#windowStart) return undefined;
    return window.slice(fromSeq - this.#windowStart, untilSeq - this.#windowStart + 1);
  }

  /** Events `afterSeq`+1..`untilSeq` from the log on disk, in chunks of bounded size. */
  readLog(afterSeq: number, untilSeq: number): AsyncGenerator<JobEvent[]> {
    return this.#o.store.readEvents(this.id, { afterSeq, untilSeq });
  }

  /**
   * Appends an event: memory now, then disk, then watchers. The seq is given at the call, so events
   * keep the order of the calls; the promise settles when the event is on disk. Appends are group
   * committed: callers on a hot path (the worker's output) need not wait for one before the next.
   * A failed write fails the caller, and the job (see #failLog).
   */
  append(kind: EventKind): Promise<JobEvent> {
    if (this.logFailure) return Promise.reject(this.logFailureStatus());
    const event: JobEvent = {
      seq: this.job.lastSeq + 1,
      time: new Date(),
      jobId: this.id,
      attempt: this.job.attempt,
      kind,
    };
    applyJobEvent(this.job, event);
    if (this.#window) {
      this.#window.push(event);
      this.#windowBytes += messageBytes(event);
    }
    return this.#o.store.append(event).then(
      () => {
        // Appends to one log complete in order, so the durable mark only moves forward, seq by seq.
        this.durableSeq = Math.max(this.durableSeq, event.seq);
        this.#trimWindow();
        this.#wake();
        return event;
      },
      (error: unknown) => {
        this.#failLog(error as Error);
        throw toStatusError(error);
      },
    );
  }

  /** Appends a state change from the current state. */
  changeState(state: JobState, reason = ''): Promise<JobEvent> {
    return this.append({ $case: 'stateChanged', value: { state, previous: this.job.state, reason } });
  }

  /** After a terminal event: flush the log, release memory once watchers have what they need. */
  async finish(): Promise<void> {
    await this.#o.store.closeLog(this.id);
    this.#window = undefined;
  }

  /**
   * Drops the oldest events that are on disk once the window holds half as much again as its bound,
   * back down to the bound: one splice per many appends. The newest event always stays.
   */
  #trimWindow(): void {
    const window = this.#window;
    if (!window) return;
    if (window.length <= WINDOW_EVENTS * 1.5 && this.#windowBytes <= WINDOW_BYTES * 1.5) return;
    let drop = 0;
    let bytes = this.#windowBytes;
    while (
      drop < window.length - 1 &&
      (window[drop] as JobEvent).seq <= this.durableSeq &&
      (window.length - drop > WINDOW_EVENTS || bytes > WINDOW_BYTES)
    ) {
      bytes -= messageBytes(window[drop] as JobEvent);
      drop++;
    }
    window.splice(0, drop);
    this.#windowStart += drop;
    this.#windowBytes = bytes;
  }

  /** Resolves on the next durable event, log failure, or abort. */
  changed(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.#wakers.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.#wakers.add(wake);
      signal.addEventListener('abort', wake);
    });
  }

  /** The status a watcher ends with once the log has failed. */
  logFailureStatus(): StatusError {
    const cause = toStatusError(this.logFailure);
    return new StatusError(
      cause.code,
      `job ${this.id} was stopped: its event log could not be written (${cause.details})`,
    );
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /**
   * The job's log cannot be written (it gave up retrying a full disk). Nothing the job does from now
   * on could be recorded, so it stops: its worker is killed, watchers end with the error, and its
   * summary says FAILED. The log on disk ends with the last event written; a restarted agent finds
   * the job running there and records it INTERRUPTED, so it can be resumed once there is space.
   */
  #failLog(error: Error): void {
    if (this.logFailure) return;
    this.logFailure = error;
    this.#o.log(`job ${this.id}: its event log could not be written: ${error.message}`);
    if (!isTerminalJobState(this.job.state)) {
      this.job.state = JobState.JOB_STATE_FAILED;
      this.job.stateReason = `its event log could not be written: ${error.message}`;
    }
    this.#o.onLogFailure();
    this.#wake();
  }
}
