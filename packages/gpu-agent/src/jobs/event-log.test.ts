// EventLog on a real file. A full disk is exercised for real in chaos/disk-full.integration.test.ts
// (a tmpfs that fills while a job runs); here: order, group commit, and a log that cannot be opened.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog } from './event-log.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpulink-event-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('EventLog', () => {
  it('writes a burst of appends whole and in order, and each settles once its line is written', async () => {
    const path = join(dir, 'events.ndjson');
    const log = new EventLog(path);
    const settled: number[] = [];
    const lines = Array.from(
      { length: 5_000 },
      (_v, i) => `{"seq":${i + 1},"text":"${'é'.repeat(i % 7)}"}\n`,
    );
    await Promise.all(lines.map((line, i) => log.append(line).then(() => settled.push(i))));
    expect(settled).toEqual(lines.map((_l, i) => i));
    expect(await readFile(path, 'utf8')).toBe(lines.join(''));
    await log.close();
  });

  it('counts what waits for the disk, and says when all of it is written', async () => {
    const path = join(dir, 'events.ndjson');
    const log = new EventLog(path);
    const lines = Array.from({ length: 1_000 }, (_v, i) => `{"seq":${i + 1}}\n`);
    for (const line of lines) log.append(line).catch(() => undefined);
    expect(log.backlogChars).toBe(lines.join('').length);
    await log.drained();
    expect(log.backlogChars).toBe(0);
    expect(await readFile(path, 'utf8')).toBe(lines.join(''));
    await log.close();
  });

  it('appends after what the file already holds', async () => {
    const path = join(dir, 'events.ndjson');
    await writeFile(path, '{"seq":1}\n');
    const log = new EventLog(path);
    await log.append('{"seq":2}\n');
    await log.close();
    expect(await readFile(path, 'utf8')).toBe('{"seq":1}\n{"seq":2}\n');
  });

  it('rejects every append once the log fails, and says why', async () => {
    const log = new EventLog(join(dir, 'missing', 'events.ndjson'));
    const first = log.append('{"seq":1}\n');
    const second = log.append('{"seq":2}\n');
    await expect(first).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(second).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(log.append('{"seq":3}\n')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(log.failure).toMatchObject({ code: 'ENOENT' });
    await log.close();
  });

  it('gives up at once when more is waiting than it may hold', async () => {
    const log = new EventLog(join(dir, 'events.ndjson'), { maxPendingChars: 10 });
    await expect(log.append('{"seq":1,"text":"longer than ten"}\n')).rejects.toMatchObject({
      code: 'ENOSPC',
    });
    await log.close();
  });
});
