import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { workerPythonDir } from '../paths.js';
import { newWorkerTag, signalTaggedProcesses, WORKER_TAG_ENV } from './job-processes.js';

/** What a worker reports once torch and fastai are imported (see python/PROTOCOL.md). */
export interface WorkerReady {
  pythonVersion: string;
  pythonExecutable: string;
  torchVersion: string;
  fastaiVersion: string;
  cudaVersion: string;
  cudnnVersion: string;
  cudaAvailable: boolean;
  cudnnEnabled: boolean;
  gpus: Array<{
    index: number;
    name: string;
    uuid: string;
    memoryTotalBytes: number;
    computeCapability: string;
  }>;
  timmAvailable?: boolean;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcessEvents {
  /** A well-formed JSON object from fd 3 (other than `ready`). */
  message: [Record<string, unknown>];
  /** A line from fd 3 that is not a JSON object. */
  badLine: [string];
  /** A line of stdout or stderr. */
  log: ['stdout' | 'stderr', string];
}

/** Longest line accepted from a worker; anything longer is cut and reported as bad output. */
const MAX_LINE = 4 * 1024 * 1024;
/**
 * How long the worker's pipes may stay open after it exited and its processes were killed, while
 * the agent is reading them: enough to read what is buffered, not to wait on a process that escaped.
 */
const PIPE_DRAIN_MS = 2_000;

/**
 * One Python worker: `python -m gpulink_worker` in its own process group, owned by this object.
 * It starts importing torch and fastai at once (so it can wait warm in the pool), reports `ready`,
 * then runs the one job whose envelope it is given. The worker's life is the job's: when it exits,
 * everything it started is killed (its group and every process with its tag, see job-processes.ts),
 * and pipes a stray still holds open do not keep `exited` waiting.
 */
export class WorkerProcess extends EventEmitter<WorkerProcessEvents> {
  readonly child: ChildProcess;
  /** In the environment of the worker and of everything it starts. */
  readonly tag = newWorkerTag();
  readonly ready: Promise<WorkerReady>;
  /** Settles after the process exited and its pipes are drained. */
  readonly exited: Promise<WorkerExit>;
  readonly #stderrTail: string[] = [];
  readonly #readers: Array<{ rl: Interface; stream: Readable; closed: boolean }> = [];
  #paused = false;
  /** Set when the process exited (its pipes may still be draining). */
  #exitedAt: WorkerExit | undefined;

  constructor(python: string, env: Record<string, string> = {}) {
    super();
    const pythonPath = [workerPythonDir, process.env.PYTHONPATH].filter(Boolean).join(':');
    this.child = spawn(python, ['-m', 'gpulink_worker'], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...env,
        [WORKER_TAG_ENV]: this.tag,
        PYTHONPATH: pythonPath,
        PYTHONUNBUFFERED: '1',
        PYTHONIOENCODING: 'utf-8',
      },
    });
    // Writes to a worker that died are reported by `exited`; the pipe error itself is expected.
    this.child.stdin?.on('error', () => undefined);
    const spawnError = new Promise<Error>((resolve) => this.child.once('error', resolve));

    let resolveReady!: (r: WorkerReady) => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => undefined);

    const closed = [
      this.#lines(this.child.stdio[3] as Readable, (line) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          this.emit('badLine', line);
          return;
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          this.emit('badLine', line);
          return;
        }
        const message = parsed as Record<string, unknown>;
        if ('ready' in message && Object.keys(message).length === 1)
          resolveReady(message.ready as WorkerReady);
        else this.emit('message', message);
      }),
      this.#lines(this.child.stdout as Readable, (line) => this.emit('log', 'stdout', line)),
      this.#lines(this.child.stderr as Readable, (line) => {
        this.#stderrTail.push(line);
        if (this.#stderrTail.length > 30) this.#stderrTail.shift();
        this.emit('log', 'stderr', line);
      }),
    ];
    const exit = new Promise<WorkerExit>((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.#exitedAt = { code, signal };
        this.#killStrays();
        this.#drainPipes();
        resolve({ code, signal });
      }),
    );
    this.exited = Promise.race([
      Promise.all([exit, ...closed]).then(([e]) => e),
      spawnError.then((e) => {
        rejectReady(new Error(`cannot start ${python}: ${e.message}`));
        return { code: 127, signal: null } satisfies WorkerExit;
      }),
    ]).then((e) => {
      rejectReady(
        new Error(
          `the worker exited (${e.signal ?? `code ${e.code}`}) before it was ready: ${this.stderrTail() || 'no output'}`,
        ),
      );
      return e;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get hasExited(): boolean {
    return this.#exitedAt !== undefined || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The last lines the worker wrote on stderr, for error messages. */
  stderrTail(): string {
    return this.#stderrTail.slice(-10).join('\n');
  }

  /** Sends one JSON line on the worker's stdin (the envelope, then control messages). */
  send(message: object): void {
    const stdin = this.child.stdin as Writable | null;
    if (stdin?.writable) stdin.write(`${JSON.stringify(message)}\n`);
  }

  /**
   * Signals the worker's whole process group, and every process with its tag that left the group.
   * Once the worker has exited only the tagged ones are signalled: its group id may be reused.
   */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.hasExited && this.child.pid) {
      try {
        process.kill(-this.child.pid, signal);
      } catch {
        // Already gone.
      }
    }
    signalTaggedProcesses([this.tag], signal);
  }

  /** SIGTERM to the group, then SIGKILL after `graceMs` if it is still there. Resolves on exit. */
  async stop(graceMs: number): Promise<WorkerExit> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops reading the worker's output (its event pipe, stdout and stderr) until resumeOutput: the
   * worker then blocks on its next write once the pipes fill, so a job cannot outrun its log.
   */
  pauseOutput(): void {
    this.#paused = true;
    for (const r of this.#readers) r.rl.pause();
  }

  resumeOutput(): void {
    this.#paused = false;
    for (const r of this.#readers) r.rl.resume();
  }

  /**
   * The worker is gone: so is whatever it started. Its group (still reserved while members live)
   * and every tagged process get SIGKILL, which also closes the pipes they inherited.
   */
  #killStrays(): void {
    if (this.child.pid) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // The group is empty.
      }
    }
    signalTaggedProcesses([this.tag], 'SIGKILL');
  }

  /**
   * Reads what the pipes still hold, then closes any that a process the kill could not reach keeps
   * open. The clock runs only while output is read: a paused reader (a slow disk) loses nothing.
   */
  #drainPipes(): void {
    const check = () => {
      const open = this.#readers.filter((r) => !r.closed);
      if (open.length === 0) return;
      if (this.#paused) {
        setTimeout(check, PIPE_DRAIN_MS).unref();
        return;
      }
      for (const r of open) {
        r.stream.destroy();
        r.rl.close();
      }
    };
    setTimeout(check, PIPE_DRAIN_MS).unref();
  }

  #lines(stream: Readable, onLine: (line: string) => void): Promise<void> {
    const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    const reader = { rl, stream, closed: false };
    this.#readers.push(reader);
    rl.on('line', (line) => onLine(line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line));
    return new Promise((resolve) =>
      rl.once('close', () => {
        reader.closed = true;
        resolve();
      }),
    );
  }
}
