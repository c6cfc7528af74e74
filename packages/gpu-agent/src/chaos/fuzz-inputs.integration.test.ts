// Property-based fuzzing (fast-check) of what clients send the agent: JobSpecs (structured, and the
// encoded bytes of valid ones with random damage), dataset manifests, blob chunk streams, and the
// sizes both declare; 10,000 cases per run against one real agent. For every case: a status within
// a deadline (never UNKNOWN or INTERNAL, never a hang), the agent alive; a declared size is held to
// the stored blob and the free space, with exactly the status a model of those rules predicts. After
// all of them: the blob store holds only verified blobs, datasets are whole and listed with the bytes
// they hold, no file appeared outside the state dir, and the agent restarts on that state dir with
// every accepted job intact.
//
// Accepted jobs never run: a first job that sleeps holds the one CPU device, so every fuzzed job that
// passes validation is QUEUED, checked, and cancelled at once (a run would cost a worker process).
// Reproduce a failure with GPULINK_FUZZ_SEED=<seed> (fast-check prints it).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  type CommitDatasetResponse,
  type Dataset,
  type Job,
  JobSpec,
  JobState,
  type PrepareUploadResponse,
  SubmitJobRequest,
  SubmitJobResponse,
} from '@gpulink/proto';
import { type Metadata, type ServiceError, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClients, unaryCall } from '../test-utils/clients.js';
import { startTestAgent, type TestAgent } from '../testing.js';
import { type RawClients, scriptSpec, submitJob, writeWorkspace } from './chaos-utils.js';

// 10,000 cases in all, weighted toward the cheap ones: a chunk stream costs the agent several file
// operations per blob (about 25 ms here), a JobSpec a few milliseconds.
const RUNS = {
  specs: 3_500,
  specBytes: 2_500,
  manifests: 1_500,
  chunks: 500,
  manifestSizes: 1_200,
  chunkSizes: 800,
};
const DEADLINE_MS = 15_000;
/** Put into generated names, so a file that escaped the state dir can be found by name. */
const MARK = 'fuzzmark';
const seed = process.env.GPULINK_FUZZ_SEED ? Number(process.env.GPULINK_FUZZ_SEED) : undefined;

// Made before the arbitraries, which name paths inside it.
const root = await mkdtemp(join(tmpdir(), 'gpulink-chaos-fuzz-'));
const outside = join(root, 'outside');
let agent: TestAgent;
let c: RawClients;
let blockerId: string;
const accepted = new Map<string, unknown>();
let outsideBefore: Map<string, string>;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Stores whole blobs with one UploadBlobs call. */
function storeBlobs(contents: Buffer[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = c.data.uploadBlobs(c.metadata(), (e) => (e ? reject(e) : resolve()));
    for (const data of contents) s.write({ sha256: sha256(data), offset: 0, data, sizeBytes: data.length });
    s.end();
  });
}

/** Protobuf's base-128 varint, for splicing fields into encoded messages by hand. */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Every file under `dir` (skipping `skip`), relative path -> size and mtime. */
async function snapshot(dir: string, skip?: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (skip && (path === skip || path.startsWith(`${skip}/`))) continue;
    const s = await stat(path);
    out.set(relative(dir, path), entry.isDirectory() ? 'dir' : `${s.size}:${s.mtimeMs}`);
  }
  return out;
}

/** The outcome of a call: its status code and details (0 and '' for OK), or a test failure on a hang. */
interface Outcome<T> {
  code: number;
  details: string;
  value?: T;
}
function outcome<T>(
  invoke: (
    md: Metadata,
    options: { deadline: number },
    cb: (e: ServiceError | null, r?: T) => void,
  ) => unknown,
) {
  return new Promise<Outcome<T>>((resolve) => {
    invoke(c.metadata(), { deadline: Date.now() + DEADLINE_MS }, (error, value) =>
      resolve(error ? { code: error.code, details: error.details } : { code: status.OK, details: '', value }),
    );
  });
}

async function freeBytes(): Promise<number> {
  const fs = await statfs(agent.stateDir);
  return fs.bavail * fs.bsize;
}

function expectStatusIn(o: Outcome<unknown>, allowed: status[], what: string): void {
  if (!allowed.includes(o.code) || (o.code !== status.OK && o.details.trim() === '')) {
    throw new Error(
      `${what}: got ${status[o.code]} "${o.details}"; allowed: ${allowed.map((s) => status[s]).join(', ')}`,
    );
  }
  if (agent.process.exitCode !== null || agent.process.signalCode !== null)
    throw new Error(`${what}: the agent exited (${agent.process.exitCode ?? agent.process.signalCode})`);
}

