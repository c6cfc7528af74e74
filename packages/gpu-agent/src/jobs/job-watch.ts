import { isTerminalJobState, type JobEvent } from '@gpulink/proto';
import { status } from '@grpc/grpc-js';
import { StatusError } from '../rpc/status-error.js';
import { messageBytes } from './event-size.js';
import type { LiveJob } from './live-job.js';

/**
 * Sends a job's events after `afterSeq` through `send`, in order and in batches (whatever is ready,
 * in messages of bounded bytes, see MessageBudget): from the events an active job keeps in memory
 * (shared by every watcher) or else from its log on disk in bounded chunks, then live as they are
 * appended, until the terminal state change (or the end of the log with `replayOnly`). Nothing here
 * holds more than one chunk of the log, so watchers cost the same whatever the log's length.
 */
export async function watchJob(
  live: LiveJob,
  afterSeq: number,
  replayOnly: boolean,
  send: (events: JobEvent[]) => Promise<void>,
  signal: AbortSignal,
  maxMessageBytes = 0,
): Promise<void> {
  const budget = new MessageBudget(maxMessageBytes);
  let next = afterSeq + 1;
  /** Sends `events` (which start at `next`) in messages; false once the watcher went away. */
  const sendAll = async (events: JobEvent[]): Promise<boolean> => {
    for (let from = 0; from < events.length; ) {
      if (signal.aborted) return false;
      const batch = nextBatch(events, from, events.length, budget.take());
      from += batch.length;
      next = (batch.at(-1) as JobEvent).seq + 1;
      await send(batch);
    }
    return !signal.aborted;
  };
  while (!signal.aborted) {
    // Only what is on disk is shown: an event a client saw must survive the agent being killed.
    const durable = live.durableSeq;
    if (next <= durable) {
      const recent = live.recent(next, durable);
      if (recent) {
        if (!(await sendAll(recent))) return;
        continue;
      }
      // Older than what memory keeps (or a finished job): from disk, until memory has the rest.
      for await (const chunk of live.readLog(next - 1, durable)) {
        if (!(await sendAll(chunk))) return;
        if (live.recent(next, next)?.length) break;
      }
      if (next <= durable) {
        // The log on disk ends before the durable mark: it could not be read whole.
        throw new StatusError(
          status.DATA_LOSS,
          `the log of job ${live.id} on disk ends at seq ${next - 1}, before seq ${durable}`,
        );
      }
      continue;
    }
    if (!live.active) {
      // A finished job: its log on disk is complete (or ends where it could not be written).
      if (live.logFailure && !replayOnly) throw live.logFailureStatus();
      return;
    }
    const last = live.recent(durable, durable)?.[0];
    const ended = last?.kind?.$case === 'stateChanged' && isTerminalJobState(last.kind.value.state);
    if (ended || replayOnly) return;
    if (live.logFailure) throw live.logFailureStatus();
    await live.changed(signal);
  }
}

/** Events per WatchJob message at most. */
const WATCH_BATCH_EVENTS = 256;
/**
 * The bytes a WatchJob message stays under (but for a single larger event, which goes alone): each
 * stream's first message is small and each next one may be twice the last, up to the bound the
 * client asked for (WatchJobRequest.max_message_bytes) or else WATCH_MAX_MESSAGE_BYTES. A link that
 * drops every few KiB still carries the first messages of each new stream, and resuming after a cut
 * starts small again; a link that holds grows them in a few messages.
 */
const WATCH_FIRST_MESSAGE_BYTES = 4 * 1024;
const WATCH_MAX_MESSAGE_BYTES = 256 * 1024;
/** The least a client may ask for: below it every event would go alone anyway. */
const WATCH_MIN_MESSAGE_BYTES = 512;

/** The growing byte bound of one stream's messages. */
class MessageBudget {
  readonly #max: number;
  #next: number;
  constructor(requestedMax: number) {
    this.#max =
      requestedMax > 0
        ? Math.min(WATCH_MAX_MESSAGE_BYTES, Math.max(WATCH_MIN_MESSAGE_BYTES, requestedMax))
        : WATCH_MAX_MESSAGE_BYTES;
    this.#next = Math.min(WATCH_FIRST_MESSAGE_BYTES, this.#max);
  }
  /** The bound for the next message; the one after may be twice as large. */
  take(): number {
    const bytes = this.#next;
    this.#next = Math.min(this.#max, this.#next * 2);
    return bytes;
  }
}

/**
 * events[from..] up to `end` (exclusive) that fit one WatchJob message: at least one event, at most
 * WATCH_BATCH_EVENTS, and at most `maxBytes` on the wire.
 */
function nextBatch(events: JobEvent[], from: number, end: number, maxBytes: number): JobEvent[] {
  let to = from;
  let bytes = 0;
  while (to < end && to - from < WATCH_BATCH_EVENTS) {
    const size = messageBytes(events[to] as JobEvent);
    if (to > from && bytes + size > maxBytes) break;
    bytes += size;
    to++;
  }
  return events.slice(from, to);
}
