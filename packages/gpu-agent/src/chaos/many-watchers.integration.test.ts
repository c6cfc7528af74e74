// Load on the job queue and the event fan-out: 20 jobs submitted at once (they queue on the one CPU
// device), 100 concurrent watchers of the first while it prints, and watchers of every other job
// from before it starts. All jobs complete; every watcher of a job sees the same log, and the log the
// agent keeps on disk says the same.
//
// Each job is a fresh worker process that imports torch and fastai before it reads its job (the warm
// pool hides that only one job deep), so the jobs themselves print a few lines and end.
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobEvent } from '@gpulink/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectEvents, rawClients } from '../test-utils/clients.js';
import { startTestAgent, type TestAgent } from '../testing.js';
import { logTexts, type RawClients, scriptSpec, states, submitJob, writeWorkspace } from './chaos-utils.js';

const JOBS = 20;
const WATCHERS = 100;
const CONNECTIONS = 4;

let agent: TestAgent;
let clients: RawClients[];
let ws: string;

beforeAll(async () => {
  ws = await writeWorkspace(join(tmpdir(), `gpulink-chaos-watchers-${process.pid}`), {
    // Slow enough that all watchers of the first job are attached while it runs.
    'slow.py':
      'import sys, time\nfor i in range(150):\n    print(f"slow {i}", flush=True)\n    time.sleep(0.02)\n',
    'quick.py': 'import sys\nfor i in range(20):\n    print(f"{sys.argv[1]} line {i}")\n',
  });
  // Two warm workers: the next jobs' workers import while the current one runs.
  agent = await startTestAgent({ warmWorkers: 2 });
  // Watchers spread over a few connections, as separate clients would be.
  clients = Array.from({ length: CONNECTIONS }, () => rawClients(agent.port, agent.token));
});
afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await agent?.stop();
  await rm(ws, { recursive: true, force: true });
});

const fingerprint = (events: JobEvent[]) => events.map((e) => JSON.stringify(e));

describe(`${WATCHERS} watchers of one job and ${JOBS} queued jobs`, () => {
  it('completes every job, and every watcher of a job sees the same log', async () => {
    const c = clients[0] as RawClients;
    const ids = [await submitJob(c, scriptSpec(ws, 'slow.py'))];
    for (let i = 1; i < JOBS; i++) ids.push(await submitJob(c, scriptSpec(ws, 'quick.py', [`job${i}`])));
    const first = ids[0] as string;
    const watchersOfFirst = Array.from({ length: WATCHERS }, (_, i) =>
      collectEvents(clients[i % CONNECTIONS] as RawClients, first),
    );
    // Two watchers per queued job, attached while it is still queued.
    const watchersOfRest = ids
      .slice(1)
      .map((id, i) => [
        collectEvents(clients[i % CONNECTIONS] as RawClients, id),
        collectEvents(clients[(i + 1) % CONNECTIONS] as RawClients, id),
      ]);

    const seenFirst = await Promise.all(watchersOfFirst);
    const reference = fingerprint(seenFirst[0] as JobEvent[]);
    for (const seen of seenFirst) expect(fingerprint(seen)).toEqual(reference);
    expect(states(seenFirst[0] as JobEvent[]).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    expect(logTexts(seenFirst[0] as JobEvent[])).toEqual(Array.from({ length: 150 }, (_, i) => `slow ${i}`));

    for (const [i, pair] of watchersOfRest.entries()) {
      const [a, b] = await Promise.all(pair);
      expect(fingerprint(b as JobEvent[])).toEqual(fingerprint(a as JobEvent[]));
      expect(states(a as JobEvent[])).toEqual([
        'JOB_STATE_QUEUED',
        'JOB_STATE_STARTING',
        'JOB_STATE_RUNNING',
        'JOB_STATE_SUCCEEDED',
      ]);
      expect(logTexts(a as JobEvent[])).toEqual(
        Array.from({ length: 20 }, (_, k) => `job${i + 1} line ${k}`),
      );
    }

    // What a watcher saw live is what the agent kept: a replay from the durable log matches it.
    const replay = await collectEvents(c, first, { replayOnly: true });
    expect(fingerprint(replay)).toEqual(reference);
  });
});
