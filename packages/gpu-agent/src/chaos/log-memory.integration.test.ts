// The agent's memory while a job writes a long log and while many clients replay it: a running job
// keeps a bounded window of its newest events, replays stream the log from disk in bounded chunks,
// so the agent's RSS grows by a bounded amount over its idle RSS, measured in the same test, whatever
// the log's length and the number of watchers. (bench/suites/log-memory.mjs measures 1,000,000 lines
// and 100 replays.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobEvent } from '@gpulink/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClients } from '../test-utils/clients.js';
import { startTestAgent, type TestAgent } from '../testing.js';
import {
  memoryOf,
  type RawClients,
  resetPeakMemory,
  scriptSpec,
  sleep,
  submitJob,
  writeWorkspace,
} from './chaos-utils.js';

const LINES = 100_000;
const REPLAYS = 10;
/**
 * What the agent may grow by over idle, in either phase. What it keeps is a few MiB (a window of 1 MiB
 * of events, 1 MiB of log waiting for the disk, per replay a 64 KiB read and one message in flight);
 * the rest is V8 collecting lazily under a high allocation rate, about 60-75 MiB here. With the log
 * in memory (about 100 MiB of text here) this run grew by 190-210 MiB.
 */
const GROWTH_BOUND = 128 * 1024 * 1024;

const LOUD = `
import sys
n = int(sys.argv[1])
for i in range(n):
    print(f"{i:08d} " + "x" * 1000)
`;

let agent: TestAgent;
let c: RawClients;
let root: string;
let pid: number;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpulink-log-memory-'));
  await writeWorkspace(root, { 'loud.py': LOUD });
  agent = await startTestAgent({ warmWorkers: 0 });
  c = rawClients(agent.port, agent.token);
  pid = agent.process.pid as number;
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Follows a job (or replays it) counting its events; resolves with how many and the last seq. */
function countEvents(jobId: string, replayOnly: boolean): Promise<{ count: number; lastSeq: number }> {
  return new Promise((resolve, reject) => {
    let count = 0;
    let lastSeq = 0;
    const stream = c.jobs.watchJob({ jobId, afterSeq: 0, replayOnly, maxMessageBytes: 0 }, c.metadata());
    stream.on('data', (r: { events: JobEvent[] }) => {
      for (const e of r.events) {
        if (e.seq !== lastSeq + 1) reject(new Error(`seq ${e.seq} after ${lastSeq}`));
        lastSeq = e.seq;
        count++;
      }
    });
    stream.on('error', reject);
    stream.on('end', () => resolve({ count, lastSeq }));
  });
}

describe(`a job that logs ${LINES} lines`, () => {
  let idle: number;
  let duringJob: number;
  let duringReplays: number;
  let followed: { count: number; lastSeq: number };
  let replays: Array<{ count: number; lastSeq: number }>;

  beforeAll(async () => {
    await sleep(1_000);
    idle = memoryOf(pid).rss;
    resetPeakMemory(pid);
    const jobId = await submitJob(c, scriptSpec(root, 'loud.py', [String(LINES)]));
    followed = await countEvents(jobId, false);
    duringJob = memoryOf(pid).peak;
    resetPeakMemory(pid);
    replays = await Promise.all(Array.from({ length: REPLAYS }, () => countEvents(jobId, true)));
    duringReplays = memoryOf(pid).peak;
  });

  it('is delivered whole, live and to every replay', () => {
    expect(followed.count).toBeGreaterThan(LINES);
    expect(followed.lastSeq).toBe(followed.count);
    for (const r of replays) expect(r).toEqual(followed);
  });

  it('grows the agent by a bounded amount over idle while it runs', () => {
    console.log(`agent RSS: idle ${idle >> 20} MiB, job peak ${duringJob >> 20} MiB`);
    expect(duringJob - idle).toBeLessThan(GROWTH_BOUND);
  });

  it(`grows the agent by a bounded amount over idle during ${REPLAYS} concurrent replays`, () => {
    console.log(`agent RSS: idle ${idle >> 20} MiB, replays peak ${duringReplays >> 20} MiB`);
    expect(duringReplays - idle).toBeLessThan(GROWTH_BOUND);
  });
});
