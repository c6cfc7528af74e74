// Synchronous file-system calls in slices. On a folder of many small files, a promise-based call per
// file (a hop through libuv's thread pool each: stat, link, a small write) costs several times the
// call itself; the synchronous call is cheaper, and a run of them gives the event loop a turn every
// SLICE_MS, so the agent's streams and timers are never held up longer than that.

/** Longest run of synchronous calls before the event loop gets a turn, ms. */
const SLICE_MS = 4;

/** Gives the event loop a turn when the current run of synchronous calls has lasted SLICE_MS. */
export class SyncSlices {
  #start = performance.now();

  async turn(): Promise<void> {
    if (performance.now() - this.#start <= SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.#start = performance.now();
  }
}

/** `fn` (synchronous) over `items` in slices, results in order. */
export async function mapInSlices<T, R>(items: readonly T[], fn: (item: T) => R): Promise<R[]> {
  const slices = new SyncSlices();
  const out = new Array<R>(items.length);
  for (const [i, item] of items.entries()) {
    await slices.turn();
    out[i] = fn(item);
  }
  return out;
}
