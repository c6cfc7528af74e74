// Small numeric and formatting helpers shared by the suites. Figures are medians of several runs:
// the benchmark machine is shared and noisy, and one slow run should not decide a row.

/** The median of a list of numbers (the mean of the middle two for an even count). */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The p-th percentile (0..100) by nearest rank, which never invents a value that was not measured. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function seconds(ms) {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function millis(ms) {
  return Number.isFinite(ms) ? `${ms.toFixed(ms < 10 ? 2 : 1)} ms` : 'n/a';
}

export function bytes(n) {
  if (!Number.isFinite(n)) return 'n/a';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export function rate(bytesPerSecond) {
  return Number.isFinite(bytesPerSecond) ? `${bytes(bytesPerSecond)}/s` : 'n/a';
}

export function count(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

export function percent(fraction) {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)}%` : 'n/a';
}

/** "5.2x faster" / "1.3x slower" for two durations (lower is better). */
export function speedup(ours, baseline) {
  if (!Number.isFinite(ours) || !Number.isFinite(baseline) || ours <= 0) return 'n/a';
  const r = baseline / ours;
  return r >= 1 ? `${r.toFixed(1)}x faster` : `${(1 / r).toFixed(2)}x slower`;
}

/** "+2.1%" / "-0.4%" slower than the baseline (durations). */
export function overhead(ours, baseline) {
  if (!Number.isFinite(ours) || !Number.isFinite(baseline) || baseline <= 0) return 'n/a';
  const d = ours / baseline - 1;
  return `${d >= 0 ? '+' : ''}${(d * 100).toFixed(1)}%`;
}

/** Milliseconds since an earlier `now()`; sub-millisecond, monotonic. */
export function now() {
  return performance.now();
}

/** Wall-clock epoch milliseconds with sub-millisecond precision, comparable with Python's time.time(). */
export function epochMs() {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
