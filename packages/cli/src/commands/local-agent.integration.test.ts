// `gpulink up`, `connect` and `down` as plain processes of the built CLI: the embedded local agent is
// found by the lock it holds on its state dir, whatever the current profile names.
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedHome, readCurrentProfile, runGpulink } from '../test-utils/run-cli.js';

let other: TestAgent;
let env: Record<string, string>;
const gpulink = (...args: string[]) => runGpulink(args, { env });
const profile = () => readCurrentProfile<{ url: string; local?: { pid: number } }>(env.XDG_CONFIG_HOME ?? '');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  other = await startTestAgent();
  env = { ...(await isolatedHome()), GPULINK_URL: '' };
});

afterAll(async () => {
  await gpulink('down');
  await other?.stop();
});

describe('the local agent, whatever the profile names', () => {
  it('connect to its own URL keeps it; up starts no second one; down stops it after connect elsewhere', async () => {
    const up = await gpulink('up', '--json');
    expect(up.code).toBe(0);
    const first = JSON.parse(up.stdout) as { local: { pid: number } };
    const local = await profile();
    expect(local.local?.pid).toBe(first.local.pid);

    // Its own URL: the profile stays the local agent's.
    expect((await gpulink('connect', local.url)).code).toBe(0);
    expect((await profile()).local?.pid).toBe(first.local.pid);

    // Another agent becomes the profile; `up` then finds the one that runs and makes it current again.
    expect((await gpulink('connect', other.url)).code).toBe(0);
    expect((await profile()).url).toBe(other.url);
    const again = await gpulink('up');
    expect(again.stdout).toBe(
      `local agent running (pid ${first.local.pid}) at ${local.url.replace(/\/\/[^@/]+@/, '//***@')}; current context 'local'\n`,
    );
    expect((await profile()).local?.pid).toBe(first.local.pid);

    // With the other agent current, `down` still stops the local one, and leaves the profile alone.
    expect((await gpulink('connect', other.url)).code).toBe(0);
    const down = await gpulink('down');
    expect(down.stdout).toBe('local agent stopped\n');
    expect(alive(first.local.pid)).toBe(false);
    expect((await profile()).url).toBe(other.url);
    expect((await gpulink('down')).stdout).toBe('no local agent was running\n');
  });
});
