/** Text gauges shared by the components: a block progress bar and a sparkline. */

const SPARKS = '▁▂▃▄▅▆▇█';

/** A bar of `width` cells filled to `fraction` (0..1). */
export function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** The last `width` values as a sparkline scaled between their min and max (or the given range). */
export function sparkline(values: number[], width: number, range?: { min: number; max: number }): string {
  const tail = values.filter((v) => Number.isFinite(v)).slice(-width);
  if (tail.length === 0) return '';
  const min = range?.min ?? Math.min(...tail);
  const max = range?.max ?? Math.max(...tail);
  const span = max - min || 1;
  return tail.map((v) => SPARKS[Math.min(7, Math.max(0, Math.round(((v - min) / span) * 7)))]).join('');
}
