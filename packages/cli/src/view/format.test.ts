import { describe, expect, it } from 'vitest';
import { formatAge, formatDuration } from './format.js';

describe('durations and ages', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const ago = (ms: number) => formatAge(new Date(now - ms), now);

  it('never shows 60 in a seconds or minutes place', () => {
    expect(ago(179_600)).toBe('3m00s ago');
    expect(ago(59_700)).toBe('1m00s ago');
    expect(formatDuration(59_960)).toBe('1m00s');
    expect(formatDuration(3_599_600)).toBe('1h00m');
  });

  it('writes every size the same way: a number and its unit, no space', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_340)).toBe('12.3s');
    expect(formatDuration(125_000)).toBe('2m05s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
    expect(formatDuration(2 * 86_400_000 + 3 * 3_600_000)).toBe('2d03h');
  });

  it('gives ages in whole seconds', () => {
    expect(ago(400)).toBe('0s ago');
    expect(ago(12_340)).toBe('12s ago');
    expect(ago(125_000)).toBe('2m05s ago');
  });
});
