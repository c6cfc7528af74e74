// SIGKILL of a worker in the middle of an epoch, from the agent's side: the job fails with the cause
// and a post-mortem, and the agent goes on serving. (The kill itself and its error kind are covered in
// jobs/jobs.integration.test.ts; this file checks what is left behind and what still works.)
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorKind, type JobEvent } from '@gpulink/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectEvents, rawClients, unaryCall } from '../test-utils/clients.js';
import { makeSampleData, processAlive } from '../test-utils/sample-data.js';
import { startTestAgent, type TestAgent } from '../testing.js';
import {
  logTexts,
  type RawClients,
  scriptSpec,
  states,
  submitJob,
  waitFor,
  writeWorkspace,
} from './chaos-utils.js';

let agent: TestAgent;
let c: RawClients;
let data: Awaited<ReturnType<typeof makeSampleData>>;
let ws: string;

// Many epochs of a small CNN on the digits: still training whenever the test strikes.
const TRAIN = `
import sys
from fastai.vision.all import *
path = Path(sys.argv[1])
dls = ImageDataLoaders.from_folder(path, valid_pct=0.2, seed=0, bs=32, num_workers=0)
model = nn.Sequential(ConvLayer(3, 16, stride=2), ConvLayer(16, 32, stride=2), ConvLayer(32, 10, stride=2, act_cls=None, norm_type=None), Flatten())
print("chaos: about to fit", flush=True)
Learner(dls, model, metrics=accuracy).fit(200, 1e-3)
`;

beforeAll(async () => {
  data = await makeSampleData();
  ws = await writeWorkspace(join(data.root, 'kill-ws'), {
    'train.py': TRAIN,
    'hello.py': 'print("still serving")\n',
  });
  agent = await startTestAgent({ warmWorkers: 1 });
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  if (data) await rm(data.root, { recursive: true, force: true });
});

/** Resolves at the first training batch event that is not the last of its epoch. */
function untilMidEpoch(jobId: string): Promise<JobEvent> {
  return new Promise((resolve, reject) => {
    const stream = c.jobs.watchJob(
      { jobId, afterSeq: 0, replayOnly: false, maxMessageBytes: 0 },
      c.metadata(),
    );
    stream.on('data', (r: { events: JobEvent[] }) => {
      const found = r.events.find(
        (e) => e.kind?.$case === 'batch' && e.kind.value.training && e.kind.value.iter < e.kind.value.nIter,
      );
      if (found) {
        stream.cancel();
        resolve(found);
      }
    });
    stream.on('error', (e: { code?: number }) => (e.code === 1 ? undefined : reject(e)));
    stream.on('end', () => reject(new Error('the job ended before a mid-epoch batch')));
  });
}

describe('a worker SIGKILLed mid-epoch', () => {
  let jobId: string;
  let pid: number;
  let events: JobEvent[];

  beforeAll(async () => {
    jobId = await submitJob(c, scriptSpec(ws, 'train.py', [join(data.digits, 'train')]));
    await untilMidEpoch(jobId);
    const record = JSON.parse(await readFile(join(agent.stateDir, 'jobs', jobId, 'job.json'), 'utf8')) as {
      workerPid?: number;
    };
    pid = record.workerPid as number;
    process.kill(-pid, 'SIGKILL');
    events = await collectEvents(c, jobId);
  });

  it('fails the job with the signal as its cause', () => {
    expect(states(events).at(-1)).toBe('JOB_STATE_FAILED');
    const error = events.find((e) => e.kind?.$case === 'error');
    const value = error?.kind?.$case === 'error' ? error.kind.value : undefined;
    expect(value?.kind).toBe(ErrorKind.ERROR_KIND_KILLED);
    expect(value?.message).toContain('SIGKILL');
  });

  it('keeps a post-mortem with the log lines before the kill', () => {
    const error = events.find((e) => e.kind?.$case === 'error');
    const value = error?.kind?.$case === 'error' ? error.kind.value : undefined;
    expect(value?.postMortem?.logs.map((l) => l.text)).toContain('chaos: about to fit');
    // The log the post-mortem quotes is the job's own: the same lines, in the same order.
    const logged = logTexts(events);
    const quoted = value?.postMortem?.logs.map((l) => l.text) ?? [];
    expect(logged.slice(0, quoted.length)).toEqual(quoted);
  });

  it('keeps the last stats samples of the job in the post-mortem', () => {
    const error = events.find((e) => e.kind?.$case === 'error');
    const value = error?.kind?.$case === 'error' ? error.kind.value : undefined;
    const stats = value?.postMortem?.stats ?? [];
    expect(stats.length).toBeGreaterThan(0);
    expect(stats.at(-1)?.processes.map((p) => p.jobId)).toContain(jobId);
  });

  it('leaves no worker process and a dense, replayable log', async () => {
    expect(await waitFor(() => !processAlive(pid), 5_000)).toBe(true);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    const replay = await collectEvents(c, jobId, { replayOnly: true });
    expect(replay.map((e) => JSON.stringify(e))).toEqual(events.map((e) => JSON.stringify(e)));
  });

  it('goes on serving: reads, health, and the next job runs to success', async () => {
    expect(agent.process.exitCode).toBeNull();
    const info = await unaryCall<{ info?: { agentVersion: string } }>((cb) =>
      c.agent.getInfo({}, c.metadata(), cb),
    );
    expect(info.info?.agentVersion).toBeTruthy();
    const listed = await unaryCall<{ jobs: Array<{ id: string }> }>((cb) =>
      c.jobs.listJobs({ pageSize: 10, pageToken: '', states: [], tags: [] }, c.metadata(), cb),
    );
    expect(listed.jobs.map((j) => j.id)).toContain(jobId);
    const next = await submitJob(c, scriptSpec(ws, 'hello.py'));
    const nextEvents = await collectEvents(c, next);
    expect(states(nextEvents).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    expect(logTexts(nextEvents)).toContain('still serving');
  });
});
