// Jobs on several GPUs through the real agent: the agent counts two STAND-IN GPUs
// (GPULINK_STAND_IN_GPUS, since no GPU exists here), which run as CPU processes; the rest is real:
// accelerate launch starts two ranks that train fastai on gloo, and the agent follows them.
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FitMethod, type JobEvent, JobSpec, JobState } from '@gpulink/proto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectEvents, rawClients, unaryCall } from '../test-utils/clients.js';
import { makeSampleData } from '../test-utils/sample-data.js';
import { startTestAgent, type TestAgent } from '../testing.js';
import { findTaggedProcesses } from './job-processes.js';

let agent: TestAgent;
let c: ReturnType<typeof rawClients>;
let data: Awaited<ReturnType<typeof makeSampleData>>;

/** The digits, a few of each: two ranks share the CPU cores of a test machine. */
const PER_CLASS = 30;
let digitsDir: string;

beforeAll(async () => {
  data = await makeSampleData();
  digitsDir = join(data.root, 'few-digits');
  for (const label of await readdir(join(data.digits, 'train'))) {
    const files = (await readdir(join(data.digits, 'train', label))).sort().slice(0, PER_CLASS);
    await mkdir(join(digitsDir, 'train', label), { recursive: true });
    await Promise.all(
      files.map((f) => copyFile(join(data.digits, 'train', label, f), join(digitsDir, 'train', label, f))),
    );
  }
  agent = await startTestAgent({ warmWorkers: 1, env: { GPULINK_STAND_IN_GPUS: '2' } });
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  if (data) await rm(data.root, { recursive: true, force: true });
});

const agentPath = (path: string) => ({ source: { $case: 'agentPath' as const, value: path } });
const digits = (epochs: number) => ({
  $case: 'vision',
  value: {
    data: agentPath(digitsDir),
    labels: { method: { $case: 'folder', value: { trainDir: 'train', validDir: '' } } },
    arch: 'resnet18',
    pretrained: false,
    imageSize: 16,
    batchSize: 32,
    epochs,
    fitMethod: FitMethod.FIT_METHOD_FIT_ONE_CYCLE,
    lr: { value: { $case: 'fixed', value: 0.01 } },
    metrics: ['accuracy'],
  },
});

async function submit(task: object, gpuCount: number | undefined, more: Partial<JobSpec> = {}) {
  const spec = JobSpec.fromPartial({ task, gpuCount, ...more } as JobSpec);
  const r = await unaryCall<{ job?: { id: string } }>((cb) =>
    c.jobs.submitJob({ spec, idempotencyKey: '' }, c.metadata(), cb),
  );
  return r.job?.id as string;
}
const jobState = (id: string) =>
  unaryCall<{ job?: { state: JobState } }>((cb) => c.jobs.getJob({ jobId: id }, c.metadata(), cb)).then(
    (r) => r.job?.state,
  );
const states = (events: JobEvent[]) =>
  events.flatMap((e) => (e.kind?.$case === 'stateChanged' ? [JobState[e.kind.value.state]] : []));
const count = (events: JobEvent[], kind: string) => events.filter((e) => e.kind?.$case === kind).length;
const errorOf = (events: JobEvent[]) => {
  const e = events.find((x) => x.kind?.$case === 'error')?.kind;
  return e?.$case === 'error' ? e.value : undefined;
};

