// Real agent, real Python worker, real fastai on the CPU, with scikit-learn's digits and breast-cancer data.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ErrorKind,
  FitMethod,
  type Job,
  type JobEvent,
  JobSpec,
  JobState,
  jobSpecDefaults,
} from '@gpulink/proto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectEvents, rawClients, unaryCall } from '../test-utils/clients.js';
import { makeSampleData, processAlive } from '../test-utils/sample-data.js';
import { startTestAgent, type TestAgent } from '../testing.js';

let agent: TestAgent;
let c: ReturnType<typeof rawClients>;
let data: Awaited<ReturnType<typeof makeSampleData>>;

beforeAll(async () => {
  data = await makeSampleData();
  agent = await startTestAgent({ warmWorkers: 1 });
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  if (data) await rm(data.root, { recursive: true, force: true });
});

const agentPath = (path: string) => ({ source: { $case: 'agentPath' as const, value: path } });
const digitsVision = (over: object = {}) => ({
  data: agentPath(data.digits),
  labels: { method: { $case: 'folder', value: { trainDir: 'train', validDir: '' } } },
  arch: 'resnet18',
  pretrained: false,
  imageSize: 32,
  batchSize: 64,
  validPct: 0.2,
  seed: 42,
  epochs: 2,
  fitMethod: FitMethod.FIT_METHOD_FIT_ONE_CYCLE,
  lr: { value: { $case: 'fixed', value: 0.01 } },
  metrics: ['accuracy'],
  ...over,
});

async function submit(task: object, extra: object = {}) {
  const spec = JobSpec.fromPartial({ task, ...extra } as JobSpec);
  const r = await unaryCall<{ job?: { id: string } }>((cb) =>
    c.jobs.submitJob({ spec, idempotencyKey: '' }, c.metadata(), cb),
  );
  return r.job?.id as string;
}
const getJob = (id: string) =>
  unaryCall<{
    job?: {
      state: JobState;
      workerPid?: number;
      artifacts: Array<{ name: string; sha256: string; sizeBytes: number }>;
      completedEpochs: number;
    };
  }>((cb) => c.jobs.getJob({ jobId: id }, c.metadata(), cb)).then((r) => r.job!);
const kinds = (events: JobEvent[]) => events.map((e) => e.kind?.$case);
const states = (events: JobEvent[]) =>
  events.flatMap((e) => (e.kind?.$case === 'stateChanged' ? [JobState[e.kind.value.state]] : []));
const workerPid = async (id: string) =>
  (JSON.parse(await readFile(join(agent.stateDir, 'jobs', id, 'job.json'), 'utf8')) as { workerPid?: number })
    .workerPid;

function untilFirst(jobId: string, kind: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = c.jobs.watchJob(
      { jobId, afterSeq: 0, replayOnly: false, maxMessageBytes: 0 },
      c.metadata(),
    );
    stream.on('data', (r: { events: JobEvent[] }) => {
      if (r.events.some((e) => e.kind?.$case === kind)) {
        stream.cancel();
        resolve();
      }
    });
    stream.on('error', (e: { code?: number }) => (e.code === 1 ? undefined : reject(e)));
    stream.on('end', () => reject(new Error(`the job ended before a ${kind} event`)));
  });
}

