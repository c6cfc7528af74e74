// The envelope the agent hands a worker, held to the two other places that speak of it: every key
// the worker's Python reads from it (`envelope.get("...")`) is one the agent sends, and PROTOCOL.md
// documents exactly the keys the agent sends.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobSpec } from '@gpulink/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerPythonDir } from '../paths.js';
import { JobStore } from './job-store.js';
import { buildEnvelope, type WorkerEnvelope } from './worker-envelope.js';

let dir: string;
let envelope: WorkerEnvelope;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpulink-envelope-'));
  const store = new JobStore(dir);
  const id = 'job_envelope';
  const spec = JobSpec.fromPartial({
    task: {
      $case: 'script',
      value: {
        workspace: { source: { $case: 'agentPath', value: join(dir, 'ws') } },
        data: { source: { $case: 'agentPath', value: join(dir, 'data') } },
        entrypoint: 'train.py',
      },
    },
  });
  for (const folder of ['ws', 'data']) await mkdir(join(dir, folder));
  const checkpoints = join(store.artifactsDir(id), 'checkpoints');
  await mkdir(checkpoints, { recursive: true });
  await writeFile(join(checkpoints, 'epoch-2.pth'), '');
  await writeFile(join(checkpoints, 'epoch-10.pth'), '');
  const ctx = { datasetDir: async () => dir, jobFacts: () => undefined, gpuCount: 0 };
  const record = { id, spec, createdAt: new Date(), device: 'cpu', idempotencyKey: '' };
  envelope = await buildEnvelope(record, 2, false, store, ctx);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Keys the worker reads from the envelope: `envelope.get("k")`, `env["k"]` (tasks.py names it env). */
async function keysTheWorkerReads(): Promise<Set<string>> {
  const folder = join(workerPythonDir, 'gpulink_worker');
  const keys = new Set<string>();
  for (const name of (await readdir(folder)).filter((f) => f.endsWith('.py'))) {
    const source = await readFile(join(folder, name), 'utf8');
    for (const m of source.matchAll(/\benv(?:elope)?(?:\.get\(|\[)"(\w+)"/g)) keys.add(m[1] as string);
  }
  return keys;
}

describe('the worker envelope', () => {
  it('resolves paths and resumes from the newest checkpoint', () => {
    expect(envelope).toMatchObject({
      jobId: 'job_envelope',
      attempt: 2,
      dataDir: join(dir, 'data'),
      workspaceDir: join(dir, 'ws'),
      modelPath: null,
      resume: { checkpoint: join(dir, 'job_envelope', 'artifacts', 'checkpoints', 'epoch-10.pth') },
    });
  });

  it('sends every key the worker reads', async () => {
    const read = await keysTheWorkerReads();
    expect(read.size).toBeGreaterThan(5);
    expect([...read].filter((k) => !(k in envelope))).toEqual([]);
  });

  it('is documented key for key in PROTOCOL.md', async () => {
    const protocol = await readFile(join(workerPythonDir, 'PROTOCOL.md'), 'utf8');
    const block = /\*\*job envelope\*\*:\s*```json\n\s*\{([\s\S]*?)\}\s*```/.exec(protocol)?.[1] ?? '';
    // Top-level keys only: comments and nested objects (the spec, resume's checkpoint) are dropped.
    const topLevel = block.replaceAll(/\/\/.*$/gm, '').replaceAll(/\{[^{}]*\}/g, '');
    const documented = [...topLevel.matchAll(/"(\w+)":/g)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(envelope).sort());
  });
});
