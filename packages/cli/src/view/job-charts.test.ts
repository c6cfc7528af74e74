import { describe, expect, it } from 'vitest';
import { recordedEvents } from '../test-utils/fixtures.js';
import { lossChartLines, lrFindChartLines } from './job-charts.js';
import { emptyJobView, type JobView, reduceJobView } from './job-view.js';

function viewOf(fixture: 'lr-find' | 'vision-digits'): JobView {
  const events = recordedEvents(fixture);
  return events.reduce(reduceJobView, emptyJobView(events[0]?.jobId ?? ''));
}

describe('the lr_find chart of a recorded run', () => {
  const view = viewOf('lr-find');
  const result = view.lrFind;
  if (!result) throw new Error('the fixture has no lr_find result');

  it('has a log-lr axis with labelled decade ticks under the curve', () => {
    const lines = lrFindChartLines(result, { width: 80, height: 10 });
    expect(lines.length).toBeGreaterThanOrEqual(13);
    const axis = lines[10] ?? '';
    const labels = lines[11] ?? '';
    expect(axis).toMatch(/└[─┬]+$/);
    const decades = labels.match(/1e-?\d+/g) ?? [];
    expect(decades.length).toBeGreaterThanOrEqual(3);
    // Each label sits under a tick of the axis line.
    for (const d of decades) {
      const at = labels.indexOf(d);
      expect(axis.slice(at, at + d.length), `${d} at ${at}\n${axis}\n${labels}`).toContain('┬');
    }
    // The y axis is labelled with the highest and lowest loss.
    expect(lines[0]).toMatch(/^\s*\d+\.\d+ ┤/);
    expect(lines.every((l) => l.length <= 80)).toBe(true);
  });

  it('marks each suggestion on the curve and lists them in one number format', () => {
    const lines = lrFindChartLines(result, { width: 80, height: 10 });
    const plot = lines.slice(0, 10).join('\n');
    const legend = lines.slice(12).join(' ');
    for (const s of result.suggestions) {
      const mark = { valley: 'V', slide: 'S', minimum: 'M', steep: 'T' }[s.method] ?? '?';
      expect(plot).toContain(mark);
      expect(legend).toContain(`${mark} ${s.method} ${s.lr.toExponential(2).replace('e+', 'e')}`);
    }
    // No suggestion in another form (0.0004 beside 1.00e-2).
    expect(legend).not.toMatch(/\b0\.\d/);
  });

  it('draws plain ASCII for pipes', () => {
    const lines = lrFindChartLines(result, { width: 60, height: 8, ascii: true });
    expect(lines.join('')).toMatch(/^[\x20-\x7e]*$/);
    expect(lines[8]).toMatch(/\+[-+]+$/);
  });
});

describe('the loss chart of a recorded vision run', () => {
  const view = viewOf('vision-digits');

  it('puts validation loss beside training loss, epochs ticked on the x axis', () => {
    const lines = lossChartLines(view, { width: 70, height: 8 });
    expect(lines).toHaveLength(11);
    expect(lines.slice(0, 8).join('')).toContain('◆');
    expect(lines.slice(0, 8).join('')).toContain('•');
    expect(lines.at(-2)?.trim()).toMatch(/^1\s+2$/);
    expect(lines.at(-1)).toMatch(/• train_loss \d.*◆ valid_loss \d/);
  });
});
