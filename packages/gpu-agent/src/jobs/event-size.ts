// An event's size in a WatchJob message: what the watch stream's batching and the live job's window
// of recent events both count in bytes.
import { JobEvent } from '@gpulink/proto';

/** Bytes a log event adds to its text's UTF-8 (seq, time, job id, attempt, stream), at most. */
const LOG_EVENT_OVERHEAD = 128;
/** Encoded sizes of other events, each measured once: live events are shared by every watcher. */
const encodedSizes = new WeakMap<JobEvent, number>();

/** An event's bytes in a WatchJob message (log lines, the bulk of most logs, are not encoded twice). */
export function messageBytes(event: JobEvent): number {
  if (event.kind?.$case === 'log') return Buffer.byteLength(event.kind.value.text) + LOG_EVENT_OVERHEAD;
  let size = encodedSizes.get(event);
  if (size === undefined) {
    // With its tag and length inside WatchJobResponse.
    size = JobEvent.encode(event).finish().length + 6;
    encodedSizes.set(event, size);
  }
  return size;
}
