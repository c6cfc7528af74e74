#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
// Records real job event sequences for the CLI's component tests: a real agent (built), the real
// worker and fastai on this machine. Run after `npm run build`:  node packages/cli/scripts/record-fixtures.mjs [NAME...]
// Writes packages/cli/src/ui/fixtures/<name>.json (SDK JobEvent objects, dates as ISO strings); with
// names (vision-digits, lr-find, failed-script), only those.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultPython, packageDir } from '@gpulink/gpu-agent';
import { startTestAgent } from '@gpulink/gpu-agent/testing';
import { connect } from '@gpulink/sdk';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'ui', 'fixtures');
const data = await mkdtemp(join(tmpdir(), 'gpulink-fixtures-'));
const sample = (...args) =>
  execFileSync(defaultPython(), ['-m', 'gpulink_worker.sample_data', ...args], {
    env: { ...process.env, PYTHONPATH: join(packageDir, 'python') },
  });
sample('digits', join(data, 'digits'), '--size', '32');
const agent = await startTestAgent({ warmWorkers: 1 });
const client = await connect(agent.url);
const only = process.argv.slice(2);
const record = async (name, start) => {
  if (only.length > 0 && !only.includes(name)) return;
  const job = await start();
  const events = [];
  for await (const e of job.events()) events.push(e);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `${name}.json`), `${JSON.stringify(events, null, 1)}\n`);
  console.log(`${name}: ${events.length} events`);
};
try {
  const vision = {
    data: { agentPath: join(data, 'digits') },
    labels: { folder: { trainDir: 'train' } },
    arch: 'resnet18',
    pretrained: false,
    imageSize: 32,
    epochs: 2,
    fitMethod: 'fit_one_cycle',
    lr: 0.01,
  };
  await record('vision-digits', () => client.trainVision({ ...vision, name: 'digits' }));
  await record('lr-find', () => client.lrFind({ vision: { ...vision }, iterations: 40 }));
  const ws = join(data, 'ws');
  await mkdir(ws, { recursive: true });
  await writeFile(
    join(ws, 'boom.py'),
    "print('loading'); import torch; print('about to fail'); raise ValueError('the labels file has 3 columns, expected 2')\n",
  );
  await record('failed-script', () =>
    client.runScript({ workspace: { agentPath: ws }, entrypoint: 'boom.py' }),
  );
} finally {
  await client.close();
  await agent.stop();
  await rm(data, { recursive: true, force: true });
}
