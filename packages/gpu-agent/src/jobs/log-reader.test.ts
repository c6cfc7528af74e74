// readLogChunks on real files: chunk bounds, skipping by seq, a log read while it grows, a torn tail.
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobEvent, LogStream } from '@gpulink/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOG_READ_BYTES, readLogChunks } from './log-reader.js';

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpulink-log-reader-'));
  path = join(dir, 'events.ndjson');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const line = (seq: number, text: string) =>
  `${JSON.stringify(
    JobEvent.toJSON({
      seq,
      time: new Date(0),
      jobId: 'j',
      attempt: 1,
      kind: { $case: 'log', value: { stream: LogStream.LOG_STREAM_STDOUT, text } },
    }),
  )}\n`;
const logText = (e: JobEvent) => (e.kind?.$case === 'log' ? e.kind.value.text : '');

async function readAll(options: Parameters<typeof readLogChunks>[1]) {
  const chunks: JobEvent[][] = [];
  for await (const chunk of readLogChunks(path, options)) chunks.push(chunk);
  return chunks;
}

describe('readLogChunks', () => {
  it('reads every event in order, in chunks of about LOG_READ_BYTES', async () => {
    const lines = Array.from({ length: 5_000 }, (_v, i) =>
      line(i + 1, `line ${i + 1} ${'é'.repeat(i % 50)}`),
    );
    await writeFile(path, lines.join(''));
    const chunks = await readAll({ afterSeq: 0 });
    expect(chunks.flat().map((e) => e.seq)).toEqual(lines.map((_l, i) => i + 1));
    expect(chunks.flat().map(logText)[41]).toBe(`line 42 ${'é'.repeat(41)}`);
    expect(chunks.length).toBeGreaterThan(1);
    // One read, and the end of the line the previous read cut.
    const longest = Math.max(...lines.map((l) => Buffer.byteLength(l)));
    for (const chunk of chunks) {
      const bytes = chunk.reduce((n, e) => n + Buffer.byteLength(line(e.seq, logText(e))), 0);
      expect(bytes).toBeLessThanOrEqual(LOG_READ_BYTES + longest);
    }
  });

  it('skips events up to afterSeq and stops after untilSeq', async () => {
    await writeFile(path, Array.from({ length: 300 }, (_v, i) => line(i + 1, 'x')).join(''));
    const read = (await readAll({ afterSeq: 120, untilSeq: 250 })).flat();
    expect(read.map((e) => e.seq)).toEqual(Array.from({ length: 130 }, (_v, i) => i + 121));
  });

  it('reads a line longer than one read whole', async () => {
    const long = 'y'.repeat(LOG_READ_BYTES * 3 + 17);
    await writeFile(path, line(1, 'a') + line(2, long) + line(3, 'b'));
    expect((await readAll({ afterSeq: 0 })).flat().map(logText)).toEqual(['a', long, 'b']);
  });

  it('drops a torn last line, and cuts it off the file only when asked', async () => {
    const whole = line(1, 'a') + line(2, 'b');
    await writeFile(path, `${whole}{"seq":3,"ti`);
    expect((await readAll({ afterSeq: 0 })).flat().map((e) => e.seq)).toEqual([1, 2]);
    expect(await readFile(path, 'utf8')).toBe(`${whole}{"seq":3,"ti`);
    expect((await readAll({ afterSeq: 0, cutTornTail: true })).flat().map((e) => e.seq)).toEqual([1, 2]);
    expect(await readFile(path, 'utf8')).toBe(whole);
  });

  it('sees lines appended while it reads, and a missing log has no events', async () => {
    await writeFile(path, Array.from({ length: 2_000 }, (_v, i) => line(i + 1, 'z'.repeat(100))).join(''));
    const seqs: number[] = [];
    let appended = false;
    for await (const chunk of readLogChunks(path, { afterSeq: 0 })) {
      seqs.push(...chunk.map((e) => e.seq));
      if (!appended) {
        appended = true;
        await appendFile(path, line(2_001, 'late'));
      }
    }
    expect(seqs).toEqual(Array.from({ length: 2_001 }, (_v, i) => i + 1));
    await rm(path);
    expect(await readAll({ afterSeq: 0 })).toEqual([]);
  });
});
