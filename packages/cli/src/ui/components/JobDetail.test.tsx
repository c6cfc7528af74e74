import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { recordedEvents } from '../../test-utils/fixtures.js';
import { emptyJobView, reduceJobView } from '../../view/job-view.js';
import { JobDetail } from './JobDetail.js';

const viewAfter = (
  name: Parameters<typeof recordedEvents>[0],
  until: (e: ReturnType<typeof recordedEvents>[number]) => boolean,
) => {
  const events = recordedEvents(name);
  const end = events.findIndex(until);
  return events
    .slice(0, end < 0 ? events.length : end + 1)
    .reduce(reduceJobView, emptyJobView(events[0]?.jobId ?? ''));
};

describe('JobDetail frames from a recorded run', () => {
  it('shows the epoch and batch bars mid-training', () => {
    const view = viewAfter('vision-digits', (e) => e.type === 'batch' && e.phase === 'train' && e.iter > 3);
    const frame = render(<JobDetail view={view} width={100} />).lastFrame() ?? '';
    expect(frame).toContain('running');
    expect(frame).toMatch(/epochs [█░]+ 0\/2/);
    expect(frame).toMatch(/train\s+[█░]+ \d+\/\d+\s+loss \d/);
  });

  it('shows the epoch table, loss chart, confusion matrix and model at the end', () => {
    const view = viewAfter('vision-digits', () => false);
    const frame = render(<JobDetail view={view} width={100} />).lastFrame() ?? '';
    expect(frame).toContain('succeeded');
    expect(frame).toMatch(/epoch\s+train_loss\s+valid_loss\s+accuracy\s+time/);
    expect(frame).toMatch(/loss [▁▂▃▄▅▆▇█]{5,}/);
    expect(frame).toContain('confusion (rows actual, columns predicted)');
    expect(frame).toContain('export.pkl');
    expect(frame).not.toMatch(/train\s+[█░]+ \d+\/\d+/);
  });

  it("shows lr_find's progress while it runs", () => {
    const view = viewAfter('lr-find', (e) => e.type === 'lrFindProgress' && e.iter >= 5);
    const frame = render(<JobDetail view={view} width={100} />).lastFrame() ?? '';
    expect(frame).toContain('running');
    expect(frame).toMatch(/lr_find [█░]+ \d+\/40 {2}lr \d\.\d\de-\d/);
  });

  it('shows the lr_find curve and its suggestions', () => {
    const frame =
      render(<JobDetail view={viewAfter('lr-find', () => false)} width={100} />).lastFrame() ?? '';
    expect(frame).toMatch(/lr_find [▁▂▃▄▅▆▇█]+/);
    expect(frame).toContain('valley');
  });

  it('shows how long the job has run and has left, and lr_find the loss as it runs', () => {
    const view = viewAfter('vision-digits', (e) => e.type === 'batch' && e.epoch === 1 && e.iter > 3);
    const now = (view.startedAt?.getTime() ?? 0) + 125_000;
    const frame = render(<JobDetail view={view} width={100} now={now} />).lastFrame() ?? '';
    expect(frame).toMatch(
      /running · 2m05s elapsed · about \d+(\.\d)?s left|running · 2m05s elapsed · about \dm\d\ds left/,
    );
    const lr = viewAfter('lr-find', (e) => e.type === 'lrFindProgress' && e.iter >= 5);
    expect(render(<JobDetail view={lr} width={100} />).lastFrame()).toMatch(/lr \d\.\d\de-\d+ {2}loss \d/);
  });

  it("says what runs after the last epoch (the worker's phase) instead of a frozen bar", () => {
    const events = recordedEvents('vision-digits');
    const lastEpoch = events.findLastIndex((e) => e.type === 'epochEnded');
    const ended = events.slice(0, lastEpoch + 1).reduce(reduceJobView, emptyJobView(''));
    const last = events[lastEpoch] as (typeof events)[number];
    const view = reduceJobView(ended, {
      ...last,
      seq: last.seq + 1,
      type: 'phase',
      description: 'exporting the model',
    } as (typeof events)[number]);
    const frame = render(<JobDetail view={view} width={100} />).lastFrame() ?? '';
    expect(frame).toContain('exporting the model…');
    expect(frame).not.toMatch(/(train|valid)\s+[█░]+ \d+\/\d+/);
  });

  it('draws the loss and lr_find charts with axes when given rows for them', () => {
    const loss = render(
      <JobDetail view={viewAfter('vision-digits', () => false)} width={80} chartRows={8} />,
    );
    expect(loss.lastFrame()).toMatch(/└[─┬]+/);
    expect(loss.lastFrame()).toMatch(/◆ valid_loss/);
    const lr = render(<JobDetail view={viewAfter('lr-find', () => false)} width={80} chartRows={8} />);
    expect(lr.lastFrame()).toMatch(/1e-7 +1e-6/);
    expect(lr.lastFrame()).toMatch(/V valley \d\.\d\de-\d/);
  });

  it('shows why a job failed, with its last log lines', () => {
    const frame =
      render(<JobDetail view={viewAfter('failed-script', () => false)} width={100} />).lastFrame() ?? '';
    expect(frame).toContain('failed');
    expect(frame).toContain('3 columns');
    expect(frame).toContain('about to fail');
  });
});
