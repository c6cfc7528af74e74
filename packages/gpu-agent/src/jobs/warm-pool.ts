import type { WorkerProcess } from './worker-process.js';

/**
 * Keeps `size` workers started ahead, each already past `import torch, fastai` and waiting for an
 * envelope. Every job gets a fresh process (no CUDA state leaks between jobs); taking one starts a
 * replacement behind it. A warm worker that dies unused is not restarted in a loop: the next take
 * starts a new one.
 */
export class WarmPool {
  readonly #spares: WorkerProcess[] = [];
  #closed = false;

  constructor(
    readonly size: number,
    readonly spawnWorker: () => WorkerProcess,
  ) {}

  /** Starts the spares. */
  fill(): void {
    this.#spares.splice(0, this.#spares.length, ...this.#spares.filter((w) => !w.hasExited));
    while (!this.#closed && this.#spares.length < this.size) {
      const worker = this.spawnWorker();
      this.#spares.push(worker);
    }
  }

  /** A worker for a job: a warm spare when there is a live one, otherwise a new process. */
  take(): WorkerProcess {
    const live = this.#spares.findIndex((w) => !w.hasExited);
    const worker = live >= 0 ? this.#spares.splice(0, live + 1).pop() : undefined;
    const taken = worker ?? this.spawnWorker();
    this.fill();
    return taken;
  }

  /** The first spare, to read the environment from its `ready` without using it up. */
  peek(): WorkerProcess | undefined {
    return this.#spares.find((w) => !w.hasExited);
  }

  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#spares.splice(0).map((w) => w.stop(graceMs)));
  }
}
