// `--gpus N|all` as a plain process of the built CLI against a real agent (with no GPU, as here):
// a job asking for more GPUs than the agent has is refused with the count it has, before any upload.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect } from '@gpulink/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedHome, runGpulink } from '../test-utils/run-cli.js';

let agent: TestAgent;
let client: AgentClient;
let folder: string;

beforeAll(async () => {
  agent = await startTestAgent();
  client = await connect(agent.url);
  folder = await mkdtemp(join(tmpdir(), 'gpulink-cli-gpus-'));
  await writeFile(join(folder, 'train.py'), 'print("never runs")\n');
  await writeFile(join(folder, 'a.png'), 'not an image: it is never uploaded');
});

afterAll(async () => {
  await client?.close();
  await agent?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('gpulink --gpus on an agent with fewer GPUs', () => {
  const cli = async (args: string[]) =>
    runGpulink(args, { cwd: folder, env: { ...(await isolatedHome()), GPULINK_URL: agent.url } });

  it('refuses train vision --gpus 2 with the count, before uploading anything', async () => {
    expect(client.info.gpus).toHaveLength(0);
    const run = await cli(['train', 'vision', folder, '--gpus', '2']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('INVALID_ARGUMENT: gpus: the job asks for 2 GPU(s) but this agent has 0');
    expect(await client.datasets.list()).toEqual([]);
    expect(await client.jobs.list()).toEqual([]);
  });

  it('refuses run --gpus all on an agent without a GPU, before uploading the workspace', async () => {
    const run = await cli(['run', join(folder, 'train.py'), '--gpus', 'all']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('this agent has no GPU');
    expect(await client.datasets.list()).toEqual([]);
  });

  it('refuses --gpus with --cpu, and a count that is not a number', async () => {
    expect((await cli(['train', 'vision', folder, '--gpus', '2', '--cpu'])).stderr).toMatch(
      /cannot be used with/,
    );
    expect((await cli(['train', 'vision', folder, '--gpus', 'two'])).code).not.toBe(0);
  });
});
