// Parsers for option values, given to commander so a bad value is a usage error (exit 2) named after
// its option, before the command connects, hashes or uploads anything.
import { InvalidArgumentError } from 'commander';

/** A whole number of at least `min`, e.g. `.option('--limit <n>', 'how many', wholeNumber(1), 20)`. */
export function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n))
      throw new InvalidArgumentError(`Expected a whole number.`);
    if (n < min) throw new InvalidArgumentError(`Expected ${min} or more.`);
    return n;
  };
}

/** A finite number, more than `above` and less than `below` when given. */
export function decimal(range: { above?: number; below?: number } = {}): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('Expected a number.');
    if (range.above !== undefined && n <= range.above)
      throw new InvalidArgumentError(`Expected more than ${range.above}.`);
    if (range.below !== undefined && n >= range.below)
      throw new InvalidArgumentError(`Expected less than ${range.below}.`);
    return n;
  };
}

/** A comma-separated list of whole numbers of at least `min`, e.g. `--layers 200,100`. */
export function wholeNumberList(min: number): (value: string) => number[] {
  const one = wholeNumber(min);
  return (value) => value.split(',').map(one);
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A moment in the past: a duration back from now (`90s`, `10m`, `2h`, `1d`, `1h30m`) or a date and
 * time `Date` reads (`2026-12-01T14:00`, `2026-12-01 14:00:00Z`), e.g. for `--since`.
 */
export function pastTime(now: () => number = Date.now): (value: string) => Date {
  return (value) => {
    const text = value.trim();
    if (/^(\d+(\.\d+)?[smhd])+$/.test(text)) {
      let ms = 0;
      for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)([smhd])/g))
        ms += Number(n) * (UNIT_MS[unit as string] ?? 0);
      return new Date(now() - ms);
    }
    const time = /^\d{4}-\d\d-\d\d/.test(text) ? new Date(text) : new Date(Number.NaN);
    if (Number.isNaN(time.getTime()))
      throw new InvalidArgumentError(
        'Expected a duration such as 30s, 10m, 2h, 1d, or a time such as 2026-12-01T14:00.',
      );
    return time;
  };
}
