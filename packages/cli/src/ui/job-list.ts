import type { JobInfo, JobState } from '@gpulink/sdk';

/** How the dashboard's jobs list is ordered; `s` cycles through them. */
export const SORT_KEYS = ['newest', 'state', 'name'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export function nextSortKey(key: SortKey): SortKey {
  return SORT_KEYS[(SORT_KEYS.indexOf(key) + 1) % SORT_KEYS.length] ?? 'newest';
}

/** Live jobs first (running, then waiting), then the finished ones, failures first. */
const STATE_ORDER: Record<JobState, number> = {
  running: 0,
  starting: 1,
  queued: 2,
  failed: 3,
  interrupted: 4,
  cancelled: 5,
  succeeded: 6,
};

const newestFirst = (a: JobInfo, b: JobInfo) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0);

const label = (j: JobInfo) => j.name || j.task.type;

/** The jobs matching `filter` (in their id, name, kind, state or tags; any case), in `sort` order. */
export function shownJobs(jobs: readonly JobInfo[], sort: SortKey, filter: string): JobInfo[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const matching = jobs.filter((j) => {
    const text = [j.id, j.name, j.task.type, j.state, ...j.tags].join(' ').toLowerCase();
    return words.every((w) => text.includes(w));
  });
  const order: Record<SortKey, (a: JobInfo, b: JobInfo) => number> = {
    newest: newestFirst,
    state: (a, b) => (STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9) || newestFirst(a, b),
    name: (a, b) => label(a).localeCompare(label(b)) || newestFirst(a, b),
  };
  return [...matching].sort(order[sort]);
}
