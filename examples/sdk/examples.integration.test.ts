// Runs the examples as a user would, against a real agent on this machine.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defaultPython, packageDir } from '@gpulink/gpu-agent';
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
let agent: TestAgent;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gpulink-examples-'));
  await run(defaultPython(), ['-m', 'gpulink_worker.sample_data', 'digits', join(work, 'digits')], {
    env: { ...process.env, PYTHONPATH: join(packageDir, 'python') },
  });
  agent = await startTestAgent({ warmWorkers: 1 });
});
afterAll(async () => {
  await agent?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('examples', () => {
  it('train-digits.mjs trains, reports accuracy and downloads the model', async () => {
    const { stdout } = await run(
      process.execPath,
      [join(here, 'train-digits.mjs'), join(work, 'digits'), '2'],
      {
        cwd: work,
        env: { ...process.env, GPULINK_URL: agent.url },
      },
    );
    expect(stdout).toMatch(/epoch 2: accuracy 0\.\d+/);
    expect(stdout).toMatch(/succeeded: accuracy 0\.(8|9)\d+, model at /);
    expect((await stat(join(work, 'export.pkl'))).size).toBeGreaterThan(1_000_000);
  });

  it('watch-stats.mjs prints host RAM for the seconds asked', async () => {
    const { stdout } = await run(process.execPath, [join(here, 'watch-stats.mjs'), '3'], {
      env: { ...process.env, GPULINK_URL: agent.url },
    });
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/RAM free \d+\.\d GiB \| (no GPU|GPU 0)/);
  });
});
