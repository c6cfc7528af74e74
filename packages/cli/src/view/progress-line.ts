// One progress line on stderr. In a terminal it is redrawn in place (`\r`, at most 10 times a
// second); anywhere else (a file, a pipe, CI) it is a plain line now and then, never a `\r`.
import { formatByteRate, formatBytes, formatDuration } from './format.js';
import type { RateMeter } from './rate.js';

/** What the line writes to: process.stderr, or a stand-in with the same two members. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressLineOptions {
  /** Milliseconds between plain lines when the stream is not a terminal. */
  plainIntervalMs?: number;
  /** The clock (tests pass their own). */
  now?: () => number;
}

const TTY_INTERVAL_MS = 100;
/** How often a plain (not a terminal) progress line is printed. */
export const PLAIN_PROGRESS_INTERVAL_MS = 10_000;

export interface ProgressLine {
  /** Shows `text`; `stage` is what it is at (hashing, uploading): a new stage always shows at once. */
  update(text: string, stage?: string): void;
  /** The last line, ending the progress display: it stands for the last stage's end. */
  done(text: string): void;
}

export function createProgressLine(stream: ProgressStream, options: ProgressLineOptions = {}): ProgressLine {
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const interval = tty ? TTY_INTERVAL_MS : (options.plainIntervalMs ?? PLAIN_PROGRESS_INTERVAL_MS);
  let lastAt = Number.NEGATIVE_INFINITY;
  let lastStage: string | undefined;
  let drawn = false;
  /** Not a terminal: the newest text not printed yet, printed when its stage ends. */
  let unprinted: string | undefined;
  return {
    update(text, stage) {
      const t = now();
      const newStage = stage !== lastStage;
      lastStage = stage;
      if (tty) {
        if (!newStage && t - lastAt < interval) return;
        lastAt = t;
        stream.write(`\r${text}\x1b[K`);
        drawn = true;
        return;
      }
      // A stage ends with its last figures (hashing 1797/1797), not its first (0/1797).
      if (newStage && unprinted !== undefined) stream.write(`${unprinted}\n`);
      unprinted = text;
      if (newStage) {
        lastAt = t;
        return;
      }
      if (t - lastAt < interval) return;
      lastAt = t;
      stream.write(`${text}\n`);
      unprinted = undefined;
    },
    done(text) {
      stream.write(tty && drawn ? `\r${text}\x1b[K\n` : `${text}\n`);
      drawn = false;
      unprinted = undefined;
    },
  };
}

/** `12.3 MiB of 40.0 MiB, 3.2 MiB/s, 9.0s left`: the rate and time left once the meter knows them. */
export function transferText(done: number, total: number, meter: RateMeter): string {
  const parts = [`${formatBytes(done)} of ${formatBytes(total)}`];
  if (meter.perSecond !== undefined) parts.push(formatByteRate(meter.perSecond));
  const eta = meter.etaMs(total);
  if (eta !== undefined && done < total) parts.push(`${formatDuration(eta)} left`);
  return parts.join(', ');
}
