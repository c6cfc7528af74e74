import type { JobEvent } from '@gpulink/sdk';
import { describe, expect, it } from 'vitest';
import { recordedEvents } from '../test-utils/fixtures.js';
import { createFollowLines, createJobOutput, type JobOutput } from './job-output.js';
import { emptyJobView, reduceJobView } from './job-view.js';

function linesOf(events: JobEvent[], output: JobOutput): Array<{ at: number; line: string }> {
  let view = emptyJobView(events[0]?.jobId ?? '');
  const out: Array<{ at: number; line: string }> = [];
  for (const e of events) {
    view = reduceJobView(view, e);
    for (const line of output(e, view)) out.push({ at: e.time.getTime(), line });
  }
  return out;
}

describe('a piped follow of a recorded vision job', () => {
  const events = recordedEvents('vision-digits');
  const lines = linesOf(events, createFollowLines());
  const progress = lines.filter((l) => /^epoch \d\/2 {2}(train|valid) \d+\/\d+/.test(l.line));

  it('prints a progress line during each epoch, no closer than 10 s apart', () => {
    const batches = events.filter((e) => e.type === 'batch');
    // Never silent for more than 10 s while batches come in...
    for (const b of batches) {
      const t = b.time.getTime();
      expect(progress.some((p) => p.at <= t && t - p.at < 10_000)).toBe(true);
    }
    // ... and not a line per batch.
    expect(progress.length).toBeLessThan(batches.length);
    for (const [i, p] of progress.entries()) {
      if (i > 0) expect(p.at - (progress[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(10_000);
    }
    expect(progress[0]?.line).toMatch(/loss \d.* items\/s .*elapsed/);
    expect(progress.at(-1)?.line).toMatch(/about .* left$/);
  });

  it('prints the lr_find chart when it ends, in ASCII', () => {
    const lr = linesOf(recordedEvents('lr-find'), createFollowLines()).map((l) => l.line);
    const at = lr.findIndex((l) => l.startsWith('lr_find: '));
    expect(at).toBeGreaterThan(0);
    expect(lr[at]).toMatch(/suggestions: valley \d\.\d\de-\d+/);
    const chart = lr.slice(at + 1);
    expect(chart.some((l) => /\+[-+]{20,}$/.test(l))).toBe(true);
    expect(chart.some((l) => /1e-7 .*1e-1/.test(l))).toBe(true);
    expect(chart.join('')).toMatch(/^[\x20-\x7e]*$/);
  });
});

describe('gpulink logs of a recorded vision job', () => {
  const out = linesOf(recordedEvents('vision-digits'), createJobOutput()).map((l) => l.line);

  it("prints fastai's epoch table and progress lines, not nothing", () => {
    expect(out[0]).toMatch(/^epoch +train_loss +valid_loss +accuracy +time$/);
    const rows = out.filter((l) => /^\d +\d+\.\d{6} +\d+\.\d{6} +\d\.\d{6} +\d\d:\d\d$/.test(l));
    expect(rows).toHaveLength(2);
    expect(out.some((l) => /^epoch 1\/2 {2}train \d+\/\d+/.test(l))).toBe(true);
    expect(out.some((l) => l.startsWith('artifact export.pkl'))).toBe(true);
  });
});