beforeAll(async () => {
  await writeWorkspace(join(outside, 'ws'), {
    'train.py': 'import time\ntime.sleep(600)\n',
    'hello.py': 'print("hello")\n',
  });
  await writeWorkspace(join(outside, 'data'), { 'table.csv': 'a,b,target\n1,2,x\n' });
  await mkdir(join(outside, 'data', 'train', 'cat'), { recursive: true });
  await writeFile(join(outside, 'data', 'train', 'cat', 'img_1.png'), 'not really a png');
  // The state dir is given, so the test launcher keeps it across the restart at the end.
  agent = await startTestAgent({ warmWorkers: 0, stateDir: join(root, 'state') });
  c = rawClients(agent.port, agent.token);
  blockerId = await submitJob(c, scriptSpec(join(outside, 'ws'), 'train.py'));
  outsideBefore = await snapshot(root, agent.stateDir);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  await rm(root, { recursive: true, force: true });
});

// --- arbitraries ------------------------------------------------------------------------------

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('train', 'data', 'a', 'table.csv', 'train.py', 'ws', 'cat', MARK) },
  { weight: 2, arbitrary: fc.constantFrom('..', '.', '', 'a\\b', 'nul\0x', 'é', '🙂', 'C:', '~', '$HOME') },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 8 }).map((s) => `${s}${MARK}`) },
  { weight: 1, arbitrary: fc.constant('s'.repeat(256)) },
);
const relPath = fc.array(segment, { maxLength: 5 }).map((s) => s.join('/'));
const anyPath = () =>
  fc.oneof(
    relPath,
    relPath.map((p) => `/${p}`),
    relPath.map((p) => `../../${p}`),
    relPath.map((p) => `${outside}/${p}`),
    fc.constantFrom(
      outside,
      join(outside, 'ws'),
      join(outside, 'data'),
      join(outside, 'data', 'train'),
      '/',
      '/etc',
      '/proc/self',
    ),
  );
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const uint32 = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.nat(), fc.constant(4294967295));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const double = fc.oneof(fc.double(), fc.constantFrom(0.2, 1e-3, 0, -1, 1));

const datasetRef = () =>
  fc.record({
    source: maybe(
      fc.oneof(
        fc.record({
          $case: fc.constant('datasetId' as const),
          value: fc.oneof(
            fc.string(),
            hex(24).map((h) => `ds_${h}`),
          ),
        }),
        fc.record({ $case: fc.constant('agentPath' as const), value: anyPath() }),
        fc.record({ $case: fc.constant('url' as const), value: fc.oneof(fc.webUrl(), fc.string()) }),
        fc.record({
          $case: fc.constant('fastaiUrl' as const),
          value: fc.oneof(fc.constantFrom('MNIST_SAMPLE', 'PETS'), fc.string()),
        }),
      ),
    ),
    subdir: fc.oneof(fc.constant(''), relPath),
  });
const lr = maybe(
  fc.record({
    value: fc.oneof(
      fc.record({ $case: fc.constant('fixed' as const), value: double }),
      fc.record({ $case: fc.constant('find' as const), value: fc.boolean() }),
    ),
  }),
);
const metrics = fc.array(
  fc.oneof(fc.constantFrom('accuracy', 'error_rate', 'rmse', 'f1_score'), fc.string({ maxLength: 10 })),
  { maxLength: 4 },
);
const column = fc.oneof(fc.constantFrom('a', 'b', 'target', ''), fc.string({ maxLength: 6 }));

