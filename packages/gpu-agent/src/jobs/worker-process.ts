import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { workerPythonDir } from '../paths.js';

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
 * One Python worker: `python -m gpulink_worker` in its own process group, owned by this object.
 * It starts importing torch and fastai at once (so it can wait warm in the pool), reports `ready`,
 * then runs the one job whose envelope it is given.
 */
export class WorkerProcess extends EventEmitter<WorkerProcessEvents> {
  readonly child: ChildProcess;
  readonly ready: Promise<WorkerReady>;
  /** Settles after the process exited and its pipes are drained. */
  readonly exited: Promise<WorkerExit>;
  readonly #stderrTail: string[] = [];
  readonly #readers: Interface[] = [];
  #exit: WorkerExit | undefined;

  constructor(python: string, env: Record<string, string> = {}) {
    super();
    const pythonPath = [workerPythonDir, process.env.PYTHONPATH].filter(Boolean).join(':');
    this.child = spawn(python, ['-m', 'gpulink_worker'], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...env,
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
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.exited = Promise.race([
      Promise.all([exit, ...closed]).then(([e]) => e),
      spawnError.then((e) => {
        rejectReady(new Error(`cannot start ${python}: ${e.message}`));
        return { code: 127, signal: null } satisfies WorkerExit;
      }),
    ]).then((e) => {
      this.#exit = e;
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
    return this.#exit !== undefined || this.child.exitCode !== null || this.child.signalCode !== null;
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

  /** Signals the worker's whole process group (its children too). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.hasExited || !this.child.pid) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // Already gone.
    }
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
    for (const rl of this.#readers) rl.pause();
  }

  resumeOutput(): void {
    for (const rl of this.#readers) rl.resume();
  }

  #lines(stream: Readable, onLine: (line: string) => void): Promise<void> {
    const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    this.#readers.push(rl);
    rl.on('line', (line) => onLine(line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line));
    return new Promise((resolve) => rl.once('close', resolve));
  }
}

/**
 * Kills a worker's process group left over from an agent that died, if that pid still belongs to a
 * gpulink worker. Reads /proc (Linux); elsewhere a reused pid cannot be told apart, so it is left.
 */
export function killLeftoverWorker(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    if (!cmdline.includes('gpulink_worker')) return false;
    process.kill(-pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
