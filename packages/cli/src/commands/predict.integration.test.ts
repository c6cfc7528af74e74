// `gpulink predict` as a plain process of the built CLI, with a model trained by a real agent.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect, type Job } from '@gpulink/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedHome, runGpulink } from '../test-utils/run-cli.js';

let agent: TestAgent;
let client: AgentClient;
let folder: string;
let model: Job;

beforeAll(async () => {
  agent = await startTestAgent();
  client = await connect(agent.url);
  // scikit-learn's digits (train/<label>/*.png, holdout/*.png), by the worker package's own module.
  folder = await mkdtemp(join(tmpdir(), 'gpulink-cli-predict-'));
  const workerDir = join(
    dirname(createRequire(import.meta.url).resolve('@gpulink/gpu-agent/package.json')),
    'python',
  );
  await promisify(execFile)(
    client.info.pythonExecutable,
    ['-m', 'gpulink_worker.sample_data', 'digits', folder, '--size', '16'],
    { env: { ...process.env, PYTHONPATH: workerDir } },
  );
  for (const label of await readdir(join(folder, 'train'))) {
    const files = (await readdir(join(folder, 'train', label))).sort();
    await Promise.all(files.slice(8).map((f) => rm(join(folder, 'train', label, f))));
  }
  const { dataset } = await client.datasets.upload(join(folder, 'train'), { hashCache: false });
  model = await client.trainVision({
    data: { datasetId: dataset.id },
    arch: 'resnet18',
    pretrained: false,
    imageSize: 16,
    epochs: 1,
    fitMethod: 'fit_one_cycle',
    lr: 0.01,
    gpus: 0,
  });
  await model.wait();
});

afterAll(async () => {
  await client?.close();
  await agent?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('gpulink predict JOB FILE...', () => {
  it("prints each input's name as given, its label and probability", async () => {
    const holdout = (await readdir(join(folder, 'holdout'))).sort().slice(0, 2);
    const inputs = holdout.map((f) => `holdout/${f}`);
    const run = await runGpulink(['predict', model.id, ...inputs], {
      cwd: folder,
      env: { ...(await isolatedHome()), GPULINK_URL: agent.url },
    });
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.at(-3)).toMatch(/^job \S+ succeeded: 2 predictions$/);
    expect(lines.slice(-2).map((l) => l.split(/ {2}/)[0]?.trimEnd())).toEqual(inputs);
    for (const line of lines.slice(-2)) expect(line).toMatch(/^holdout\/\S+\.png {2}\d {2}\d+\.\d%/);
  });
});