/** What vision and tabular specs share about the fit. */
const fitFields = {
  batchSize: uint32,
  validPct: maybe(double),
  seed: maybe(uint32),
  epochs: uint32,
  lr,
  fitMethod: fc.integer({ min: 0, max: 5 }),
};
const vision = fc.record({
  data: maybe(datasetRef()),
  labels: maybe(
    fc.record({
      method: fc.oneof(
        fc.record({
          $case: fc.constant('folder' as const),
          value: fc.record({ trainDir: relPath, validDir: relPath }),
        }),
        fc.record({
          $case: fc.constant('fileNameRegex' as const),
          value: fc.record({
            pattern: fc.oneof(
              fc.constantFrom('^(.+)_\\d+', '(?P<label>[a-z]+)', '(a+)+$', '(', '[', ''),
              fc.string(),
            ),
          }),
        }),
        fc.record({
          $case: fc.constant('csv' as const),
          value: fc.record({
            csvPath: relPath,
            fileColumn: column,
            labelColumn: column,
            validColumn: column,
            imageDir: relPath,
          }),
        }),
      ),
    }),
  ),
  arch: fc.oneof(fc.constantFrom('resnet18', 'resnet34', 'timm/x'), fc.string({ maxLength: 140 })),
  pretrained: maybe(fc.boolean()),
  imageSize: uint32,
  ...fitFields,
  freezeEpochs: uint32,
  metrics,
  fp16: fc.boolean(),
});
const tabular = fc.record({
  data: maybe(datasetRef()),
  csvPath: fc.oneof(fc.constant('table.csv'), relPath),
  target: column,
  categoricalColumns: fc.array(column, { maxLength: 3 }),
  continuousColumns: fc.array(column, { maxLength: 3 }),
  procs: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
  layers: fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }), uint32), { maxLength: 3 }),
  ...fitFields,
  metrics,
  regression: fc.boolean(),
});
const script = fc.record({
  workspace: maybe(
    fc.oneof(
      fc.constant({
        source: { $case: 'agentPath' as const, value: join('/', 'nonexistent', MARK) },
        subdir: '',
      }),
      datasetRef(),
    ),
  ),
  entrypoint: fc.oneof(
    fc.constantFrom('train.py', 'hello.py', 'missing.py', 'data'),
    relPath,
    relPath.map((p) => `${p}.py`),
  ),
  args: fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }),
  env: fc.dictionary(
    fc.oneof(fc.constantFrom('OK_NAME', 'PATH', 'LD_PRELOAD', '1BAD', 'A-B'), fc.string({ maxLength: 8 })),
    fc.string({ maxLength: 12 }),
    { maxKeys: 3 },
  ),
  data: maybe(datasetRef()),
});
const task = fc.oneof(
  fc.record({ $case: fc.constant('vision' as const), value: vision }),
  fc.record({ $case: fc.constant('tabular' as const), value: tabular }),
  // Scripts pointing at the real workspace outside, so a share of specs is valid and gets accepted.
  fc.record({
    $case: fc.constant('script' as const),
    value: fc.oneof(
      script,
      script.map((s) => ({
        ...s,
        workspace: { source: { $case: 'agentPath' as const, value: join(outside, 'ws') }, subdir: '' },
      })),
    ),
  }),
  fc.record({
    $case: fc.constant('lrFind' as const),
    value: fc.record({
      setup: maybe(
        fc.oneof(
          fc.record({ $case: fc.constant('vision' as const), value: vision }),
          fc.record({ $case: fc.constant('tabular' as const), value: tabular }),
        ),
      ),
      startLr: double,
      endLr: double,
      numIterations: uint32,
    }),
  }),
  fc.record({
    $case: fc.constant('predict' as const),
    value: fc.record({
      modelJobId: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('BLOCKER')),
      modelArtifact: fc.oneof(fc.constant(''), fc.constant('export.pkl'), relPath),
      inputs: maybe(datasetRef()),
      inputPaths: fc.array(relPath, { maxLength: 3 }),
      topK: uint32,
    }),
  }),
);
const jobSpec = fc
  .record({
    name: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ minLength: 195, maxLength: 220 })),
    tags: fc.array(fc.oneof(fc.constantFrom('ok', 'a.b:c=d', ''), fc.string({ maxLength: 70 })), {
      maxLength: 35,
    }),
    gpuCount: maybe(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 }))),
    timeoutMs: fc.nat(),
    stallWarningMs: fc.nat(),
    checkpoint: maybe(fc.record({ everyEpoch: fc.boolean(), keepLast: uint32 })),
    task: maybe(task),
  })
  .map((s) => {
    // The only way to name a real job from an arbitrary: the blocker is known once the agent runs.
    const t = s.task;
    if (t?.$case === 'predict' && t.value.modelJobId === 'BLOCKER') t.value.modelJobId = blockerId;
    return JobSpec.fromPartial(s as JobSpec);
  });
/** Specs that pass validation (a script in the real workspace), varied where the agent allows it. */
const acceptableSpec = fc
  .record({
    name: fc.string({ maxLength: 40 }),
    tags: fc.array(fc.stringMatching(/^[\w.:=-]{1,20}$/), { maxLength: 4 }),
    gpuCount: fc.constantFrom(0, undefined),
    timeoutMs: fc.nat(),
    args: fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }),
    env: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), fc.string({ maxLength: 12 }), {
      maxKeys: 3,
    }),
    entrypoint: fc.constantFrom('hello.py', 'train.py'),
    data: maybe(fc.constantFrom(join(outside, 'data'), join(outside, 'data', 'train'))),
  })
  .map((s) =>
    JobSpec.fromPartial({
      name: s.name,
      tags: s.tags,
      gpuCount: s.gpuCount,
      timeoutMs: s.timeoutMs,
      task: {
        $case: 'script',
        value: {
          workspace: { source: { $case: 'agentPath', value: join(outside, 'ws') }, subdir: '' },
          entrypoint: s.entrypoint,
          args: s.args,
          env: s.env,
          data: s.data ? { source: { $case: 'agentPath', value: s.data }, subdir: '' } : undefined,
        },
      },
    } as JobSpec),
  );
