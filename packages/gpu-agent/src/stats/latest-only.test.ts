import { describe, expect, it } from 'vitest';
import { forwardLatest } from './latest-only.js';

/** Lets pending callbacks run until `ok()` holds (no clock involved). */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setImmediate(r));
  expect(ok()).toBe(true);
}

describe('forwardLatest', () => {
  it('gives a slow consumer the newest value and drops what it could not take', async () => {
    let push: (n: number) => void = () => undefined;
    let subscribed = 0;
    const abort = new AbortController();
    const received: number[] = [];
    // The consumer is busy with each value until the test releases it.
    let release: () => void = () => undefined;
    const done = forwardLatest<number>(
      (onValue) => {
        subscribed++;
        push = onValue;
        return () => subscribed--;
      },
      async (n) => {
        received.push(n);
        await new Promise<void>((r) => {
          release = r;
        });
      },
      abort.signal,
    );
    expect(subscribed).toBe(1);

    push(1);
    await until(() => received.length === 1);
    // 2..60 arrive while the consumer is busy with 1: only the newest waits for it.
    for (let i = 2; i <= 60; i++) push(i);
    release();
    await until(() => received.length === 2);
    expect(received).toEqual([1, 60]);

    // Nothing new: the consumer is not called again until a value comes.
    release();
    await new Promise((r) => setImmediate(r));
    expect(received).toEqual([1, 60]);
    push(61);
    await until(() => received.length === 3);
    expect(received).toEqual([1, 60, 61]);

    release();
    abort.abort();
    await done;
    expect(subscribed).toBe(0);
  });
});
