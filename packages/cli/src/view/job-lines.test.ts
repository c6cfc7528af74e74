import { describe, expect, it } from 'vitest';
import { recordedEvents } from '../test-utils/fixtures.js';
import { describeEvent, exitCodeFor, summaryLines } from './job-lines.js';
import { emptyJobView, reduceJobView } from './job-view.js';

describe('plain output of a recorded vision job', () => {
  const events = recordedEvents('vision-digits');
  let view = emptyJobView(events[0]?.jobId ?? '');
  const lines: string[] = [];
  for (const e of events) {
    view = reduceJobView(view, e);
    const line = describeEvent(e, view);
    if (line !== undefined) lines.push(line);
  }

  it('prints states, fits and one line per epoch, but no batch noise', () => {
    expect(lines.filter((l) => /^epoch \d\/2 {2}train_loss /.test(l))).toHaveLength(2);
    expect(lines.some((l) => l.endsWith('succeeded'))).toBe(true);
    expect(lines.some((l) => l.startsWith('fit 1: 2 epochs, '))).toBe(true);
    expect(lines.length).toBeLessThan(
      events.filter((e) => e.type !== 'batch' && e.type !== 'stats').length + 1,
    );
  });

  it('ends with the accuracy and how to get the model', () => {
    const summary = summaryLines(view);
    expect(summary[0]).toMatch(/succeeded after 2 epochs, accuracy \d+\.\d%/);
    expect(summary[1]).toContain(`gpulink pull ${view.jobId} export.pkl`);
    expect(exitCodeFor(view)).toBe(0);
  });

  it("says a failure in one line, not with the traceback the job's log holds", () => {
    const events = recordedEvents('failed-script');
    const error = events.find((e) => e.type === 'error');
    if (error?.type !== 'error') throw new Error('the fixture has no error event');
    expect(error.error.traceback).toContain('Traceback');
    const line = describeEvent(error, events.reduce(reduceJobView, emptyJobView('')));
    expect(line).toBe(`error [${error.error.kind}]: ${error.error.message}`);
  });

  it('gives a failed job the failed-job exit code', () => {
    const failed = recordedEvents('failed-script').reduce(reduceJobView, emptyJobView(''));
    expect(exitCodeFor(failed)).toBe(3);
  });
});

describe('plain output of a recorded lr_find job', () => {
  it('ends with what lr_find suggests, not with epochs it never ran', () => {
    const view = recordedEvents('lr-find').reduce(reduceJobView, emptyJobView(''));
    expect(summaryLines(view)[0]).toMatch(/succeeded: lr_find tried \d+ learning rates, suggests valley \d/);
  });

  it('says a cancelled lr_find was cancelled, not "after 0 epochs"', () => {
    const events = recordedEvents('lr-find');
    const running = events.slice(
      0,
      events.findIndex((e) => e.type === 'lrFindProgress' && e.iter > 5),
    );
    const last = running.at(-1) as (typeof events)[number];
    const view = reduceJobView(running.reduce(reduceJobView, emptyJobView('')), {
      ...last,
      seq: last.seq + 1,
      type: 'state',
      state: 'cancelled',
      previous: 'running',
      reason: 'cancelled from the terminal',
    } as (typeof events)[number]);
    expect(summaryLines(view)[0]).toBe(`job ${view.jobId} cancelled`);
  });
});