describe('a vision job on the digits', () => {
  let jobId: string;
  let events: JobEvent[];
  let second: JobEvent[];

  beforeAll(async () => {
    jobId = await submit({ $case: 'vision', value: digitsVision() }, { name: 'digits' });
    // Two watchers from the start of a running job must see the same log.
    [events, second] = await Promise.all([collectEvents(c, jobId), collectEvents(c, jobId)]);
  });

  it('streams fit, batch and epoch events and succeeds', () => {
    expect(states(events)).toEqual([
      'JOB_STATE_QUEUED',
      'JOB_STATE_STARTING',
      'JOB_STATE_RUNNING',
      'JOB_STATE_SUCCEEDED',
    ]);
    expect(kinds(events)).toContain('fitStarted');
    expect(kinds(events)).toContain('batch');
    // Stats samples sit in the log between training events, with this job's worker in them.
    const stats = events.flatMap((e) => (e.kind?.$case === 'stats' ? [e.kind.value] : []));
    expect(stats.length).toBeGreaterThan(0);
    expect(stats[0]?.processes.map((p) => p.jobId)).toEqual([jobId]);
    expect(stats[0]?.processes[0]?.rssBytes).toBeGreaterThan(100 * 1024 * 1024);
    expect(kinds(events).filter((k) => k === 'epochEnded')).toHaveLength(2);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
  });

  it('reaches at least 80% validation accuracy', () => {
    const last = events.filter((e) => e.kind?.$case === 'epochEnded').at(-1);
    const epoch = last?.kind?.$case === 'epochEnded' ? last.kind.value : undefined;
    const accuracy = epoch?.metrics.find((m) => m.name === 'accuracy')?.value;
    expect(accuracy).toBeGreaterThanOrEqual(0.8);
  });

  it('exports export.pkl whose sha256 matches the file', async () => {
    const job = await getJob(jobId);
    const model = job.artifacts.find((a) => a.name === 'export.pkl');
    expect(model).toBeDefined();
    const bytes = await readFile(join(agent.stateDir, 'jobs', jobId, 'artifacts', 'export.pkl'));
    expect(model?.sizeBytes).toBe(bytes.length);
    expect(model?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(kinds(events)).toContain('interpretation');
  });

  it('gives two watchers of the running job identical sequences', () => {
    expect(second.map((e) => e.seq)).toEqual(events.map((e) => e.seq));
    expect(second.map((e) => JSON.stringify(e.kind))).toEqual(events.map((e) => JSON.stringify(e.kind)));
  });

  it('replays exactly k+1..end after after_seq = k', async () => {
    const k = Math.floor(events.length / 2);
    const replay = await collectEvents(c, jobId, { afterSeq: k });
    expect(replay.map((e) => e.seq)).toEqual(events.slice(k).map((e) => e.seq));
  });

  it('labels held-out digits with the exported model (predict)', async () => {
    const predictId = await submit({
      $case: 'predict',
      value: {
        modelJobId: jobId,
        modelArtifact: '',
        inputs: agentPath(join(data.digits, 'holdout')),
        inputPaths: [],
        topK: 3,
      },
    });
    const out = await collectEvents(c, predictId);
    expect(states(out).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    const preds = out.flatMap((e) => (e.kind?.$case === 'predictions' ? e.kind.value.items : []));
    expect(preds).toHaveLength(10);
    const right = preds.filter((p) => p.input.split('/').pop()?.split('_')[0] === p.label).length;
    expect(right).toBeGreaterThanOrEqual(7);
  });
});

describe("the contract's defaults and constraints", () => {
  it('trains a job that leaves arch and epochs unset with the defaults the agent resolves for its worker', async () => {
    const { arch: _arch, epochs: _epochs, ...given } = digitsVision();
    const id = await submit({ $case: 'vision', value: given });
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    // The worker holds no defaults: it trained for as many epochs as the envelope's spec said.
    const fits = events.flatMap((e) => (e.kind?.$case === 'fitStarted' ? [e.kind.value.nEpoch] : []));
    expect(fits).toEqual([jobSpecDefaults.fit.epochs]);
    expect(kinds(events).filter((k) => k === 'epochEnded')).toHaveLength(jobSpecDefaults.fit.epochs);
    const { job } = await unaryCall<{ job?: Job }>((cb) => c.jobs.getJob({ jobId: id }, c.metadata(), cb));
    // The job keeps its spec as submitted; resolved_spec is the one its worker ran.
    const submitted = job?.spec?.task?.$case === 'vision' ? job.spec.task.value : undefined;
    expect(submitted?.arch).toBe('');
    expect(submitted?.epochs).toBeUndefined();
    expect(job?.resolvedSpec?.task).toMatchObject({
      $case: 'vision',
      value: { arch: jobSpecDefaults.vision.arch, epochs: jobSpecDefaults.fit.epochs, imageSize: 32 },
    });
  });

  it('refuses a valid_pct outside (0, 1) at submit with INVALID_ARGUMENT naming it, recording nothing', async () => {
    const count = async () =>
      (
        await unaryCall<{ jobs: unknown[] }>((cb) =>
          c.jobs.listJobs({ pageSize: 1000, pageToken: '', states: [], tags: [] }, c.metadata(), cb),
        )
      ).jobs.length;
    const before = await count();
    const refused = await submit({ $case: 'vision', value: digitsVision({ validPct: 1.5 }) }).catch((e) => e);
    expect(refused).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'spec.vision.valid_pct: must be between 0 and 1 (exclusive)',
    });
    expect(await count()).toBe(before);
  });
});

