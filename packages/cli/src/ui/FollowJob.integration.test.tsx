// The follow view's Ctrl-C prompt, driven through ink-testing-library against a real agent and job.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect, type Job } from '@gpulink/sdk';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FollowJob, type FollowJobResult } from './FollowJob.js';

let agent: TestAgent;
let client: AgentClient;
let job: Job;

beforeAll(async () => {
  agent = await startTestAgent();
  client = await connect(agent.url);
  const workspace = await mkdtemp(join(tmpdir(), 'gpulink-cli-follow-'));
  // A job that runs until cancelled, so only the keys pressed decide what happens to it.
  await writeFile(join(workspace, 'wait.py'), 'import time\ntime.sleep(600)\n');
  const { dataset } = await client.datasets.upload(workspace, { hashCache: false });
  job = await client.runScript({ workspace: { datasetId: dataset.id }, entrypoint: 'wait.py', gpuCount: 0 });
});

afterAll(async () => {
  await job?.cancel().catch(() => {});
  await client?.close();
  await agent?.stop();
});

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end && !ok(); )
    await new Promise((r) => setTimeout(r, 50));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

describe('Ctrl-C while following a job', () => {
  it('asks; a second Ctrl-C stops watching and leaves the job running', async () => {
    let result: FollowJobResult | undefined;
    const app = render(<FollowJob agent={client} job={job} onDone={(r) => (result = r)} />);
    try {
      await until('the follow view', () =>
        (app.lastFrame() ?? '').includes('ctrl-c: cancel or stop watching'),
      );
      app.stdin.write('\x03');
      await until('the prompt', () => (app.lastFrame() ?? '').includes('Stop?'));
      expect(app.lastFrame()).toMatch(/w or ctrl-c stop watching \(it keeps running\)/);
      app.stdin.write('\x03');
      await until('the view to end', () => result !== undefined);
      expect(result?.detached).toBe(true);
      expect(app.lastFrame()).not.toContain('cancelling');
      const info = await job.refresh();
      expect(['queued', 'starting', 'running']).toContain(info.state);
    } finally {
      app.unmount();
    }
  });

  it('asks; c then cancels the job, and the view ends with it', async () => {
    let result: FollowJobResult | undefined;
    const app = render(<FollowJob agent={client} job={job} onDone={(r) => (result = r)} />);
    try {
      await until('the follow view', () =>
        (app.lastFrame() ?? '').includes('ctrl-c: cancel or stop watching'),
      );
      app.stdin.write('\x03');
      app.stdin.write('c');
      await until('the job to end', () => result !== undefined, 120_000);
      expect(result).toMatchObject({ detached: false, view: { state: 'cancelled' } });
    } finally {
      app.unmount();
    }
  });
});
