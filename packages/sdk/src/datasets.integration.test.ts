// Uploads to the real agent through a TCP proxy that counts the bytes crossing it.
import { join } from 'node:path';
import { startTcpProxy, type TcpProxy } from '@gpulink/gpu-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from './client.js';
import type { UploadProgress } from './datasets.js';
import { GpulinkError, hasStatus } from './errors.js';
import { startTestAgent, type TestAgent, tempDir, uniqueBytes, writeFiles } from './test-utils/real-agent.js';

const MiB = 1024 * 1024;

let agent: TestAgent;
let proxy: TcpProxy;
let dir: string;
let url: string;

beforeAll(async () => {
  agent = await startTestAgent();
  proxy = await startTcpProxy(agent.port);
  dir = await tempDir('datasets');
  url = `gpulink://${agent.token}@127.0.0.1:${proxy.port}`;
});

afterAll(async () => {
  await proxy?.close();
  await agent?.stop();
});

describe('datasets.upload()', () => {
  it('sends each content once, and nothing at all for an unchanged folder', async () => {
    const a = uniqueBytes(3 * MiB);
    await writeFiles(join(dir, 'same'), {
      'train/a.bin': a,
      'train/copy-of-a.bin': a,
      'train/b.bin': uniqueBytes(2 * MiB + 5),
      'labels.csv': 'file,label\na.bin,x\n',
    });
    const total = 2 * a.length + 2 * MiB + 5 + 19;
    await using client = await connect(url);

    const before = proxy.bytesToAgent;
    const first = await client.datasets.upload(join(dir, 'same'), { name: 'same', hashCache: false });
    const firstWire = proxy.bytesToAgent - before;
    expect(first).toMatchObject({ fileCount: 4, totalBytes: total, reusedBytes: 0, resumedBytes: 0 });
    // The duplicate is stored once: distinct contents only.
    expect(first.sentBytes).toBe(total - a.length);
    expect(firstWire).toBeGreaterThan(first.sentBytes);
    expect(first.dataset).toMatchObject({ name: 'same', fileCount: 4, sizeBytes: total });
    expect(first.dataset.id).toMatch(/^ds_[0-9a-f]{24}$/);

    const progress: UploadProgress[] = [];
    const again = proxy.bytesToAgent;
    const second = await client.datasets.upload(join(dir, 'same'), {
      name: 'same',
      hashCache: join(dir, 'hash-cache.json'),
      onProgress: (p) => progress.push(p),
    });
    const secondWire = proxy.bytesToAgent - again;
    expect(second.sentBytes).toBe(0);
    expect(second.reusedBytes).toBe(total - a.length);
    expect(second.dataset.id).toBe(first.dataset.id);
    // Only the manifest and the RPC framing crossed the wire: a few KB, not megabytes of files.
    expect(secondWire).toBeLessThan(16 * 1024);
    expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['hashing', 'committing', 'done']));
    expect(progress.at(-1)).toMatchObject({
      phase: 'done',
      filesHashed: 4,
      bytesHashed: total,
      bytesToSend: 0,
    });

    const listed = await client.datasets.list();
    expect(listed.map((d) => d.id)).toContain(first.dataset.id);
  });

  it('sends a first upload while it still hashes the folder, each content once', async () => {
    // 64 files of 1 MiB: the agent is asked about the first ones long before the last are hashed.
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 64; i++) files[`part-${String(i).padStart(2, '0')}.bin`] = uniqueBytes(MiB);
    files['copy-of-part-00.bin'] = files['part-00.bin'] as Buffer;
    await writeFiles(join(dir, 'early'), files);
    const total = 65 * MiB;
    await using client = await connect(url);

    const progress: UploadProgress[] = [];
    const before = proxy.bytesToAgent;
    const first = await client.datasets.upload(join(dir, 'early'), {
      hashCache: false,
      onProgress: (p) => progress.push(p),
    });
    const wire = proxy.bytesToAgent - before;
    expect(progress.some((p) => p.phase === 'hashing' && p.bytesSent > 0)).toBe(true);
    expect(first).toMatchObject({ fileCount: 65, totalBytes: total, sentBytes: 64 * MiB, reusedBytes: 0 });
    expect(first.dataset).toMatchObject({ fileCount: 65, sizeBytes: total });
    // Every content once: the manifests and framing are the rest.
    expect(wire).toBeLessThan(64 * MiB + 256 * 1024);
    expect(progress.at(-1)).toMatchObject({ phase: 'done', bytesToSend: 64 * MiB, bytesSent: 64 * MiB });
    const sent = progress.map((p) => p.bytesSent);
    expect(sent).toEqual([...sent].sort((a, b) => a - b));
  });

  it('finishes a first upload whose connection is cut while it sends and still hashes', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 64; i++) files[`part-${String(i).padStart(2, '0')}.bin`] = uniqueBytes(MiB);
    await writeFiles(join(dir, 'early-cut'), files);
    await using client = await connect(url);
    let cut = false;
    const result = await client.datasets.upload(join(dir, 'early-cut'), {
      hashCache: false,
      onProgress: (p) => {
        if (!cut && p.phase === 'hashing' && p.bytesSent > 0) {
          cut = true;
          proxy.cutAll();
        }
      },
    });
    expect(cut).toBe(true);
    // Every blob arrived verified (the agent hashes each), the ones cut in the middle resumed.
    expect(result.dataset).toMatchObject({ fileCount: 64, sizeBytes: 64 * MiB });
    expect(result.fileCount).toBe(64);
  });

  it('resumes an aborted upload without resending what arrived', async () => {
    const size = 24 * MiB;
    await writeFiles(join(dir, 'big'), { 'weights.bin': uniqueBytes(size), 'small.txt': 'small' });
    await using client = await connect(url);

    const controller = new AbortController();
    let sentWhenAborted = 0;
    const aborted = await client.datasets
      .upload(join(dir, 'big'), {
        hashCache: false,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'uploading' && p.bytesSent >= size / 2 && !controller.signal.aborted) {
            sentWhenAborted = p.bytesSent;
            controller.abort(new Error('stopped halfway'));
          }
        },
      })
      .catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(GpulinkError);
    expect((aborted as GpulinkError).code).toBe('CANCELLED');
    expect((aborted as GpulinkError).message).toContain('stopped halfway');
    expect(sentWhenAborted).toBeGreaterThanOrEqual(size / 2);

    const before = proxy.bytesToAgent;
    const resumed = await client.datasets.upload(join(dir, 'big'), { hashCache: false });
    const wire = proxy.bytesToAgent - before;
    // What the agent kept from the aborted try is not sent again.
    expect(resumed.resumedBytes).toBeGreaterThan(0);
    expect(resumed.sentBytes + resumed.resumedBytes + resumed.reusedBytes).toBe(size + 5);
    expect(resumed.sentBytes).toBeLessThan(size);
    expect(wire).toBeLessThan(size - resumed.resumedBytes + 256 * 1024);
    expect(resumed.dataset.sizeBytes).toBe(size + 5);
  });

  it('uploads a folder holding empty files, and the dataset holds them empty', async () => {
    const { readFile } = await import('node:fs/promises');
    await writeFiles(join(dir, 'with-empty'), {
      'train/__init__.py': '',
      'train/also-empty.txt': '',
      'train/a.txt': 'a',
    });
    await using client = await connect(url);
    const result = await client.datasets.upload(join(dir, 'with-empty'), { hashCache: false });
    expect(result).toMatchObject({ fileCount: 3, totalBytes: 1, sentBytes: 1 });
    const files = join(agent.stateDir, 'datasets', result.dataset.id, 'files', 'train');
    expect(await readFile(join(files, '__init__.py'), 'utf8')).toBe('');
    expect(await readFile(join(files, 'a.txt'), 'utf8')).toBe('a');
    // Again, now that the agent holds the empty content: nothing to send, the same dataset.
    const again = await client.datasets.upload(join(dir, 'with-empty'), { hashCache: false });
    expect(again).toMatchObject({ sentBytes: 0, dataset: { id: result.dataset.id } });
  });

  it('refuses a symbolic link before sending anything', async () => {
    const { symlink } = await import('node:fs/promises');
    await writeFiles(join(dir, 'linked'), { 'ok.txt': 'ok' });
    await symlink('/etc/hostname', join(dir, 'linked', 'host'));
    await using client = await connect(url);
    const before = proxy.bytesToAgent;
    await expect(client.datasets.upload(join(dir, 'linked'), { hashCache: false })).rejects.toThrow(
      /^INVALID_ARGUMENT: 'host' in .* is a symbolic link/,
    );
    expect(proxy.bytesToAgent).toBe(before);
  });

  it.each([
    // Its hash comes from the cache, so its bytes were not kept from hashing: it is read to be sent.
    ['a small file whose hash was cached', 'small.txt', 100],
    ['a file of several chunks', 'large.bin', 3 * MiB],
  ])('refuses %s that shrank after it was hashed, and commits nothing', async (_what, name, size) => {
    const { truncateSync, utimesSync } = await import('node:fs');
    const folder = join(dir, `shrinking-${name}`);
    const hashCache = join(dir, `shrinking-${name}.cache.json`);
    await writeFiles(folder, { [name]: uniqueBytes(size), 'other.txt': 'stays' });
    // Written an hour ago: the cache trusts a hash only of a file older than it by a few seconds.
    const anHourAgo = new Date(Date.now() - 3600_000);
    for (const f of [name, 'other.txt']) utimesSync(join(folder, f), anHourAgo, anHourAgo);
    await using client = await connect(url);
    // Stored once and deleted again: the hash cache knows the files, the agent holds none of them.
    const warmUp = await client.datasets.upload(folder, { hashCache });
    await client.datasets.delete(warmUp.dataset.id);
    const error = await client.datasets
      .upload(folder, {
        name: `shrinking-${name}`,
        hashCache,
        onProgress: (p) => {
          if (p.phase === 'uploading' && p.bytesSent === 0) truncateSync(join(folder, name), size - 10);
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpulinkError);
    expect((error as GpulinkError).message).toBe(
      `FAILED_PRECONDITION: '${name}' changed while it was being uploaded (expected ${size} bytes); upload again`,
    );
    expect((error as GpulinkError).method).toBe('DataService.UploadBlobs');
    expect((await client.datasets.list()).map((d) => d.name)).not.toContain(`shrinking-${name}`);
  });

  it('sends a small file as it was when hashed, even if it changes before it is sent', async () => {
    const { writeFileSync } = await import('node:fs');
    const folder = join(dir, 'snapshot');
    await writeFiles(folder, { 'note.txt': 'as hashed' });
    await using client = await connect(url);
    const result = await client.datasets.upload(folder, {
      hashCache: false,
      onProgress: (p) => {
        if (p.phase === 'uploading' && p.bytesSent === 0)
          writeFileSync(join(folder, 'note.txt'), 'rewritten');
      },
    });
    expect(result).toMatchObject({ fileCount: 1, sentBytes: 9 });
    // The agent verified the bytes against the manifest's hash: the dataset holds 'as hashed'.
    const again = await client.datasets.upload(folder, { hashCache: false });
    expect(again.dataset.id).not.toBe(result.dataset.id);
  });

  it('deletes a dataset, and says NOT_FOUND the second time', async () => {
    await writeFiles(join(dir, 'doomed'), { 'x.txt': 'doomed' });
    await using client = await connect(url);
    const { dataset } = await client.datasets.upload(join(dir, 'doomed'), { hashCache: false });
    await client.datasets.delete(dataset.id);
    expect((await client.datasets.list()).map((d) => d.id)).not.toContain(dataset.id);
    const again = await client.datasets.delete(dataset.id).catch((e: unknown) => e);
    expect(hasStatus(again, 'NOT_FOUND')).toBe(true);
    expect((again as GpulinkError).method).toBe('DataService.DeleteDataset');
  });
});