describe('other tasks', () => {
  it('trains a tabular model on the breast-cancer CSV', async () => {
    const id = await submit({
      $case: 'tabular',
      value: {
        data: agentPath(data.csvDir),
        csvPath: 'breast_cancer.csv',
        target: 'diagnosis',
        epochs: 2,
        batchSize: 64,
      },
    });
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    expect(kinds(events).filter((k) => k === 'epochEnded')).toHaveLength(2);
    expect((await getJob(id)).artifacts.map((a) => a.name)).toContain('export.pkl');
  });

  it('runs lr_find and returns a curve with suggestions, its progress keeping the stall warning quiet', async () => {
    // A stall threshold far below lr_find's run time: its progress events are what keep it quiet.
    const id = await submit(
      {
        $case: 'lrFind',
        value: { setup: { $case: 'vision', value: digitsVision({ epochs: 0 }) }, numIterations: 30 },
      },
      { stallWarningMs: 10_000 },
    );
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    const progress = events.flatMap((e) => (e.kind?.$case === 'lrFindProgress' ? [e.kind.value] : []));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.nIter === 30 && p.iter >= 1 && p.iter <= 30)).toBe(true);
    const firstProgress = events.findIndex((e) => e.kind?.$case === 'lrFindProgress');
    const stalled = events
      .slice(firstProgress)
      .filter((e) => e.kind?.$case === 'warning' && e.kind.value.code === 'stalled');
    expect(stalled).toEqual([]);
    const result = events.find((e) => e.kind?.$case === 'lrFindResult');
    const value = result?.kind?.$case === 'lrFindResult' ? result.kind.value : undefined;
    expect(value?.lrs.length).toBeGreaterThan(5);
    expect(value?.losses).toHaveLength(value?.lrs.length ?? -1);
    expect(value?.suggestions.map((s) => s.method)).toContain('valley');
  });

  it('runs an unmodified fastai script, streaming its epochs, args and env', async () => {
    const ws = join(data.root, 'workspace');
    await mkdir(ws, { recursive: true });
    await writeFile(
      join(ws, 'train.py'),
      [
        'import os, sys',
        'from fastai.tabular.all import *',
        "df = pd.read_csv(os.path.join(os.environ['GPULINK_DATA'], 'breast_cancer.csv'))",
        "dls = TabularDataLoaders.from_df(df, y_names='diagnosis', cont_names=[c for c in df.columns if c != 'diagnosis'], procs=[Normalize], bs=64, num_workers=0)",
        'learn = tabular_learner(dls, metrics=accuracy)',
        'learn.fit_one_cycle(int(sys.argv[1]))',
        "print('script done', os.environ['GREETING'])",
      ].join('\n'),
    );
    const id = await submit({
      $case: 'script',
      value: {
        workspace: agentPath(ws),
        entrypoint: 'train.py',
        args: ['2'],
        env: { GREETING: 'hello' },
        data: agentPath(data.csvDir),
      },
    });
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    expect(kinds(events).filter((k) => k === 'epochEnded')).toHaveLength(2);
    const logs = events.flatMap((e) => (e.kind?.$case === 'log' ? [e.kind.value.text] : []));
    expect(logs).toContain('script done hello');
  });
});

