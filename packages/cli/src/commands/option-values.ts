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
