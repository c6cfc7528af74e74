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
    expect(frame).toMatch(/lr_find [█░]+ \d+\/40 {2}lr \d/);
  });

  it('shows the lr_find curve and its suggestions', () => {
    const frame =
      render(<JobDetail view={viewAfter('lr-find', () => false)} width={100} />).lastFrame() ?? '';
    expect(frame).toMatch(/lr_find [▁▂▃▄▅▆▇█]+/);
    expect(frame).toContain('valley');
  });

  it('shows why a job failed, with its last log lines', () => {
    const frame =
      render(<JobDetail view={viewAfter('failed-script', () => false)} width={100} />).lastFrame() ?? '';
    expect(frame).toContain('failed');
    expect(frame).toContain('3 columns');
    expect(frame).toContain('about to fail');
  });
});