/** The job's worker tag (GPULINK_WORKER_TAG, job-processes.ts) once it runs, from its record. */
async function workerTag(id: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const record = JSON.parse(await readFile(join(agent.stateDir, 'jobs', id, 'job.json'), 'utf8')) as {
      workerTag?: string;
    };
    if (record.workerTag) return record.workerTag;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} never got a worker`);
}
const taggedPids = (tag: string) => findTaggedProcesses([tag]).get(tag) ?? [];

/** Waits for the first event of `kind` in a job's stream (and that `also` holds for, if given). */
async function untilFirst(id: string, kind: string, also: (e: JobEvent) => boolean = () => true) {
  await new Promise<void>((resolve, reject) => {
    const stream = c.jobs.watchJob(
      { jobId: id, afterSeq: 0, replayOnly: false, maxMessageBytes: 0 },
      c.metadata(),
    );
    stream.on('data', (r: { events: JobEvent[] }) => {
      if (r.events.some((e) => e.kind?.$case === kind && also(e))) {
        stream.cancel();
        resolve();
      }
    });
    stream.on('error', (e: { code?: number }) => (e.code === status.CANCELLED ? undefined : reject(e)));
    stream.on('end', () => reject(new Error(`the job ended before a ${kind} event`)));
  });
}

describe('a job on two (stand-in) GPUs', () => {
  it('trains the digits in two ranks to SUCCEEDED, each event once, and holds both GPUs meanwhile', async () => {
    const id = await submit(digits(2), 2);
    const tag = await workerTag(id);
    await untilFirst(id, 'batch');
    // The worker, accelerate's launcher and its two ranks (and no more ranks than asked for).
    expect(taggedPids(tag).length).toBeGreaterThanOrEqual(4);
    // Both GPUs are taken: a one-GPU job waits behind it.
    const small = await submit(digits(1), 1);
    expect(await jobState(small)).toBe(JobState.JOB_STATE_QUEUED);
    const events = await collectEvents(c, id);
    expect(states(events).at(-1), JSON.stringify(errorOf(events))).toBe('JOB_STATE_SUCCEEDED');
    expect(count(events, 'fitStarted')).toBe(1);
    expect(count(events, 'epochEnded')).toBe(2);
    expect(count(events, 'interpretation')).toBe(1);
    const artifacts = events.flatMap((e) => (e.kind?.$case === 'artifact' ? [e.kind.value.name] : []));
    expect(artifacts.filter((n) => n === 'export.pkl')).toHaveLength(1);
    expect(states(await collectEvents(c, small)).at(-1)).toBe('JOB_STATE_SUCCEEDED');
  });

  it('cancels every rank and leaves no process of the job', async () => {
    const id = await submit(digits(30), 2);
    const tag = await workerTag(id);
    await untilFirst(id, 'batch');
    await unaryCall((cb) => c.jobs.cancelJob({ jobId: id, reason: 'test' }, c.metadata(), cb));
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_CANCELLED');
    expect(taggedPids(tag)).toEqual([]);
  });

  it("fails the job when rank 1 crashes, with rank 1's traceback, and leaves no process", async () => {
    const ws = join(data.root, 'boom-ws');
    await mkdir(ws, { recursive: true });
    await writeFile(
      join(ws, 'train.py'),
      [
        'import sys',
        'from fastai.tabular.all import *',
        'from fastai.distributed import *',
        'df = pd.read_csv(sys.argv[1])',
        'dls = TabularDataLoaders.from_df(df, y_names="diagnosis", y_block=CategoryBlock(), bs=32,',
        '    cont_names=[c for c in df.columns if c != "diagnosis"], valid_pct=0.2)',
        'learn = tabular_learner(dls, layers=[16], metrics=accuracy)',
        'class Boom(Callback):',
        '    def after_batch(self):',
        '        if rank_distrib() == 1 and self.iter == 2: raise RuntimeError("boom in rank 1")',
        'with learn.distrib_ctx():',
        '    learn.fit(2, 1e-2, cbs=Boom())',
      ].join('\n'),
    );
    const csv = join(data.csvDir, 'breast_cancer.csv');
    const id = await submit(
      { $case: 'script', value: { workspace: agentPath(ws), entrypoint: 'train.py', args: [csv] } },
      2,
    );
    const tag = await workerTag(id);
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_FAILED');
    const error = errorOf(events);
    expect(error?.message).toMatch(/^rank 1 of 2: RuntimeError: .*boom in rank 1$/);
    expect(error?.traceback).toContain('boom in rank 1');
    expect(error?.postMortem?.logs.length).toBeGreaterThan(0);
    expect(taggedPids(tag)).toEqual([]);
  });

  it('is INTERRUPTED with its agent killed after a checkpoint, and resumes in two ranks from it', async () => {
    const id = await submit(digits(3), 2, { checkpoint: { everyEpoch: true, keepLast: 0 } });
    const firstTag = await workerTag(id);
    // Until epoch 1 of 3 has ended and its checkpoint (written by rank 0) is logged.
    await untilFirst(
      id,
      'artifact',
      (e) => e.kind?.$case === 'artifact' && e.kind.value.kind === 'checkpoint',
    );
    agent.kill('SIGKILL');
    await agent.restart();
    // The new agent ends the killed agent's ranks (found by their tag) and lists the job INTERRUPTED.
    expect(taggedPids(firstTag)).toEqual([]);
    expect(await jobState(id)).toBe(JobState.JOB_STATE_INTERRUPTED);
    await unaryCall((cb) => c.jobs.resumeJob({ jobId: id }, c.metadata(), cb));
    const events = await collectEvents(c, id);
    expect(states(events).at(-1), JSON.stringify(errorOf(events))).toBe('JOB_STATE_SUCCEEDED');
    const epochs = events.flatMap((e) =>
      e.kind?.$case === 'epochEnded' ? [[e.attempt, e.kind.value.epoch] as const] : [],
    );
    // Each epoch once in all: the resumed attempt starts after the last checkpoint, in two ranks
    // whose events still come once.
    const resumedEpochs = epochs.filter(([attempt]) => attempt === 2).map(([, epoch]) => epoch);
    expect(resumedEpochs.length).toBeGreaterThan(0);
    expect(resumedEpochs.at(-1)).toBe(2);
    expect(new Set(epochs.map(([, epoch]) => epoch)).size).toBe(3);
    const fits = events.filter((e) => e.kind?.$case === 'fitStarted' && e.attempt === 2);
    expect(fits).toHaveLength(1);
    const fit = fits[0]?.kind;
    expect(fit?.$case === 'fitStarted' ? fit.value.startEpoch : undefined).toBe(resumedEpochs[0]);
  });

  it('refuses a job asking for more GPUs than the agent has, with the count it has', async () => {
    const err = await submit(digits(1), 3).catch((e: { code: number; details: string }) => e);
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((err as { details: string }).details).toContain('this agent has 2');
  });

  it("refuses the learning-rate finder on two GPUs (fastai's LRFinder reloads its weights in every rank), and changes nothing", async () => {
    const before = await unaryCall<{ jobs: unknown[] }>((cb) =>
      c.jobs.listJobs({ pageSize: 1000, pageToken: '', states: [], tags: [] }, c.metadata(), cb),
    );
    const vision = digits(1).value;
    const finder = {
      $case: 'lrFind',
      value: { setup: { $case: 'vision', value: vision }, startLr: 1e-7, endLr: 10, numIterations: 20 },
    };
    const found = { $case: 'vision', value: { ...vision, lr: { value: { $case: 'find', value: true } } } };
    for (const [task, fix] of [
      [finder, 'set gpu_count 1'],
      [found, 'set a fixed lr, or gpu_count 1'],
    ] as const) {
      const err = await submit(task, 2).catch((e: { code: number; details: string }) => e);
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
      expect((err as { details: string }).details).toContain(`runs on one GPU`);
      expect((err as { details: string }).details).toContain(fix);
    }
    const after = await unaryCall<{ jobs: unknown[] }>((cb) =>
      c.jobs.listJobs({ pageSize: 1000, pageToken: '', states: [], tags: [] }, c.metadata(), cb),
    );
    expect(after.jobs).toHaveLength(before.jobs.length);
  });
});
