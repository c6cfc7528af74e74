import { open } from 'node:fs/promises';
import { JobEvent } from '@gpulink/proto';

/**
 * Bytes read from a log at a time. A reader holds one read, the line it cuts (a line may be longer:
 * the worker's lines are bounded by MAX_LINE in worker-process.ts) and the events parsed from it, so
 * replaying a log costs about this much whatever its length.
 */
export const LOG_READ_BYTES = 64 * 1024;

export interface LogReadOptions {
  /** Events with seq <= afterSeq are skipped (without a full parse). */
  afterSeq: number;
  /** Events with seq > untilSeq are not read: the log may be longer than what the caller may show. */
  untilSeq?: number;
  /** Cuts a torn last line (a crash mid-write) off the file; only when no one appends to it. */
  cutTornTail?: boolean;
}

const NEWLINE = 0x0a;
/** Every line starts so (JobEvent.toJSON writes seq first): its seq is read without parsing the rest. */
const SEQ_PREFIX = Buffer.from('{"seq":');

/**
 * The events of one NDJSON log (jobs/<id>/events.ndjson) in order, in chunks of about
 * LOG_READ_BYTES, from disk. A missing file has no events. The file may grow while it is read.
 */
export async function* readLogChunks(path: string, options: LogReadOptions): AsyncGenerator<JobEvent[]> {
  const until = options.untilSeq ?? Number.POSITIVE_INFINITY;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, options.cutTornTail ? 'r+' : 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(LOG_READ_BYTES);
    /** Bytes of the file before `carry`: where the next whole line starts. */
    let lineStart = 0;
    let carry = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, lineStart + carry.length);
      if (bytesRead === 0) break;
      const data = carry.length > 0 ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer;
      const end = carry.length + bytesRead;
      const chunk: JobEvent[] = [];
      let from = 0;
      for (let nl = data.indexOf(NEWLINE, from); nl >= 0 && nl < end; nl = data.indexOf(NEWLINE, from)) {
        const line = data.subarray(from, nl);
        from = nl + 1;
        if (line.length === 0) continue;
        const seq = leadingSeq(line);
        if (seq !== undefined && seq <= options.afterSeq) continue;
        if (seq !== undefined && seq > until) {
          if (chunk.length > 0) yield chunk;
          return;
        }
        const event = JobEvent.fromJSON(JSON.parse(line.toString('utf8')));
        if (event.seq > until) {
          if (chunk.length > 0) yield chunk;
          return;
        }
        if (event.seq > options.afterSeq) chunk.push(event);
      }
      lineStart += from;
      // The rest is a line still to be completed by the next read; copied, as `buffer` is reused.
      carry = Buffer.from(data.subarray(from, end));
      if (chunk.length > 0) yield chunk;
    }
    if (carry.length > 0 && options.cutTornTail) await handle.truncate(lineStart).catch(() => undefined);
  } finally {
    await handle.close();
  }
}

/** The seq at the start of a log line, or undefined when the line does not start the usual way. */
function leadingSeq(line: Buffer): number | undefined {
  if (
    line.length <= SEQ_PREFIX.length ||
    line.compare(SEQ_PREFIX, 0, SEQ_PREFIX.length, 0, SEQ_PREFIX.length) !== 0
  )
    return undefined;
  let seq = 0;
  let i = SEQ_PREFIX.length;
  for (
    ;
    i < line.length && line[i] !== undefined && (line[i] as number) >= 0x30 && (line[i] as number) <= 0x39;
    i++
  )
    seq = seq * 10 + ((line[i] as number) - 0x30);
  return i > SEQ_PREFIX.length && (line[i] === 0x2c || line[i] === 0x7d) ? seq : undefined;
}
