import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

export interface EventLogOptions {
  /**
   * How long a write that fails for want of space (ENOSPC, EDQUOT) is retried before the log gives
   * up. A disk that is full for a moment costs a delay, not a hole in the log.
   */
  retryFullMs?: number;
  /** Characters of lines held in memory while the disk is full, at most; beyond it the log gives up. */
  maxPendingChars?: number;
}

interface Pending {
  text: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

const FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * One append-only NDJSON file, written with group commit: lines appended while a write is in flight
 * go out together in the next write, so a burst of events costs a few syscalls, not one each.
 *
 * Lines land whole and in order, or not at all: a write that fails part-way is cut back to the last
 * whole line (ftruncate) and retried while the disk is full, up to `retryFullMs`. When the log gives
 * up, that line and every later one reject with the error, and the file keeps only whole lines with
 * no gap: the log is then closed to appends (`failure` says why).
 */
export class EventLog {
  readonly #handle: Promise<FileHandle>;
  readonly #retryFullMs: number;
  readonly #maxPendingChars: number;
  #size: number | undefined;
  #queue: Pending[] = [];
  #queuedChars = 0;
  #drain: Promise<void> | undefined;
  #failure: Error | undefined;

  constructor(path: string, options: EventLogOptions = {}) {
    this.#handle = open(path, 'a', 0o600);
    // An unhandled rejection here would crash the agent; appends report the error instead.
    this.#handle.catch(() => undefined);
    this.#retryFullMs = options.retryFullMs ?? 30_000;
    this.#maxPendingChars = options.maxPendingChars ?? 64 * 1024 * 1024;
  }

  /** Characters of lines appended but not yet written. */
  get backlogChars(): number {
    return this.#queuedChars;
  }

  /** Settles when every line appended so far is written (or the log failed). */
  async drained(): Promise<void> {
    while (this.#drain) await this.#drain;
  }

  /** Why the log stopped taking appends, if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Appends one line (with its newline). Settles when the line is handed to the OS, in order. */
  append(line: string): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#queuedChars + line.length > this.#maxPendingChars) {
      this.#fail(
        Object.assign(
          new Error(`more than ${this.#maxPendingChars} characters of log are waiting for the disk`),
          {
            code: 'ENOSPC',
          },
        ),
      );
      return Promise.reject(this.#failure);
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ text: line, resolve, reject });
      this.#queuedChars += line.length;
      this.#drain ??= this.#write().finally(() => {
        this.#drain = undefined;
      });
    });
  }

  /** Waits for every pending line, syncs the file and closes it. */
  async close(): Promise<void> {
    await this.#drain;
    const handle = await this.#handle.catch(() => undefined);
    if (!handle) return;
    await handle.sync().catch(() => undefined);
    await handle.close();
  }

  async #write(): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await this.#handle;
      this.#size ??= (await handle.stat()).size;
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    while (this.#queue.length > 0 && !this.#failure) {
      const batch = this.#queue;
      this.#queue = [];
      const bytes = Buffer.from(batch.map((p) => p.text).join(''));
      const started = Date.now();
      let delayMs = 25;
      for (;;) {
        try {
          await writeAll(handle, bytes);
          this.#size += bytes.length;
          break;
        } catch (error) {
          // Whatever part of the batch reached the file goes: the file ends on a whole line again.
          await handle.truncate(this.#size).catch(() => undefined);
          const code = (error as NodeJS.ErrnoException).code ?? '';
          if (!FULL.has(code) || Date.now() - started + delayMs > this.#retryFullMs) {
            this.#queue = [...batch, ...this.#queue];
            this.#fail(error as Error);
            return;
          }
          await new Promise((r) => setTimeout(r, delayMs));
          delayMs = Math.min(delayMs * 2, 1_000);
        }
      }
      for (const p of batch) {
        this.#queuedChars -= p.text.length;
        p.resolve();
      }
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedChars = 0;
    for (const p of queue) p.reject(this.#failure);
  }
}

/** write(2) until every byte is out: a short write (a nearly full disk) continues where it stopped. */
async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    offset += bytesWritten;
  }
}
