import type { JobEvent } from '@gpulink/proto';
import { isTerminal } from './job-state.js';
import type { LiveJob } from './live-job.js';

/**
 * Sends a job's events after `afterSeq` through `send`, in order and in batches (whatever is ready,
 * see nextBatch): from memory or the log, then live as they are appended, until the terminal state
 * change (or the end of the log with `replayOnly`).
 */
export async function watchJob(
  live: LiveJob,
  afterSeq: number,
  replayOnly: boolean,
  send: (events: JobEvent[]) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  let next = afterSeq + 1;
  if (!live.events) {
    // A finished job: its log on disk is complete (or ends where it could not be written).
    const logged = await live.readLog(afterSeq);
    for (let from = 0; from < logged.length; ) {
      if (signal.aborted) return;
      const batch = nextBatch(logged, from, logged.length);
      from += batch.length;
      await send(batch);
    }
    if (live.logFailure && !replayOnly) throw live.logFailureStatus();
    return;
  }
  const events = live.events;
  // The array, not live.events: a resume after the terminal event starts a new one, and this
  // watcher ends at that terminal event anyway.
  const durable = () => Math.min(live.durableSeq, events.length);
  while (!signal.aborted) {
    while (next <= durable()) {
      const batch = nextBatch(events, next - 1, durable());
      next += batch.length;
      await send(batch);
      if (signal.aborted) return;
    }
    const last = events[durable() - 1];
    const ended = last?.kind?.$case === 'stateChanged' && isTerminal(last.kind.value.state);
    if (ended || replayOnly) return;
    if (live.logFailure) throw live.logFailureStatus();
    await live.changed(signal);
  }
}

/** Events per WatchJob message at most, and the rough bytes a message should stay under. */
const WATCH_BATCH_EVENTS = 256;
const WATCH_BATCH_BYTES = 4 * 1024 * 1024;
/** Kinds whose events can be large; the rest are small but for log lines, which are measured. */
const LARGE_KINDS = new Set<string>(['error', 'interpretation', 'predictions', 'lrFindResult']);

/**
 * events[from..] up to `end` (exclusive) that fit one WatchJob message: at least one event, at most
 * WATCH_BATCH_EVENTS, and about WATCH_BATCH_BYTES (sizes guessed without encoding: log text is
 * measured, kinds that can be large count as 1 MiB, the rest as 2 KiB).
 */
function nextBatch(events: JobEvent[], from: number, end: number): JobEvent[] {
  let to = from;
  let bytes = 0;
  while (to < end && to - from < WATCH_BATCH_EVENTS) {
    const kind = (events[to] as JobEvent).kind;
    const size =
      kind?.$case === 'log'
        ? kind.value.text.length + 64
        : kind && LARGE_KINDS.has(kind.$case)
          ? 1024 * 1024
          : 2048;
    if (to > from && bytes + size > WATCH_BATCH_BYTES) break;
    bytes += size;
    to++;
  }
  return events.slice(from, to);
}
