// Sizes a client declares, against a real agent: a manifest's sizes are held to the blobs the agent
// has (PrepareUpload and CommitDataset) and to the space its state dir has left; an upload chunk's
// size_bytes to that space and to the blob's other chunks. A refused size leaves the dataset list,
// the datasets and the partial uploads as they were, and no list shows a size that is not on disk.
import { createHash } from 'node:crypto';
import { mkdir, readdir, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset, ManifestEntry } from '@gpulink/proto';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClients, unaryCall } from '../test-utils/clients.js';
import { startTestAgent, type TestAgent } from '../testing.js';

let agent: TestAgent;
let c: ReturnType<typeof rawClients>;

const text = 'fourteen bytes';
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const stored = { sha256: sha256(text), sizeBytes: Buffer.byteLength(text) };
const PIB = 2 ** 50;

interface Chunk {
  sha256: string;
  offset: number;
  data: Buffer;
  sizeBytes: number;
}
const upload = (chunks: Chunk[]) =>
  new Promise<{ completedSha256: string[] }>((resolve, reject) => {
    const s = c.data.uploadBlobs(c.metadata(), (e, r) =>
      e ? reject(e) : resolve(r as { completedSha256: string[] }),
    );
    for (const chunk of chunks) s.write(chunk);
    s.end();
  });
const prepare = (files: ManifestEntry[]) =>
  unaryCall((cb) => c.data.prepareUpload({ name: 'sizes', files }, c.metadata(), cb));
const commit = (files: ManifestEntry[]) =>
  unaryCall<{ dataset?: Dataset }>((cb) => c.data.commitDataset({ name: 'sizes', files }, c.metadata(), cb));
const list = async () =>
  (
    await unaryCall<{ datasets: Dataset[] }>((cb) =>
      c.data.listDatasets({ pageSize: 1000, pageToken: '' }, c.metadata(), cb),
    )
  ).datasets.map((d) => ({ id: d.id, sizeBytes: d.sizeBytes, fileCount: d.fileCount }));
const stateFiles = async () => ({
  datasets: await readdir(join(agent.stateDir, 'datasets')),
  uploads: await readdir(join(agent.stateDir, 'uploads')),
});

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  if (!error) throw new Error('the call should have failed');
  return error;
}
async function freeBytes(): Promise<number> {
  const fs = await statfs(agent.stateDir);
  return fs.bavail * fs.bsize;
}

beforeAll(async () => {
  agent = await startTestAgent();
  c = rawClients(agent.port, agent.token);
  await upload([{ ...stored, offset: 0, data: Buffer.from(text) }]);
  // One honest dataset, so "unchanged" is a list with something in it.
  await commit([{ path: 'honest.txt', ...stored }]);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
});

describe('sizes declared in a manifest', () => {
  it.each([
    ['1 PiB', PIB],
    ['2^53-1 bytes', Number.MAX_SAFE_INTEGER],
    ['one byte more', stored.sizeBytes + 1],
    ['one byte less', stored.sizeBytes - 1],
    ['zero bytes', 0],
  ])('refuses %s for a blob the agent has (prepare and commit), the list unchanged', async (_l, size) => {
    const before = { list: await list(), files: await stateFiles() };
    const files = [{ path: 'lie.txt', sha256: stored.sha256, sizeBytes: size }];
    for (const call of [prepare(files), commit(files)]) {
      const error = await failure(call);
      expect(status[error.code]).toBe('INVALID_ARGUMENT');
      if (size === 0) {
        // Zero bytes has one sha256 of its own, so the manifest contradicts itself before any blob.
        expect(error.details).toContain(`an empty file's sha256 is`);
        expect(error.details).toContain(`not ${stored.sha256}`);
      } else {
        expect(error.details).toContain(`blob ${stored.sha256} is ${stored.sizeBytes} bytes`);
        expect(error.details).toContain(`the manifest says ${size}`);
      }
    }
    expect(await list()).toEqual(before.list);
    expect(await stateFiles()).toEqual(before.files);
  });

  it('refuses missing blobs larger than the free space with RESOURCE_EXHAUSTED, naming it', async () => {
    const before = { list: await list(), files: await stateFiles() };
    for (const sizes of [[PIB], [Number.MAX_SAFE_INTEGER], 'each fits, not together'] as const) {
      const free = await freeBytes();
      // Two blobs of 60% of the free space each: either fits, both do not.
      const declared = typeof sizes === 'string' ? [Math.ceil(free * 0.6), Math.ceil(free * 0.6)] : sizes;
      const files = declared.map((sizeBytes, i) => ({
        path: `big/${i}.bin`,
        sha256: sha256(`not uploaded ${i} ${sizeBytes}`),
        sizeBytes,
      }));
      const error = await failure(prepare(files));
      expect(status[error.code], String(sizes)).toBe('RESOURCE_EXHAUSTED');
      expect(error.details).toMatch(/bytes free/);
      // Not uploaded either: commit refuses it too, with whichever of the two reasons.
      const refused = await failure(commit(files));
      expect(['RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION']).toContain(status[refused.code]);
    }
    expect(await list()).toEqual(before.list);
    expect(await stateFiles()).toEqual(before.files);
  });

  it('holds a partial prepare (part_of) to the whole folder, and commits nothing on it', async () => {
    const before = { list: await list(), files: await stateFiles() };
    const partial = (files: ManifestEntry[], partOf: { fileCount: number; totalBytes: number }) =>
      unaryCall<{ missing: { sha256: string }[]; dataset?: Dataset; alreadyCommitted: boolean }>((cb) =>
        c.data.prepareUpload({ name: 'partial', files, commitIfComplete: true, partOf }, c.metadata(), cb),
      );
    const known = { path: 'known.txt', ...stored };
    const unknown = { path: 'unknown.txt', sha256: sha256('not uploaded yet'), sizeBytes: 16 };
    // The listed files fit; the folder they belong to does not: refused before any of it is sent.
    const tooBig = await failure(
      partial([known], { fileCount: 3, totalBytes: (await freeBytes()) + 2 ** 30 }),
    );
    expect(status[tooBig.code]).toBe('RESOURCE_EXHAUSTED');
    expect(tooBig.details).toMatch(/folder of 3 file\(s\) being uploaded needs up to \d+ bytes.*bytes free/);
    const tooMany = await failure(partial([known], { fileCount: 1_000_001, totalBytes: 30 }));
    expect(status[tooMany.code]).toBe('INVALID_ARGUMENT');
    expect(tooMany.details).toContain('part_of.file_count: more than 1000000 files');
    // A folder that fits: what is missing of these files, and no commit even when none is missing.
    const some = await partial([known, unknown], { fileCount: 3, totalBytes: 40 });
    expect(some.missing.map((m) => m.sha256)).toEqual([unknown.sha256]);
    expect(some.dataset).toBeUndefined();
    const complete = await partial([known], { fileCount: 3, totalBytes: 40 });
    expect(complete).toMatchObject({ missing: [], alreadyCommitted: false });
    expect(complete.dataset).toBeUndefined();
    expect(await list()).toEqual(before.list);
    expect(await stateFiles()).toEqual(before.files);
  });

  it('lists what a dataset holds on disk, whatever its manifest file claims', async () => {
    // A manifest written by an agent that took sizes on trust: the list shows the bytes on disk.
    const id = `ds_${'ab'.repeat(12)}`;
    const dir = join(agent.stateDir, 'datasets', id);
    await mkdir(join(dir, 'files'), { recursive: true });
    await writeFile(join(dir, 'files', 'lie.txt'), text);
    await writeFile(
      join(dir, 'manifest.json'),
      JSON.stringify({
        id,
        name: 'old',
        createdAt: new Date().toISOString(),
        files: [{ path: 'lie.txt', sha256: stored.sha256, sizeBytes: PIB }],
      }),
    );
    expect((await list()).find((d) => d.id === id)).toEqual({
      id,
      sizeBytes: stored.sizeBytes,
      fileCount: 1,
    });
    await unaryCall((cb) => c.data.deleteDataset({ datasetId: id }, c.metadata(), cb));
  });
});

