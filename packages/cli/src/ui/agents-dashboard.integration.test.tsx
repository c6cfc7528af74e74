// The dashboard over several saved agents: two real agents, one with the nvidia-smi STAND-IN for two
// GPUs (no GPU exists here), the other on the CPU running a job. The agents pane shows both with
// their jobs, `a` shows the other agent in full (its GPUs), and an agent that stops is unreachable.
import { installNvidiaSmiStandIn, startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect, type Job } from '@gpulink/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptJob } from '../test-utils/script-job.js';
import { renderInTerminal, visible } from '../test-utils/terminal.js';
import { AgentsDashboard } from './AgentsDashboard.js';

let box: TestAgent;
let local: TestAgent;
let localClient: AgentClient;
let running: Job;

beforeAll(async () => {
  const standIn = await installNvidiaSmiStandIn();
  [box, local] = await Promise.all([
    startTestAgent({ env: { PATH: `${standIn}:${process.env.PATH}` } }),
    startTestAgent(),
  ]);
  localClient = await connect(local.url);
  const script = await scriptJob(
    localClient,
    'wait.py',
    'import time\nprint("waiting", flush=True)\ntime.sleep(600)\n',
  );
  running = await localClient.runScript({ ...script, name: 'waiter' });
});

afterAll(async () => {
  await running?.cancel().catch(() => {});
  await localClient?.close();
  await Promise.all([box?.stop(), local?.stop()]);
});

async function until(what: string, ok: () => boolean, frame: () => string, timeoutMs = 60_000) {
  for (const end = Date.now() + timeoutMs; Date.now() < end && !ok(); )
    await new Promise((r) => setTimeout(r, 50));
  if (!ok()) throw new Error(`timed out waiting for ${what}; the screen:\n${lines(frame()).join('\n')}`);
}

const lines = (frame: string) => frame.split('\n').map(visible);

describe('the dashboard over several saved agents', () => {
  it('shows each agent and its jobs, a shows the next one in full (its GPUs), a stopped one is unreachable', async () => {
    const contexts = [
      { name: 'desk-box', connect: () => connect(box.url) },
      { name: 'local', connect: () => connect(local.url) },
    ];
    const t = renderInTerminal(
      <AgentsDashboard contexts={contexts} initial={{ name: 'local', client: localClient }} pollMs={200} />,
      { columns: 80, rows: 24 },
    );
    try {
      const line = (name: string) => lines(t.lastFrame()).find((l) => l.includes(` ${name}  `));
      await until(
        'both agents',
        () => /0 running/.test(line('desk-box') ?? '') && /1 running/.test(line('local') ?? ''),
        t.lastFrame,
      );
      expect(line('local')).toMatch(/▸ local {2}\S+ · no GPU · 1 running, 0 queued/);
      // GetInfo lists the GPUs torch sees: none here, the stand-in being nvidia-smi's (the GPU pane's).
      expect(line('desk-box')).toMatch(/^ {2}desk-box {2}\S+ · no GPU · 0 running, 0 queued/);
      // The shown agent is the local one: its job in the list, no GPU in its pane.
      await until('the local job', () => t.lastFrame().includes(running.id.slice(0, 12)), t.lastFrame);
      expect(t.lastFrame()).toContain('a agent');
      for (const l of lines(t.lastFrame())) expect([...l].length).toBeLessThanOrEqual(80);
      expect(lines(t.lastFrame()).length).toBeLessThanOrEqual(23);

      await new Promise((r) => setTimeout(r, 300));
      t.stdin.write('a');
      await until(
        'the box shown',
        () => /▸ desk-box/.test(t.lastFrame()) && /gpulink desk-box/.test(t.lastFrame()),
        t.lastFrame,
      );
      await until(
        "the box's GPUs",
        () => lines(t.lastFrame()).some((l) => /GPU 0 .*Tesla T4/.test(l)),
        t.lastFrame,
      );
      expect(t.lastFrame()).not.toContain(running.id.slice(0, 12));

      await box.stop();
      await until('the box unreachable', () => /desk-box {2}unreachable/.test(t.lastFrame()), t.lastFrame);
      await new Promise((r) => setTimeout(r, 300));
      t.stdin.write('a');
      await until(
        'local shown again',
        () => /▸ local/.test(t.lastFrame()) && t.lastFrame().includes(running.id.slice(0, 12)),
        t.lastFrame,
      );
    } finally {
      t.app.unmount();
    }
  });
});
