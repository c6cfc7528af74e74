/** Human-readable figures for plain output and the UI. */

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n >= 100 || u === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[u]}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatPercent(p: number | undefined): string {
  return p === undefined ? '-' : `${Math.round(p)}%`;
}

/** A loss or metric: 4 significant digits, small values in exponent form. */
export function formatNumber(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (n !== 0 && Math.abs(n) < 1e-3) return n.toExponential(2);
  return n.toPrecision(4);
}

export function formatAge(date: Date | undefined, now = Date.now()): string {
  if (!date) return '-';
  return `${formatDuration(now - date.getTime())} ago`;
}

/**
 * Each id cut to the shortest prefix that no other id in `ids` starts with, and at least `minLength`
 * long: what a list shows where the full id does not fit. Every command that takes a job accepts it.
 */
export function abbreviateIds(ids: readonly string[], minLength = 12): Map<string, string> {
  const sorted = [...ids].sort();
  const out = new Map<string, string>();
  for (const [i, id] of sorted.entries()) {
    // Sorted, the ids sharing the longest start with this one are its neighbours.
    const shared = Math.max(commonStart(id, sorted[i - 1]), commonStart(id, sorted[i + 1]));
    out.set(id, id.slice(0, Math.max(minLength, shared + 1)));
  }
  return out;
}

function commonStart(a: string, b: string | undefined): number {
  let n = 0;
  while (b !== undefined && n < a.length && a[n] === b[n]) n++;
  return n;
}
