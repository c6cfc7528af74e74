// The follow view's Ctrl-C prompt and the dashboard's cancel, driven through ink-testing-library
// against a real agent and jobs that run until cancelled.
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect, type Job, type ScriptOptions } from '@gpulink/sdk';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptJob } from '../test-utils/script-job.js';
import { Dashboard } from './Dashboard.js';
import { FollowJob, type FollowJobResult } from './FollowJob.js';

let agent: TestAgent;
let client: AgentClient;
let job: Job;
let queued: Job;
let script: ScriptOptions;

beforeAll(async () => {
  agent = await startTestAgent();
  client = await connect(agent.url);
  // A job that runs until cancelled, so only the keys pressed decide what happens to it.
  script = await scriptJob(client, 'wait.py', 'import time\ntime.sleep(600)\n');
  job = await client.runScript(script);
  // Behind the first one (one job at a time on the CPU): it waits until cancelled.
  queued = await client.runScript({ ...script, name: 'waits' });
});

afterAll(async () => {
  await queued?.cancel().catch(() => {});
  await job?.cancel().catch(() => {});
  await client?.close();
  await agent?.stop();
});

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end && !ok(); )
    await new Promise((r) => setTimeout(r, 50));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

/**
 * Ink subscribes a frame's key handler in an effect after drawing it: a key sent the moment a frame
 * shows can still meet the handler of the frame before (the dashboard's, which knows no jobs yet).
 */
const settled = () => new Promise((r) => setTimeout(r, 100));

/** The follow view of the running job, once it shows; `result()` is what it ended with, if it did. */
async function follow() {
  let ended: FollowJobResult | undefined;
  const app = render(<FollowJob agent={client} job={job} onDone={(r) => (ended = r)} />);
  await until('the follow view', () => (app.lastFrame() ?? '').includes('ctrl-c: cancel or stop watching'));
  return { app, result: () => ended };
}

describe('Ctrl-C while following a job', () => {
  it('asks; a second Ctrl-C stops watching and leaves the job running', async () => {
    const { app, result } = await follow();
    try {
      app.stdin.write('\x03');
      await until('the prompt', () => (app.lastFrame() ?? '').includes('Stop?'));
      expect(app.lastFrame()).toMatch(/w or ctrl-c stop watching \(it keeps running\)/);
      app.stdin.write('\x03');
      await until('the view to end', () => result() !== undefined);
      expect(result()?.detached).toBe(true);
      expect(app.lastFrame()).not.toContain('cancelling');
      const info = await job.refresh();
      expect(['queued', 'starting', 'running']).toContain(info.state);
    } finally {
      app.unmount();
    }
  });

  it('the dashboard cancels a job with c then y, and its note goes once the job has ended', async () => {
    const app = render(<Dashboard agent={client} pollMs={200} />);
    const frame = () => app.lastFrame() ?? '';
    try {
      // Newest first: the queued job is the first row, selected.
      await until('the queued job', () => /queued +waits/.test(frame()));
      await settled();
      expect(frame()).toContain('c cancel');
      app.stdin.write('c');
      await until('the question', () => frame().includes(`cancel ${queued.id}? y / n`));
      await settled();
      app.stdin.write('y');
      await until('the note', () => frame().includes(`cancel sent to ${queued.id}`));
      await until('the job to end', () => /cancelled +waits/.test(frame()));
      await until('the note to go', () => !frame().includes('cancel sent'));
      // A finished job is not offered for cancelling, and c does not ask.
      expect(frame()).not.toContain('c cancel');
      await settled();
      app.stdin.write('c');
      await settled();
      expect(frame()).not.toContain('? y / n');
    } finally {
      app.unmount();
    }
  });

  it('asks; c then cancels the job, and the view ends with it', async () => {
    const { app, result } = await follow();
    try {
      app.stdin.write('\x03');
      app.stdin.write('c');
      await until('the job to end', () => result() !== undefined, 120_000);
      expect(result()).toMatchObject({ detached: false, view: { state: 'cancelled' } });
    } finally {
      app.unmount();
    }
  });
});

describe('the dashboard', () => {
  it('keeps the selected job selected when a new job comes in above it', async () => {
    const app = render(<Dashboard agent={client} pollMs={200} />);
    const frame = () => app.lastFrame() ?? '';
    let newcomer: Job | undefined;
    let blocker: Job | undefined;
    try {
      const newest = (await client.jobs.list({ limit: 1 }))[0];
      if (!newest) throw new Error('no jobs');
      // The detail pane names the selected job in full; the rows show short ids.
      await until('the newest job in detail', () => frame().includes(newest.id));
      // Behind a job that runs (the running one's id shows in the stats pane too), so it stays queued.
      blocker = await client.runScript({ ...script, name: 'blocker' });
      newcomer = await client.runScript({ ...script, name: 'late' });
      await until('the new row', () => /queued +late/.test(frame()));
      // Through several polls of the list and renders of the detail pane, it stays on the job it showed.
      for (let i = 0; i < 20; i++) {
        expect(frame()).not.toContain(newcomer.id);
        await settled();
      }
      expect(frame()).toContain(newest.id);
      // Up twice: past the blocker to the new job.
      app.stdin.write('k');
      await settled();
      app.stdin.write('k');
      await until('the new job in detail', () => frame().includes(newcomer?.id ?? '?'));
    } finally {
      app.unmount();
      await newcomer?.cancel().catch(() => {});
      await blocker?.cancel().catch(() => {});
    }
  });
});
