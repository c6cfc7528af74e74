import { describe, expect, it } from 'vitest';
import { forwardLatest } from './latest-only.js';

describe('forwardLatest', () => {
  it('gives a slow consumer the newest value and drops what it could not take', async () => {
    let push: (n: number) => void = () => undefined;
    let subscribed = 0;
    const abort = new AbortController();
    const received: number[] = [];
    const done = forwardLatest<number>(
      (onValue) => {
        subscribed++;
        push = onValue;
        return () => subscribed--;
      },
      async (n) => {
        received.push(n);
        // The consumer takes 50 ms per value while the source pushes every 5 ms.
        await new Promise((r) => setTimeout(r, 50));
      },
      abort.signal,
    );
    for (let i = 1; i <= 60; i++) {
      push(i);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 120));
    abort.abort();
    await done;
    expect(received[0]).toBe(1);
    expect(received.at(-1)).toBe(60);
    expect(received.length).toBeLessThan(15);
    expect([...received].sort((a, b) => a - b)).toEqual(received);
    expect(subscribed).toBe(0);
  });
});
