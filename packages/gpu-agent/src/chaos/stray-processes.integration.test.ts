// Processes a job's script leaves behind: a non-daemon multiprocessing helper (in the worker's group,
// holding its stdio and event pipe) and a grandchild that starts its own session (out of the group).
// A cancelled job ends CANCELLED and takes them with it, the queue goes on, and after a SIGKILL of the
// agent the restarted one ends them before it marks the job INTERRUPTED.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JobEvent, JobState } from '@gpulink/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTaggedProcesses } from '../jobs/job-processes.js';
import { collectEvents, rawClients, unaryCall } from '../test-utils/clients.js';
import { processAlive } from '../test-utils/sample-data.js';
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

// The helper starts the grandchild and waits for it to leave the session, then writes both pids;
// the script then trains (real fastai) until it is cancelled. Neither helper is joined: the worker
// ends with os._exit, as it does after every job.
const STRAYS = `
import multiprocessing as mp, os, subprocess, sys, time
import torch
from torch import nn
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat

GRANDCHILD = """
import os, sys, time
os.setsid()
open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))
os.rename(sys.argv[1] + '.tmp', sys.argv[1])
time.sleep(3600)
"""

def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.05)
    return open(path).read()

def helper(pidfile):
    subprocess.Popen([sys.executable, '-c', GRANDCHILD, pidfile + '.grandchild'])
    grandchild = wait_for(pidfile + '.grandchild')
    open(pidfile + '.tmp', 'w').write(f"{os.getpid()} {grandchild}")
    os.rename(pidfile + '.tmp', pidfile)
    time.sleep(3600)

if __name__ == '__main__':
    mp.Process(target=helper, args=(sys.argv[1],)).start()
    wait_for(sys.argv[1])
    print('helpers started', flush=True)
    x = torch.randn(512, 4)
    ds = list(zip(x, (x.sum(1) > 0).long()))
    dls = DataLoaders.from_dsets(ds, ds, bs=16)
    Learner(dls, nn.Linear(4, 2), loss_func=CrossEntropyLossFlat()).fit(100000, 1e-2)
`;

let agent: TestAgent;
let c: RawClients;
let root: string;
let ws: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpulink-strays-'));
  ws = await writeWorkspace(join(root, 'ws'), { 'strays.py': STRAYS, 'hello.py': 'print("next job")\n' });
  agent = await startTestAgent({ warmWorkers: 1 });
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

interface Strays {
  jobId: string;
  worker: number;
  tag: string;
  helper: number;
  grandchild: number;
}

/** Submits the script and resolves once it trains with both helpers up (and out of each other's way). */
async function startStrays(name: string): Promise<Strays> {
  const pidfile = join(root, `${name}.pids`);
  const jobId = await submitJob(c, scriptSpec(ws, 'strays.py', [pidfile]));
  await new Promise<void>((resolve, reject) => {
    let started = false;
    const stream = c.jobs.watchJob(
      { jobId, afterSeq: 0, replayOnly: false, maxMessageBytes: 0 },
      c.metadata(),
    );
    stream.on('data', (r: { events: JobEvent[] }) => {
      started ||= logTexts(r.events).includes('helpers started');
      if (started && r.events.some((e) => e.kind?.$case === 'batch')) {
        stream.cancel();
        resolve();
      }
    });
    stream.on('error', (e: { code?: number }) => (e.code === 1 ? undefined : reject(e)));
    stream.on('end', () => reject(new Error('the job ended before it trained')));
  });
  const record = JSON.parse(await readFile(join(agent.stateDir, 'jobs', jobId, 'job.json'), 'utf8')) as {
    workerPid: number;
    workerTag: string;
  };
  const [helper, grandchild] = readFileSync(pidfile, 'utf8').split(' ').map(Number) as [number, number];
  // The layout this file is about: the helper shares the worker's group, the grandchild does not.
  expect(groupAndSession(helper)[0]).toBe(record.workerPid);
  expect(groupAndSession(grandchild)).toEqual([grandchild, grandchild]);
  expect(findTaggedProcesses([record.workerTag]).get(record.workerTag)).toContain(grandchild);
  return { jobId, worker: record.workerPid, tag: record.workerTag, helper, grandchild };
}

/** Process group and session of a live process (fields 5 and 6 of /proc/<pid>/stat). */
function groupAndSession(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[2]), Number(fields[3])];
}

const allGone = (s: Strays) => () =>
  [s.worker, s.helper, s.grandchild].every((pid) => !processAlive(pid)) &&
  (findTaggedProcesses([s.tag]).get(s.tag) ?? []).length === 0;

describe('a cancelled script job whose children outlive its worker', () => {
  let strays: Strays;
  let events: JobEvent[];

  beforeAll(async () => {
    strays = await startStrays('cancel');
    await unaryCall((cb) => c.jobs.cancelJob({ jobId: strays.jobId, reason: 'test' }, c.metadata(), cb));
    events = await collectEvents(c, strays.jobId);
  });

  it('ends CANCELLED', () => {
    expect(states(events).at(-1)).toBe('JOB_STATE_CANCELLED');
  });

  it('leaves no process of the job', async () => {
    expect(await waitFor(allGone(strays), 5_000)).toBe(true);
  });

  it('does not hold the queue: the next job runs to success', async () => {
    const next = await submitJob(c, scriptSpec(ws, 'hello.py'));
    const nextEvents = await collectEvents(c, next);
    expect(states(nextEvents).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    expect(logTexts(nextEvents)).toContain('next job');
  });
});

describe('the same job when the agent is SIGKILLed and restarted', () => {
  let strays: Strays;

  beforeAll(async () => {
    strays = await startStrays('agent-kill');
    c.close();
    agent.kill('SIGKILL');
    await agent.restart();
    c = rawClients(agent.port, agent.token);
  });

  it('marks the job INTERRUPTED', async () => {
    const job = await unaryCall<{ job?: { state: JobState } }>((cb) =>
      c.jobs.getJob({ jobId: strays.jobId }, c.metadata(), cb),
    );
    expect(job.job?.state).toBe(JobState.JOB_STATE_INTERRUPTED);
  });

  it('has ended every process of the job, in its group or not', async () => {
    expect(await waitFor(allGone(strays), 5_000)).toBe(true);
    expect(agent.stderr()).toContain(`left over by the previous agent (job ${strays.jobId})`);
  });
});
