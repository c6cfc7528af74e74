// The one smoothing of rates the CLI shows (items/s while training, bytes/s of a transfer) and the
// ETA it gives: an exponentially weighted moving average whose weight follows the time between
// samples, so bursts of events and gaps between them count for the time they cover.

/** A smoothed rate: units per second, as of `atMs`. */
export interface SmoothedRate {
  perSecond: number;
  atMs: number;
}

/** How long, in ms, the average remembers: a sample this old weighs 1/e of a fresh one. */
export const RATE_MEMORY_MS = 5000;

/** The rate after a new `sample` (units per second) taken at `atMs`. */
export function smoothRate(
  previous: SmoothedRate | undefined,
  sample: number,
  atMs: number,
  memoryMs = RATE_MEMORY_MS,
): SmoothedRate {
  if (!Number.isFinite(sample)) return previous ?? { perSecond: 0, atMs };
  if (!previous) return { perSecond: sample, atMs };
  const dt = Math.max(0, atMs - previous.atMs);
  // A burst of samples at once (dt 0) still moves the average, a little.
  const weight = dt > 0 ? 1 - Math.exp(-dt / memoryMs) : 0.1;
  return { perSecond: previous.perSecond + weight * (sample - previous.perSecond), atMs };
}

/** Follows a growing count (bytes done) and gives its smoothed rate and the time left. */
export class RateMeter {
  private rate: SmoothedRate | undefined;
  private last: { done: number; atMs: number } | undefined;
  private start: { done: number; atMs: number } | undefined;
  private readonly memoryMs: number;

  constructor(memoryMs = RATE_MEMORY_MS) {
    this.memoryMs = memoryMs;
  }

  /** Records that `done` units were done at `atMs`. */
  update(done: number, atMs: number): void {
    const last = this.last;
    if (!last || done < last.done) {
      this.last = { done, atMs };
      this.start = { done, atMs };
      return;
    }
    const dt = atMs - last.atMs;
    // Samples closer than 50 ms apart are folded into the next one: their rate is noise.
    if (dt < 50) return;
    const start = this.start ?? last;
    const sinceStart = atMs - start.atMs;
    // Until the average has a memory's worth of samples, the plain mean since the start is the
    // better guess: an average begun from one slow first sample would lag for seconds.
    this.rate =
      sinceStart < this.memoryMs
        ? { perSecond: ((done - start.done) * 1000) / sinceStart, atMs }
        : smoothRate(this.rate, ((done - last.done) * 1000) / dt, atMs, this.memoryMs);
    this.last = { done, atMs };
  }

  /** Units per second, once two samples are known. */
  get perSecond(): number | undefined {
    return this.rate?.perSecond;
  }

  /** Milliseconds until `total` at the current rate. */
  etaMs(total: number): number | undefined {
    const rate = this.rate?.perSecond;
    if (!rate || rate <= 0 || !this.last) return undefined;
    return (Math.max(0, total - this.last.done) / rate) * 1000;
  }
}