const idempotencyKey = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 20 }),
  fc.string({ minLength: 125, maxLength: 135 }),
);

/** Checks an accepted job and cancels it while it is queued behind the blocker. */
async function checkAccepted(job: Job | undefined, what: string): Promise<void> {
  if (!job) throw new Error(`${what}: OK without a job`);
  if (job.id === blockerId) return;
  if (job.state !== JobState.JOB_STATE_QUEUED && job.state !== JobState.JOB_STATE_CANCELLED)
    throw new Error(
      `${what}: accepted job ${job.id} is ${JobState[job.state]}, expected QUEUED behind the blocker`,
    );
  if (job.device !== 'cpu') throw new Error(`${what}: accepted job placed on ${job.device}`);
  accepted.set(job.id, JobSpec.toJSON(job.spec as JobSpec));
  if (job.state === JobState.JOB_STATE_CANCELLED) return;
  const cancelled = await outcome<{ job?: Job }>((md, o, cb) =>
    c.jobs.cancelJob({ jobId: job.id, reason: 'fuzz' }, md, o, cb),
  );
  if (cancelled.code !== status.OK || cancelled.value?.job?.state !== JobState.JOB_STATE_CANCELLED)
    throw new Error(
      `${what}: cancelling queued job ${job.id} gave ${status[cancelled.code]} ${cancelled.details}`,
    );
}

const SUBMIT_ALLOWED = [status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.FAILED_PRECONDITION];

// --- the properties ---------------------------------------------------------------------------