describe('failures and control', () => {
  it('fails a job that raises mid-training with a traceback and a post-mortem', async () => {
    const ws = join(data.root, 'raising');
    await mkdir(ws, { recursive: true });
    await writeFile(
      join(ws, 'boom.py'),
      [
        'import os',
        'from fastai.tabular.all import *',
        "df = pd.read_csv(os.path.join(os.environ['GPULINK_DATA'], 'breast_cancer.csv'))",
        "dls = TabularDataLoaders.from_df(df, y_names='diagnosis', cont_names=list(df.columns[:5]), bs=64, num_workers=0)",
        'class Boom(Callback):',
        '    def after_epoch(self): raise RuntimeError("boom after the first epoch")',
        "print('about to train')",
        // Long enough for the post-mortem to hold a stats sample or two.
        'import time; time.sleep(2.5)',
        'tabular_learner(dls, cbs=Boom()).fit(3)',
      ].join('\n'),
    );
    const id = await submit({
      $case: 'script',
      value: { workspace: agentPath(ws), entrypoint: 'boom.py', data: agentPath(data.csvDir) },
    });
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_FAILED');
    const error = events.find((e) => e.kind?.$case === 'error');
    const value = error?.kind?.$case === 'error' ? error.kind.value : undefined;
    expect(value?.kind).toBe(ErrorKind.ERROR_KIND_EXCEPTION);
    expect(value?.message).toContain('boom after the first epoch');
    expect(value?.traceback).toContain('RuntimeError');
    expect(value?.postMortem?.logs.map((l) => l.text)).toContain('about to train');
    expect(value?.postMortem?.stats.length).toBeGreaterThan(0);
    expect(value?.postMortem?.stats.at(-1)?.host?.memoryTotalBytes).toBeGreaterThan(0);
  });

  it('turns a garbage line on the worker pipe into a warning, never a crash', async () => {
    const ws = join(data.root, 'garbage');
    await mkdir(ws, { recursive: true });
    await writeFile(
      join(ws, 'noise.py'),
      [
        'import os',
        "os.write(3, b'this is not json\\n')",
        'os.write(3, b\'{"epochEnded": {"epoch": "x"}}\\n\')',
        "print('ok')",
      ].join('\n'),
    );
    const id = await submit({ $case: 'script', value: { workspace: agentPath(ws), entrypoint: 'noise.py' } });
    const events = await collectEvents(c, id);
    const warnings = events.flatMap((e) => (e.kind?.$case === 'warning' ? [e.kind.value] : []));
    expect(warnings.map((w) => w.code)).toEqual(['bad_worker_output', 'bad_worker_output']);
    expect(warnings[1]?.message).toContain('epoch');
    expect(states(events).at(-1)).toBe('JOB_STATE_SUCCEEDED');
  });

  it('cancels a running job within a batch or so, leaving no worker process', async () => {
    const id = await submit({ $case: 'vision', value: digitsVision({ epochs: 30 }) });
    await untilFirst(id, 'batch');
    const pid = await workerPid(id);
    expect(pid).toBeGreaterThan(0);
    await unaryCall((cb) => c.jobs.cancelJob({ jobId: id, reason: 'test' }, c.metadata(), cb));
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_CANCELLED');
    expect(processAlive(pid as number)).toBe(false);
  });

  it('fails a job whose worker is killed by a signal, naming it', async () => {
    const id = await submit({ $case: 'vision', value: digitsVision({ epochs: 30 }) });
    await untilFirst(id, 'batch');
    const pid = (await workerPid(id)) as number;
    process.kill(-pid, 'SIGKILL');
    const events = await collectEvents(c, id);
    expect(states(events).at(-1)).toBe('JOB_STATE_FAILED');
    const error = events.find((e) => e.kind?.$case === 'error');
    const value = error?.kind?.$case === 'error' ? error.kind.value : undefined;
    expect(value?.kind).toBe(ErrorKind.ERROR_KIND_KILLED);
    expect(value?.signal).toBe('SIGKILL');
  });

  it('marks a job INTERRUPTED after the agent is SIGKILLed and restarted, log intact, no orphan', async () => {
    const id = await submit({ $case: 'vision', value: digitsVision({ epochs: 30 }) });
    await untilFirst(id, 'epochEnded');
    const pid = (await workerPid(id)) as number;
    const before = await collectEvents(c, id, { replayOnly: true });
    c.close();
    agent.kill('SIGKILL');
    await agent.restart();
    c = rawClients(agent.port, agent.token);
    const after = await collectEvents(c, id);
    expect(after.slice(0, before.length).map((e) => e.seq)).toEqual(before.map((e) => e.seq));
    expect(after.map((e) => e.seq)).toEqual(after.map((_e, i) => i + 1));
    expect(states(after).at(-1)).toBe('JOB_STATE_INTERRUPTED');
    expect((await getJob(id)).completedEpochs).toBeGreaterThanOrEqual(1);
    // The restarted agent kills what the dead one left; give the kernel a moment to reap.
    for (let i = 0; i < 200 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(processAlive(pid)).toBe(false);
  });
});
