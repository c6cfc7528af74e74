import { describe, expect, it, vi } from 'vitest';
import { backoffDelay, limitsOf, sleep } from './rpc.js';

describe('backoffDelay', () => {
  it('doubles from initialDelayMs up to maxDelayMs, with half of each step random', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 1000 };
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, low))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, high))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it('spreads clients that failed together', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(3)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});

describe('limitsOf and sleep', () => {
  it('refuses a timeout that is not a positive number', () => {
    expect(() => limitsOf({ timeoutMs: 0 })).toThrow(
      /^INVALID_ARGUMENT: timeoutMs must be a positive number/,
    );
    expect(() => limitsOf({ timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
    expect(limitsOf({}).deadline).toBeUndefined();
  });

  it('wakes early with CANCELLED when the signal aborts', async () => {
    const controller = new AbortController();
    const slept = sleep(10_000, { signal: controller.signal, deadline: undefined });
    controller.abort('enough');
    await expect(slept).rejects.toMatchObject({
      code: 'CANCELLED',
      message: "CANCELLED: aborted by the caller's signal: enough",
    });
  });

  it('never sleeps past the deadline', async () => {
    vi.useFakeTimers();
    try {
      let woke = false;
      const slept = sleep(10_000, { signal: undefined, deadline: Date.now() + 20 }).then(() => {
        woke = true;
      });
      await vi.advanceTimersByTimeAsync(20);
      expect(woke).toBe(true);
      await slept;
    } finally {
      vi.useRealTimers();
    }
  });
});
