import { describe, expect, it } from 'vitest';
import { recordedEvents } from '../test-utils/fixtures.js';
import { formatLearningRate } from './format.js';
import { emptyJobView, etaMs, reduceJobView } from './job-view.js';
import { createProgressLine, transferText } from './progress-line.js';
import { RateMeter } from './rate.js';

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  let t = 0;
  const line = createProgressLine({ isTTY, write: (s: string) => writes.push(s) }, { now: () => t });
  return { writes, line, at: (ms: number) => (t = ms) };
}

describe('a progress line', () => {
  it('never writes \\r when stderr is not a terminal: a plain line every 10 s, and each stage as it ends', () => {
    const r = recorder(false);
    for (let ms = 0; ms <= 25_000; ms += 100) {
      r.at(ms);
      r.line.update(`hashing ${ms}`, 'hashing');
    }
    r.at(25_050);
    r.line.update('uploading 1', 'uploading');
    r.line.update('uploading 2', 'uploading');
    r.line.update('done', 'done');
    r.line.done('dataset ds_1');
    expect(r.writes.join('')).not.toContain('\r');
    expect(r.writes).toEqual([
      'hashing 10000\n',
      'hashing 20000\n',
      'hashing 25000\n',
      'uploading 2\n',
      'dataset ds_1\n',
    ]);
  });

  it('redraws in place in a terminal, at most 10 times a second, and shows a new stage at once', () => {
    const r = recorder(true);
    for (let ms = 0; ms < 1000; ms += 10) {
      r.at(ms);
      r.line.update(`n ${ms}`, 'hashing');
    }
    r.line.update('uploading', 'uploading');
    r.line.done('done');
    expect(r.writes).toHaveLength(12);
    expect(r.writes.every((w) => w.startsWith('\r'))).toBe(true);
    expect(r.writes.at(-1)).toBe('\rdone\x1b[K\n');
  });
});

describe('rates and time left', () => {
  it('gives a transfer its smoothed rate and time left', () => {
    const m = new RateMeter();
    for (let s = 0; s <= 10; s++) m.update(s * 1024 * 1024, s * 1000);
    expect(m.perSecond).toBeCloseTo(1024 * 1024, 0);
    expect(transferText(10 * 1024 * 1024, 30 * 1024 * 1024, m)).toBe(
      '10.0 MiB of 30.0 MiB, 1.0 MiB/s, 20.0s left',
    );
  });

  it("smooths the worker's items/s so one slow report does not halve it", () => {
    const events = recordedEvents('vision-digits');
    let view = emptyJobView('');
    const raw: number[] = [];
    const shown: number[] = [];
    for (const e of events) {
      view = reduceJobView(view, e);
      if (e.type === 'batch' && e.phase === 'train' && view.batch) {
        raw.push(e.itemsPerSecond);
        shown.push(view.batch.itemsPerSecond);
      }
    }
    const jumps = (xs: number[]) =>
      Math.max(...xs.slice(1).map((x, i) => Math.abs(x - (xs[i] ?? x)) / (xs[i] || 1)));
    expect(jumps(shown)).toBeLessThan(jumps(raw));
  });

  it('estimates the time left from the epochs to go', () => {
    const events = recordedEvents('vision-digits');
    let view = emptyJobView('');
    const etas: number[] = [];
    for (const e of events) {
      view = reduceJobView(view, e);
      const eta = etaMs(view);
      if (eta !== undefined && e.type === 'batch') etas.push(eta);
    }
    expect(etas.length).toBeGreaterThan(10);
    // It shrinks as the job goes on, to near nothing in the last batch.
    expect(etas.at(-1) ?? 1e9).toBeLessThan((etas[0] ?? 0) / 4);
  });

  it('writes every learning rate in one form', () => {
    expect([3.98e-4, 0.01, 1.5, 2e-7].map(formatLearningRate)).toEqual([
      '3.98e-4',
      '1.00e-2',
      '1.50e0',
      '2.00e-7',
    ]);
  });
});