describe('sizes declared by upload chunks', () => {
  const blob = Buffer.from('a blob sent in two chunks');
  const first = { sha256: sha256(blob), offset: 0, data: blob.subarray(0, 10) };

  it.each([
    ['1 PiB', PIB],
    ['2^53-1 bytes', Number.MAX_SAFE_INTEGER],
  ])('refuses a chunk declaring %s, keeping nothing of it', async (_l, size) => {
    const before = await stateFiles();
    const error = await failure(upload([{ ...first, sizeBytes: size }]));
    expect(['RESOURCE_EXHAUSTED', 'INVALID_ARGUMENT']).toContain(status[error.code]);
    expect(error.details).toMatch(/bytes free/);
    expect(await stateFiles()).toEqual(before);
  });

  it('refuses a chunk whose size_bytes differs from the earlier chunks of its blob', async () => {
    const error = await failure(
      upload([
        { ...first, sizeBytes: blob.length },
        { sha256: first.sha256, offset: 10, data: blob.subarray(10), sizeBytes: blob.length + 5 },
      ]),
    );
    expect(status[error.code]).toBe('INVALID_ARGUMENT');
    expect(error.details).toContain(`size_bytes ${blob.length + 5}`);
    // The blob still completes when its chunks agree.
    const done = await upload([
      { sha256: first.sha256, offset: 10, data: blob.subarray(10), sizeBytes: blob.length },
    ]);
    expect(done.completedSha256).toEqual([first.sha256]);
  });

  it('drops a partial upload made under a false size, so the honest upload completes', async () => {
    const honest = Buffer.from('fifteen bytes!!');
    const sha = sha256(honest);
    // 20 bytes of something else, declared as the first chunk of a 30-byte blob: kept as a part.
    await upload([{ sha256: sha, offset: 0, data: Buffer.alloc(20, 7), sizeBytes: 30 }]);
    const prep = (await prepare([{ path: 'honest.bin', sha256: sha, sizeBytes: honest.length }])) as {
      missing: Array<{ sha256: string; receivedBytes: number }>;
    };
    expect(prep.missing).toEqual([expect.objectContaining({ sha256: sha, receivedBytes: 0 })]);
    const done = await upload([{ sha256: sha, offset: 0, data: honest, sizeBytes: honest.length }]);
    expect(done.completedSha256).toEqual([sha]);
  });

  it('refuses a chunk of a stored blob that declares another size', async () => {
    const error = await failure(
      upload([{ sha256: stored.sha256, offset: 0, data: Buffer.from('four'), sizeBytes: PIB }]),
    );
    expect(status[error.code]).toBe('INVALID_ARGUMENT');
    expect(error.details).toContain(`blob ${stored.sha256} is ${stored.sizeBytes} bytes`);
  });
});