describe('fuzzed client input against a real agent', () => {
  it(`answers ${RUNS.specs} structured JobSpecs with a proper status`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 4, arbitrary: jobSpec }, acceptableSpec),
        idempotencyKey,
        async (spec, key) => {
          const o = await outcome<{ job?: Job }>((md, opts, cb) =>
            c.jobs.submitJob({ spec, idempotencyKey: key }, md, opts, cb),
          );
          expectStatusIn(o, SUBMIT_ALLOWED, 'SubmitJob');
          if (o.code === status.OK) await checkAccepted(o.value?.job, 'SubmitJob');
        },
      ),
      { numRuns: RUNS.specs, seed },
    );
    expect(accepted.size).toBeGreaterThan(0);
  });

  it(`answers ${RUNS.specBytes} damaged encodings of SubmitJobRequests with a proper status`, async () => {
    // Two kinds of damage. Unknown or clashing fields spliced into valid encodings still decode, so
    // they reach the agent's own checks (its unknown-field refusal, strings that are not UTF-8, ...);
    // random byte edits mostly make bytes that are no message at all.
    const unknownField = fc
      .record({
        no: fc.integer({ min: 1, max: 2000 }),
        varint: fc.boolean(),
        value: fc.nat(),
        payload: fc.uint8Array({ maxLength: 24 }),
      })
      .map((f) =>
        f.varint
          ? [...varint(f.no * 8), ...varint(f.value)]
          : [...varint(f.no * 8 + 2), ...varint(f.payload.length), ...f.payload],
      );
    const spliced = fc
      .tuple(
        jobSpec,
        fc.array(unknownField, { maxLength: 3 }),
        fc.array(unknownField, { maxLength: 3 }),
        idempotencyKey,
      )
      .filter(([, inSpec, top]) => inSpec.length + top.length > 0)
      .map(([spec, inSpec, top, key]) => {
        const specBytes = [...JobSpec.encode(spec).finish(), ...inSpec.flat()];
        const keyBytes = [...Buffer.from(key)];
        return Buffer.from([
          ...varint(1 * 8 + 2),
          ...varint(specBytes.length),
          ...specBytes,
          ...varint(2 * 8 + 2),
          ...varint(keyBytes.length),
          ...keyBytes,
          ...top.flat(),
        ]);
      });
    const edited = fc
      .tuple(
        jobSpec,
        fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255), insert: fc.boolean() }), {
          minLength: 1,
          maxLength: 4,
        }),
      )
      .map(([spec, edits]) => {
        const bytes = [...SubmitJobRequest.encode({ spec, idempotencyKey: '' }).finish()];
        for (const e of edits) {
          const at = bytes.length ? e.at % bytes.length : 0;
          if (e.insert) bytes.splice(at, 0, e.byte);
          else bytes[at] = e.byte;
        }
        return Buffer.from(bytes);
      });
    const damaged = fc.oneof({ weight: 3, arbitrary: spliced }, { weight: 1, arbitrary: edited });
    const identity = (b: Buffer) => b;
    let undecodable = 0;
    await fc.assert(
      fc.asyncProperty(damaged, async (bytes) => {
        const o = await outcome<Buffer>((md, opts, cb) =>
          c.jobs.makeUnaryRequest(
            '/gpulink.v1.JobService/SubmitJob',
            identity,
            identity,
            bytes,
            md,
            opts,
            cb,
          ),
        );
        // Bytes that are not a SubmitJobRequest at all are INVALID_ARGUMENT and say so (grpc-js alone
        // would answer INTERNAL; the agent's decoders turn it into the caller's error).
        if (o.code === status.INVALID_ARGUMENT && /the request does not decode/.test(o.details)) {
          undecodable++;
          return;
        }
        expectStatusIn(o, SUBMIT_ALLOWED, 'SubmitJob (damaged bytes)');
        if (o.code === status.OK) {
          const job = SubmitJobResponse.decode(o.value as Buffer).job;
          await checkAccepted(job, 'SubmitJob (damaged bytes)');
        }
      }),
      { numRuns: RUNS.specBytes, seed },
    );
    // Most damage still decodes: the agent's own validation is what this property exercises.
    expect(undecodable).toBeLessThan(RUNS.specBytes / 2);
  });

  it(`answers ${RUNS.manifests} dataset manifests (prepare and commit) with a proper status`, async () => {
    // A few real blobs, so manifests that name them with safe paths commit for real.
    const contents = ['one', 'two two', `three ${MARK}`].map((t) => Buffer.from(t));
    await storeBlobs(contents);
    const known = contents.map((d) => ({ sha256: sha256(d), sizeBytes: d.length }));
    const entry = fc.record({
      path: fc.oneof(relPath, anyPath()),
      blob: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...known) },
        {
          weight: 1,
          arbitrary: fc.record({
            sha256: fc.oneof(
              hex(64),
              fc.string({ maxLength: 70 }),
              hex(64).map((h) => h.toUpperCase()),
            ),
            sizeBytes: fc.oneof(fc.nat(), fc.constant(2 ** 53 - 1)),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(...known).map((k) => ({ ...k, sizeBytes: k.sizeBytes + 1 })),
        },
      ),
    });
    const manifest = fc
      .array(entry, { maxLength: 12 })
      .map((es) => es.map((e) => ({ path: e.path, ...e.blob })));
    let committed = 0;
    await fc.assert(
      fc.asyncProperty(manifest, fc.string({ maxLength: 30 }), async (files, name) => {
        const prep = await outcome<PrepareUploadResponse>((md, o, cb) =>
          c.data.prepareUpload({ name, files }, md, o, cb),
        );
        expectStatusIn(
          prep,
          [status.OK, status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED],
          'PrepareUpload',
        );
        if (prep.code === status.OK) {
          if (!/^ds_[0-9a-f]{24}$/.test(prep.value?.datasetId ?? ''))
            throw new Error(`PrepareUpload: id ${prep.value?.datasetId}`);
          const shas = new Set(files.map((f) => f.sha256));
          for (const m of prep.value?.missing ?? [])
            if (!shas.has(m.sha256)) throw new Error(`PrepareUpload: asked for ${m.sha256}`);
        }
        const commit = await outcome<CommitDatasetResponse>((md, o, cb) =>
          c.data.commitDataset({ name, files }, md, o, cb),
        );
        expectStatusIn(
          commit,
          [status.OK, status.INVALID_ARGUMENT, status.FAILED_PRECONDITION],
          'CommitDataset',
        );
        if (commit.code === status.OK) {
          committed++;
          if (commit.value?.dataset?.id !== prep.value?.datasetId)
            throw new Error('CommitDataset: the id differs from PrepareUpload');
          if (commit.value?.dataset?.fileCount !== files.length)
            throw new Error('CommitDataset: wrong file count');
          const actual = new Map(known.map((k) => [k.sha256, k.sizeBytes]));
          const wrong = files.find((f) => actual.get(f.sha256) !== f.sizeBytes);
          if (wrong) throw new Error(`CommitDataset: took ${wrong.sizeBytes} bytes for ${wrong.sha256}`);
        }
      }),
      { numRuns: RUNS.manifests, seed },
    );
    expect(committed).toBeGreaterThan(0);
  });

  it(`answers ${RUNS.chunks} blob chunk streams with a proper status`, async () => {
    const blob = fc
      .uint8Array({ minLength: 1, maxLength: 3000 })
      .map((b) => Buffer.concat([Buffer.from(MARK), b]));
    const stream = fc
      .tuple(
        fc.array(fc.tuple(blob, fc.array(fc.nat(), { maxLength: 3 })), { minLength: 1, maxLength: 3 }),
        fc.constantFrom(
          'none',
          'flip',
          'offset',
          'size',
          'drop',
          'duplicate',
          'swap',
          'sha',
          'junkSha',
          'huge',
        ),
        fc.nat(),
      )
      .map(([blobs, damage, n]) => {
        const chunks = blobs.flatMap(([data, cuts]) => {
          const points = [...new Set([0, ...cuts.map((x) => x % data.length), data.length])].sort(
            (a, b) => a - b,
          );
          return points.slice(1).map((end, i) => ({
            sha256: sha256(data),
            offset: points[i] as number,
            data: Buffer.from(data.subarray(points[i], end)),
            sizeBytes: data.length,
          }));
        });
        const i = n % chunks.length;
        const at = chunks[i] as (typeof chunks)[number];
        if (damage === 'flip' && at.data.length) {
          const k = n % at.data.length;
          at.data[k] = (at.data[k] ?? 0) ^ 0xff;
        }
        if (damage === 'offset') at.offset += 1 + (n % 7);
        if (damage === 'size') at.sizeBytes = n % 5000;
        if (damage === 'drop') chunks.splice(i, 1);
        if (damage === 'duplicate') chunks.splice(i, 0, { ...at });
        if (damage === 'swap' && chunks.length > 1) chunks.reverse();
        if (damage === 'sha') at.sha256 = sha256(Buffer.from(String(n)));
        if (damage === 'junkSha') at.sha256 = `../../${MARK}${n}`;
        if (damage === 'huge') at.data = Buffer.alloc(1024 * 1024 + 1);
        return chunks;
      });
    await fc.assert(
      fc.asyncProperty(stream, async (chunks) => {
        const o = await outcome<unknown>((md, opts, cb) => {
          const s = c.data.uploadBlobs(md, opts, cb);
          for (const chunk of chunks) s.write(chunk);
          s.end();
        });
        expectStatusIn(
          o,
          [status.OK, status.INVALID_ARGUMENT, status.OUT_OF_RANGE, status.DATA_LOSS, status.ABORTED],
          'UploadBlobs',
        );
      }),
      { numRuns: RUNS.chunks, seed },
    );
  });

  it(`holds the sizes of ${RUNS.manifestSizes} manifests to the stored blobs and the free space`, async () => {
    const contents = [
      Buffer.from('s'),
      Buffer.alloc(1000, 1),
      Buffer.concat([Buffer.from(MARK), Buffer.alloc(70_000, 2)]),
    ];
    await storeBlobs(contents);
    const actual = new Map(contents.map((d) => [sha256(d), d.length]));
    const free = await freeBytes();
    // Sizes far from the free space on either side, so space other processes use meanwhile cannot
    // change the answer: up to 8 x 1 MB, or at least twice what is free.
    const size = fc.oneof(
      fc.nat({ max: 1_000_000 }),
      fc.constantFrom(0, 1, 2 ** 50, Number.MAX_SAFE_INTEGER),
      fc.integer({ min: Math.min(2 * free, Number.MAX_SAFE_INTEGER), max: Number.MAX_SAFE_INTEGER }),
    );
    // A stored blob with its own size (most often), one byte off, or any size at all.
    const storedEntry = fc
      .tuple(
        fc.constantFrom(...actual),
        fc.oneof(
          { weight: 3, arbitrary: fc.constant((n: number) => n) },
          fc.constantFrom(
            (n: number) => n + 1,
            (n: number) => n - 1,
          ),
          size.map((v) => () => v),
        ),
      )
      .map(([[sha, n], declare]) => ({ sha256: sha, sizeBytes: declare(n) }));
    const entry = fc.oneof(
      { weight: 3, arbitrary: storedEntry },
      { weight: 1, arbitrary: fc.record({ sha256: hex(64), sizeBytes: size }) },
    );
    const manifest = fc
      .array(entry, { minLength: 1, maxLength: 8 })
      .map((es) => es.map((e, i) => ({ path: `sizes/${i}.bin`, ...e })));
    await fc.assert(
      fc.asyncProperty(manifest, async (files) => {
        // The model: one size per blob, a stored blob's own size, and room for the missing ones.
        const declared = new Map<string, Set<number>>();
        for (const f of files) declared.set(f.sha256, (declared.get(f.sha256) ?? new Set()).add(f.sizeBytes));
        const twoSizes = [...declared.values()].some((sizes) => sizes.size > 1);
        // An empty file's sha256 is known: declaring 0 bytes for any other content is wrong too.
        const wrong = files.some(
          (f) =>
            (actual.has(f.sha256) && actual.get(f.sha256) !== f.sizeBytes) ||
            (f.sizeBytes === 0 && f.sha256 !== sha256(Buffer.alloc(0))),
        );
        const missing = [...declared].filter(([sha]) => !actual.has(sha));
        const needed = missing.reduce((n, [, sizes]) => n + ([...sizes][0] ?? 0), 0);
        const prepareCode =
          twoSizes || wrong ? status.INVALID_ARGUMENT : needed > free ? status.RESOURCE_EXHAUSTED : status.OK;
        const commitCode =
          twoSizes || wrong
            ? status.INVALID_ARGUMENT
            : missing.length > 0
              ? status.FAILED_PRECONDITION
              : status.OK;
        const datasetsBefore = await readdir(join(agent.stateDir, 'datasets'));
        const what = `${JSON.stringify(files)}`;
        const prep = await outcome<PrepareUploadResponse>((md, o, cb) =>
          c.data.prepareUpload({ name: 'sizes', files }, md, o, cb),
        );
        expectStatusIn(prep, [prepareCode], `PrepareUpload ${what}`);
        if (prep.code === status.RESOURCE_EXHAUSTED && !/bytes free/.test(prep.details))
          throw new Error(`PrepareUpload: RESOURCE_EXHAUSTED without the free space: ${prep.details}`);
        const asked = (prep.value?.missing ?? []).map((m) => m.sha256).sort();
        if (
          prep.code === status.OK &&
          asked.join() !==
            missing
              .map(([sha]) => sha)
              .sort()
              .join()
        )
          throw new Error(`PrepareUpload ${what}: asked for ${asked}`);
        const commit = await outcome<CommitDatasetResponse>((md, o, cb) =>
          c.data.commitDataset({ name: 'sizes', files }, md, o, cb),
        );
        expectStatusIn(commit, [commitCode], `CommitDataset ${what}`);
        if (commit.code !== status.OK) {
          const after = await readdir(join(agent.stateDir, 'datasets'));
          if (after.sort().join() !== datasetsBefore.sort().join())
            throw new Error(`CommitDataset ${what}: refused, yet the datasets changed`);
        } else {
          const onDisk = files.reduce((n, f) => n + (actual.get(f.sha256) ?? 0), 0);
          if (commit.value?.dataset?.sizeBytes !== onDisk)
            throw new Error(
              `CommitDataset ${what}: size ${commit.value?.dataset?.sizeBytes}, on disk ${onDisk}`,
            );
        }
      }),
      { numRuns: RUNS.manifestSizes, seed },
    );
  });

  it(`holds the size_bytes of ${RUNS.chunkSizes} chunk streams to their blobs and the free space`, async () => {
    const storedBlob = Buffer.concat([Buffer.from(MARK), Buffer.alloc(5000, 3)]);
    await storeBlobs([storedBlob]);
    const free = await freeBytes();
    const tooBig = fc.integer({
      min: Math.min(2 * free, Number.MAX_SAFE_INTEGER),
      max: Number.MAX_SAFE_INTEGER,
    });
    let nonce = 0;
    const partOf = (sha: string) => join(agent.stateDir, 'uploads', `${sha}.part`);
    const hasPart = (sha: string) =>
      stat(partOf(sha)).then(
        () => true,
        () => false,
      );
    const kind = fc.constantFrom('honest', 'absurdFirst', 'absurdLater', 'changes', 'stored');
    await fc.assert(
      fc.asyncProperty(
        kind,
        fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        fc.nat(),
        fc.oneof(tooBig, fc.nat({ max: 10_000 }), fc.constant(storedBlob.length)),
        async (k, bytes, n, declared) => {
          // Content never sent before, so no partial upload of an earlier case changes the answer.
          const data = Buffer.concat([Buffer.from(`${MARK}${nonce++}:`), bytes]);
          const sha = sha256(data);
          const cut = 1 + (n % (data.length - 1));
          const chunks = [
            { sha256: sha, offset: 0, data: data.subarray(0, cut), sizeBytes: data.length },
            { sha256: sha, offset: cut, data: data.subarray(cut), sizeBytes: data.length },
          ];
          let expected: status = status.OK;
          if (k === 'absurdFirst') {
            for (const chunk of chunks) chunk.sizeBytes = Math.max(declared, 2 * free);
            expected = status.RESOURCE_EXHAUSTED;
          }
          if (k === 'absurdLater' || k === 'changes') {
            const other = k === 'absurdLater' ? Math.max(declared, 2 * free) : data.length + 1 + (n % 1000);
            (chunks[1] as (typeof chunks)[number]).sizeBytes = other;
            expected = status.INVALID_ARGUMENT;
          }
          if (k === 'stored') {
            // A prefix of a stored blob, declared with some size: only the stored size is taken (and
            // skipped); a size equal to the prefix makes it a whole blob that does not hash right.
            const prefix = storedBlob.subarray(0, 1 + (n % (storedBlob.length - 1)));
            chunks.splice(0, 2, { sha256: sha256(storedBlob), offset: 0, data: prefix, sizeBytes: declared });
            expected =
              declared === prefix.length
                ? status.DATA_LOSS
                : declared === storedBlob.length
                  ? status.OK
                  : status.INVALID_ARGUMENT;
          }
          const o = await outcome<{ completedSha256: string[] }>((md, opts, cb) => {
            const s = c.data.uploadBlobs(md, opts, cb);
            for (const chunk of chunks) s.write(chunk);
            s.end();
          });
          const what = `UploadBlobs ${k} (${chunks.map((ch) => ch.sizeBytes).join(', ')})`;
          expectStatusIn(o, [expected], what);
          if (expected === status.RESOURCE_EXHAUSTED && !/bytes free/.test(o.details))
            throw new Error(`${what}: RESOURCE_EXHAUSTED without the free space: ${o.details}`);
          if (k === 'absurdFirst' && (await hasPart(sha))) throw new Error(`${what}: kept a partial file`);
          if (k === 'honest' && o.value?.completedSha256.join() !== sha)
            throw new Error(`${what}: completed ${o.value?.completedSha256}`);
          // What a refused stream kept is a partial upload nobody resumes: cleared, to keep the dir small.
          if (k !== 'honest') await rm(partOf(sha), { force: true });
        },
      ),
      { numRuns: RUNS.chunkSizes, seed },
    );
  });

  it('leaves a consistent state dir and nothing outside it', async () => {
    const stateDir = agent.stateDir;
    for (const entry of await readdir(join(stateDir, 'blobs'), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      expect(entry.name).toMatch(/^[0-9a-f]{64}$/);
      expect(sha256(await readFile(join(entry.parentPath, entry.name)))).toBe(entry.name);
    }
    for (const name of await readdir(join(stateDir, 'uploads'))) expect(name).toMatch(/^[0-9a-f]{64}\.part$/);
    for (const id of await readdir(join(stateDir, 'datasets'))) {
      expect(id).toMatch(/^ds_[0-9a-f]{24}$/);
      const manifest = JSON.parse(
        await readFile(join(stateDir, 'datasets', id, 'manifest.json'), 'utf8'),
      ) as {
        files: Array<{ path: string; sha256: string }>;
      };
      for (const f of manifest.files) {
        const path = join(stateDir, 'datasets', id, 'files', f.path);
        expect(relative(join(stateDir, 'datasets', id, 'files'), path).startsWith('..')).toBe(false);
        expect(sha256(await readFile(path))).toBe(f.sha256);
      }
    }
    // Every dataset listed with the bytes it holds, whatever its manifest declared.
    const datasets: Dataset[] = [];
    let pageToken = '';
    do {
      const page = await unaryCall<{ datasets: Dataset[]; nextPageToken: string }>((cb) =>
        c.data.listDatasets({ pageSize: 1000, pageToken }, c.metadata(), cb),
      );
      datasets.push(...page.datasets);
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(datasets.length).toBeGreaterThan(0);
    for (const d of datasets) {
      const files = join(stateDir, 'datasets', d.id, 'files');
      let onDisk = 0;
      for (const entry of await readdir(files, { recursive: true, withFileTypes: true }))
        if (entry.isFile()) onDisk += (await stat(join(entry.parentPath, entry.name))).size;
      expect(d.sizeBytes, d.id).toBe(onDisk);
    }
    const stray = [...(await snapshot(stateDir)).keys()].filter((p) =>
      /\.tmp$|\.staging-|\.deleting-/.test(p),
    );
    expect(stray).toEqual([]);
    // Outside the state dir: the test's own folder unchanged, and nothing named by the fuzzer anywhere near.
    expect(await snapshot(root, stateDir)).toEqual(outsideBefore);
    for (const dir of [tmpdir(), '/', join(stateDir, '..', '..')]) {
      expect((await readdir(dir)).filter((n) => n.includes(MARK))).toEqual([]);
    }
  });

  it('restarts on the fuzzed state dir with every accepted job as it was', async () => {
    await agent.stop();
    await agent.restart();
    c.close();
    c = rawClients(agent.port, agent.token);
    const all: Job[] = [];
    let pageToken = '';
    do {
      const page = await unaryCall<{ jobs: Job[]; nextPageToken: string }>((cb) =>
        c.jobs.listJobs({ pageSize: 1000, pageToken, states: [], tags: [] }, c.metadata(), cb),
      );
      all.push(...page.jobs);
      pageToken = page.nextPageToken;
    } while (pageToken);
    const byId = new Map(all.map((j) => [j.id, j]));
    expect(byId.get(blockerId)?.state).toBe(JobState.JOB_STATE_INTERRUPTED);
    expect(all).toHaveLength(accepted.size + 1);
    for (const [id, spec] of accepted) {
      const job = byId.get(id);
      expect(job?.state).toBe(JobState.JOB_STATE_CANCELLED);
      expect(JobSpec.toJSON(job?.spec as JobSpec)).toEqual(spec);
    }
  });
});
