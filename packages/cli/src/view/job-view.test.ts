import { describe, expect, it } from 'vitest';
import { recordedEvents } from '../test-utils/fixtures.js';
import { emptyJobView, lastMetric, reduceJobView } from './job-view.js';

const fold = (events: ReturnType<typeof recordedEvents>) =>
  events.reduce(reduceJobView, emptyJobView(events[0]?.jobId ?? ''));

describe('reduceJobView over a recorded vision job', () => {
  const events = recordedEvents('vision-digits');
  const view = fold(events);

  it('ends in the job terminal state with every epoch and the model', () => {
    expect(view.state).toBe('succeeded');
    expect(view.completedEpochs).toBe(2);
    expect(view.epochs).toHaveLength(2);
    expect(lastMetric(view, 'accuracy')).toBeGreaterThan(0.5);
    expect(view.artifacts.map((a) => a.name)).toContain('export.pkl');
    expect(view.interpretation?.classes).toHaveLength(10);
    expect(view.totalEpochs).toBe(2);
    expect(view.lastSeq).toBe(events.at(-1)?.seq);
  });

  it('ignores an event it has already seen (a resumed stream never double-counts)', () => {
    const again = events.reduce(reduceJobView, view);
    expect(again).toBe(view);
  });

  it('keeps a loss series for the chart from training batches only', () => {
    const trainBatches = events.filter(
      (e) => e.type === 'batch' && e.phase === 'train' && e.smoothLoss !== undefined,
    );
    expect(view.trainLossSeries).toHaveLength(Math.min(400, trainBatches.length));
  });
});

describe('reduceJobView over a recorded failure', () => {
  it('keeps the failure and the log lines', () => {
    const view = fold(recordedEvents('failed-script'));
    expect(view.state).toBe('failed');
    expect(view.error?.message).toContain('3 columns');
    expect(view.logs.map((l) => l.text)).toContain('about to fail');
  });
});
