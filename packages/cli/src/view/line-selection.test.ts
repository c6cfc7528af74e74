import { describe, expect, it } from 'vitest';
import { pastTime } from '../commands/option-values.js';
import { SelectedLines } from './line-selection.js';

const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 14, 0, s));

describe('SelectedLines', () => {
  it('keeps the last n, oldest first, and forgets what it gave', () => {
    const lines = new SelectedLines<string>({ tail: 2 });
    for (const [i, text] of ['a', 'b', 'c'].entries()) lines.offer(at(i), text);
    expect(lines.take()).toEqual(['b', 'c']);
    expect(lines.take()).toEqual([]);
  });

  it('drops lines before since, and keeps everything with no selection', () => {
    const since = new SelectedLines<string>({ since: at(1) });
    const all = new SelectedLines<string>({});
    for (const [i, text] of ['a', 'b', 'c'].entries()) {
      since.offer(at(i), text);
      all.offer(at(i), text);
    }
    expect(since.take()).toEqual(['b', 'c']);
    expect(all.take()).toEqual(['a', 'b', 'c']);
  });

  it('takes a tail of 0 as nothing from the past', () => {
    const lines = new SelectedLines<string>({ tail: 0 });
    lines.offer(at(0), 'a');
    expect(lines.take()).toEqual([]);
  });
});

describe('pastTime (--since)', () => {
  const now = at(0).getTime();
  const parse = pastTime(() => now);

  it('reads durations back from now, combined units too', () => {
    expect(parse('30s').getTime()).toBe(now - 30_000);
    expect(parse('10m').getTime()).toBe(now - 600_000);
    expect(parse('1h30m').getTime()).toBe(now - 5_400_000);
    expect(parse('2d').getTime()).toBe(now - 2 * 86_400_000);
  });

  it('reads a date and time', () => {
    expect(parse('2026-12-01T13:00:00Z').toISOString()).toBe('2026-12-01T13:00:00.000Z');
  });

  it.each(['yesterday', '10', '5 minutes', ''])('refuses %j', (text) => {
    expect(() => parse(text)).toThrow(/Expected a duration/);
  });
});
