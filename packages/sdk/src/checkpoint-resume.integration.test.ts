// Surviving a recycled runtime: a job that checkpoints every epoch, its agent killed (SIGKILL, as when
// Colab recycles a runtime) after epoch 2 of 4, and a new agent started on the same state dir (Drive,
// on Colab). The new agent lists the job INTERRUPTED at its last completed epoch; resuming it continues
// from the checkpoint and finishes the 4 epochs, on one continuous event log.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from './client.js';
import {
  makeDigits,
  smallDigitsJob,
  startTestAgent,
  type TestAgent,
  tempDir,
} from './test-utils/real-agent.js';
import type { JobEvent } from './types.js';

let agent: TestAgent;
let dir: string;

beforeAll(async () => {
  dir = await tempDir('checkpoint');
  [agent] = await Promise.all([
    startTestAgent({ warmWorkers: 1 }),
    makeDigits(join(dir, 'digits'), { size: 16, perClass: 10 }),
  ]);
});

afterAll(async () => {
  await agent?.stop();
});

describe('a checkpointed job whose agent is killed after epoch 2 of 4', () => {
  it('is INTERRUPTED at epoch 2 on a new agent, and resumes to finish 4 epochs on one log', async () => {
    let jobId: string;
    const beforeKill: JobEvent[] = [];
    {
      await using client = await connect(agent.url);
      const { dataset } = await client.datasets.upload(join(dir, 'digits'), { hashCache: false });
      const job = await client.trainVision(smallDigitsJob(dataset.id, { epochs: 4, checkpoint: true }));
      jobId = job.id;
      let epoch2 = false;
      let checkpoint2 = false;
      for await (const e of job.events()) {
        beforeKill.push(e);
        if (e.type === 'epochEnded' && e.completedEpochs === 2) epoch2 = true;
        if (e.type === 'artifact' && e.artifact.kind === 'checkpoint' && /epoch-2\b/.test(e.artifact.name))
          checkpoint2 = true;
        // Both logged: the agent dies now, with nothing else to save, as a recycled runtime does.
        if (epoch2 && checkpoint2) {
          agent.kill('SIGKILL');
          break;
        }
      }
      expect(epoch2 && checkpoint2).toBe(true);
    }

    await agent.restart();
    await using client = await connect(agent.url);
    const interrupted = await client.jobs.get(jobId);
    expect(interrupted.info).toMatchObject({ state: 'interrupted', completedEpochs: 2 });
    expect((await client.jobs.list({ states: ['interrupted'] })).map((j) => j.id)).toContain(jobId);

    const resumed = await client.jobs.resume(jobId);
    const events: JobEvent[] = [];
    for await (const e of resumed.events()) events.push(e);

    // One log: everything seen before the kill is its beginning, and it is dense to the end.
    expect(events.slice(0, beforeKill.length)).toEqual(beforeKill);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const states = events.flatMap((e) => (e.type === 'state' ? [e.state] : []));
    expect(states).toEqual([
      'queued',
      'starting',
      'running',
      'interrupted',
      'queued',
      'starting',
      'running',
      'succeeded',
    ]);
    // Each of the 4 epochs ran to its end exactly once: 0 and 1 before the kill, 2 and 3 after it.
    const epochs = events.flatMap((e) => (e.type === 'epochEnded' ? [e] : []));
    expect(epochs.map((e) => [e.attempt, e.epoch, e.completedEpochs])).toEqual([
      [1, 0, 1],
      [1, 1, 2],
      [2, 2, 3],
      [2, 3, 4],
    ]);
    const secondFit = events.find((e) => e.type === 'fitStarted' && e.attempt === 2);
    expect(secondFit).toMatchObject({ startEpoch: 2, epochs: 4 });
    const final = await resumed.refresh();
    expect(final).toMatchObject({ state: 'succeeded', completedEpochs: 4, attempt: 2 });
    // Two workers import torch and fastai and train 4 short epochs between them: minutes on 2 busy cores.
  }, 400_000);
});
