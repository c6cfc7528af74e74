// The envelope the agent hands a worker, held to the places that speak of it: WorkerEnvelope in
// worker.proto is the contract; the worker's ENVELOPE_FIELDS (python/gpulink_worker/job.py) name
// exactly its fields, every key the worker's Python reads from an envelope is one of them, and
// PROTOCOL.md documents exactly them. The spec inside carries every default, resolved by the agent.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobSpec, jobSpecDefaults } from '@gpulink/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerPythonDir } from '../paths.js';
import { contractType } from '../rpc/contract.js';
import { JobStore } from './job-store.js';
import { buildEnvelope, type WorkerEnvelopeJson } from './worker-envelope.js';

let dir: string;
let store: JobStore;
let envelope: WorkerEnvelopeJson;
const ctx = { datasetDir: async () => dir, jobFacts: () => undefined, gpuCount: 0 };
const agentPath = (path: string) => ({ source: { $case: 'agentPath' as const, value: path } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpulink-envelope-'));
  store = new JobStore(dir);
  const id = 'job_envelope';
  const spec = JobSpec.fromPartial({
    task: {
      $case: 'script',
      value: {
        workspace: agentPath(join(dir, 'ws')),
        data: agentPath(join(dir, 'data')),
        entrypoint: 'train.py',
      },
    },
  });
  for (const folder of ['ws', 'data']) await mkdir(join(dir, folder));
  const checkpoints = join(store.artifactsDir(id), 'checkpoints');
  await mkdir(checkpoints, { recursive: true });
  await writeFile(join(checkpoints, 'epoch-2.pth'), '');
  await writeFile(join(checkpoints, 'epoch-10.pth'), '');
  const record = { id, spec, createdAt: new Date(), device: 'cpu', idempotencyKey: '' };
  envelope = await buildEnvelope(record, 2, { gpus: [], cudaAvailable: false }, store, ctx);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const envelopeFields = () =>
  contractType('WorkerEnvelope').fieldsArray.map((f) =>
    f.name.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase()),
  );

/** The worker's ENVELOPE_FIELDS tuple in job.py. */
async function workerEnvelopeFields(): Promise<string[]> {
  const source = await readFile(join(workerPythonDir, 'gpulink_worker', 'job.py'), 'utf8');
  const tuple = /^ENVELOPE_FIELDS = \(([^)]*)\)/m.exec(source)?.[1] ?? '';
  return [...tuple.matchAll(/"(\w+)"/g)].map((m) => m[1] as string);
}

/** Keys the worker's Python reads from an envelope: `envelope.get("k")` or `envelope["k"]`. */
async function keysTheWorkerReads(): Promise<Set<string>> {
  const folder = join(workerPythonDir, 'gpulink_worker');
  const keys = new Set<string>();
  for (const name of (await readdir(folder)).filter((f) => f.endsWith('.py'))) {
    const source = await readFile(join(folder, name), 'utf8');
    for (const m of source.matchAll(/\benvelope(?:\.get\(|\[)"(\w+)"/g)) keys.add(m[1] as string);
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
      resume: { checkpoint: join(dir, 'job_envelope', 'artifacts', 'checkpoints', 'epoch-10.pth') },
    });
    // Unset in proto3 JSON is absent: a script task has no model.
    expect(envelope).not.toHaveProperty('modelPath');
  });

  it("carries a vision spec with every default filled in, the caller's values kept", async () => {
    const spec = JobSpec.fromPartial({
      task: { $case: 'vision', value: { data: agentPath(join(dir, 'data')), imageSize: 32, seed: 0 } },
      checkpoint: { everyEpoch: true },
    });
    const record = { id: 'job_defaults', spec, createdAt: new Date(), device: 'cpu', idempotencyKey: '' };
    const sent = (await buildEnvelope(record, 1, { gpus: [], cudaAvailable: false }, store, ctx))
      .spec as Record<string, never>;
    const { fit, vision } = jobSpecDefaults;
    expect(sent).toMatchObject({
      checkpoint: { everyEpoch: true, keepLast: jobSpecDefaults.checkpointKeepLast },
      vision: {
        labels: { folder: {} },
        arch: vision.arch,
        pretrained: vision.pretrained,
        imageSize: 32,
        batchSize: fit.batchSize,
        validPct: fit.validPct,
        seed: 0,
        epochs: fit.epochs,
        fitMethod: 'FIT_METHOD_FINE_TUNE',
        freezeEpochs: vision.freezeEpochs,
        metrics: vision.metrics,
      },
    });
  });

  it('is a tabular spec with every default filled in, and none added to a regression', async () => {
    const tabular = (regression: boolean) =>
      JobSpec.fromPartial({
        task: {
          $case: 'tabular',
          value: { data: agentPath(join(dir, 'data')), csvPath: 't.csv', target: 'y', regression },
        },
      });
    const sent = async (spec: JobSpec) =>
      (
        (
          await buildEnvelope(
            { id: 'job_tab', spec, createdAt: new Date(), device: 'cpu', idempotencyKey: '' },
            1,
            { gpus: [], cudaAvailable: false },
            store,
            ctx,
          )
        ).spec as { tabular: Record<string, unknown> }
      ).tabular;
    const { fit, tabular: t } = jobSpecDefaults;
    expect(await sent(tabular(false))).toMatchObject({
      procs: ['TABULAR_PROC_CATEGORIFY', 'TABULAR_PROC_FILL_MISSING', 'TABULAR_PROC_NORMALIZE'],
      layers: t.layers,
      batchSize: fit.batchSize,
      validPct: fit.validPct,
      seed: fit.seed,
      epochs: fit.epochs,
      fitMethod: 'FIT_METHOD_FIT_ONE_CYCLE',
      metrics: t.metrics,
    });
    expect(await sent(tabular(true))).not.toHaveProperty('metrics');
  });

  it("holds the worker's ENVELOPE_FIELDS to worker.proto's fields", async () => {
    expect((await workerEnvelopeFields()).sort()).toEqual(envelopeFields().sort());
  });

  it('reads no key the proto does not declare', async () => {
    const read = await keysTheWorkerReads();
    expect(read.size).toBeGreaterThan(5);
    expect([...read].filter((k) => !envelopeFields().includes(k))).toEqual([]);
  });

  it('is documented field for field in PROTOCOL.md', async () => {
    const protocol = await readFile(join(workerPythonDir, 'PROTOCOL.md'), 'utf8');
    const block = /\*\*job envelope\*\*[\s\S]*?```json\n\s*\{([\s\S]*?)\}\s*```/.exec(protocol)?.[1] ?? '';
    // Top-level keys only: comments and nested objects (the spec, resume's checkpoint) are dropped.
    const topLevel = block.replaceAll(/\/\/.*$/gm, '').replaceAll(/\{[^{}]*\}/g, '');
    const documented = [...topLevel.matchAll(/"(\w+)":/g)].map((m) => m[1]);
    expect(documented.sort()).toEqual(envelopeFields().sort());
  });
});
