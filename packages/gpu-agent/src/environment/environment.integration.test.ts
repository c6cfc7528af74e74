// The doctor (CheckEnvironment) of a real agent and its real worker Python: what it reports on a
// machine where torch cannot use CUDA, without nvidia-smi, and with a driver (a STAND-IN nvidia-smi
// over a 2x T4 recording) whose GPUs torch cannot use, the classic wheel-newer-than-driver case.
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { type CheckEnvironmentResponse, CheckStatus } from '@gpulink/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPython } from '../paths.js';
import { rawClients, unaryCall } from '../test-utils/clients.js';
import { installNvidiaSmiStandIn } from '../test-utils/nvidia-smi-standin.js';
import { startTestAgent } from '../testing.js';
import { torchCudaFix } from './environment.js';

const torch = JSON.parse(
  execFileSync(defaultPython(), [
    '-c',
    'import json, torch; print(json.dumps([torch.__version__, torch.version.cuda or "", torch.cuda.is_available()]))',
  ]).toString(),
) as [version: string, cuda: string, available: boolean];

/** The doctor's report from an agent started with `env`. */
async function doctor(env: Record<string, string>): Promise<CheckEnvironmentResponse> {
  const agent = await startTestAgent({ env });
  const c = rawClients(agent.port, agent.token);
  try {
    return await unaryCall<CheckEnvironmentResponse>((cb) => c.agent.checkEnvironment({}, c.metadata(), cb));
  } finally {
    c.close();
    await agent.stop();
  }
}

const check = (report: CheckEnvironmentResponse, id: string) => report.checks.find((c) => c.id === id);

// Where torch can use a GPU, none of this applies: the device check covers that machine.
describe.skipIf(torch[2])('the doctor where torch cannot use CUDA', () => {
  let standIn: string;
  beforeAll(async () => {
    standIn = await installNvidiaSmiStandIn();
  });
  afterAll(async () => {
    await rm(standIn, { recursive: true, force: true });
  });

  it('reports the worker Python, torch and fastai, and warns that jobs train on the CPU', async () => {
    // No nvidia-smi on this PATH.
    const report = await doctor({ PATH: '/usr/bin:/bin' });
    expect(check(report, 'python')?.status).toBe(CheckStatus.CHECK_STATUS_OK);
    expect(check(report, 'python.torch')).toMatchObject({
      status: CheckStatus.CHECK_STATUS_OK,
      detail: torch[0],
    });
    expect(check(report, 'python.fastai')).toMatchObject({
      status: CheckStatus.CHECK_STATUS_OK,
      detail: '2.8.8',
    });
    expect(check(report, 'cuda')).toMatchObject({
      status: CheckStatus.CHECK_STATUS_WARN,
      title: 'GPU',
      detail: 'none that torch can use, so training runs on the CPU',
    });
    expect(check(report, 'cudnn')).toMatchObject({
      status: CheckStatus.CHECK_STATUS_WARN,
      title: 'cuDNN',
      detail: 'not in use (it needs a GPU)',
    });
  });

  it('fails when the driver sees GPUs that torch cannot use, and says which driver torch needs', async () => {
    const report = await doctor({
      PATH: `${standIn}:${process.env.PATH}`,
      GPULINK_STANDIN_DRIVER_VERSION: '535.104.05',
    });
    const cuda = check(report, 'cuda');
    expect(cuda?.status).toBe(CheckStatus.CHECK_STATUS_FAIL);
    expect(cuda?.detail).toBe(
      `nvidia-smi sees 2 GPU(s) (Tesla T4, driver 535.104.05) but torch ${torch[0]} cannot use them: jobs would train on the CPU`,
    );
    expect(cuda?.fixHint).toBe(torchCudaFix(torch[1], '535.104.05'));
    expect(report.overall).toBe(CheckStatus.CHECK_STATUS_FAIL);
  });
});

describe('torchCudaFix', () => {
  it('names the driver a CUDA 13 or 12 torch needs when the driver is older', () => {
    expect(torchCudaFix('13.0', '550.54.15')).toMatch(
      /^torch is built for CUDA 13\.0, which needs an NVIDIA driver 580 or newer \(this one is 550\.54\.15\): update the driver, or install the torch build for an older CUDA/,
    );
    expect(torchCudaFix('12.8', '470.82.01')).toMatch(
      /needs an NVIDIA driver 525 or newer \(this one is 470\.82\.01\)/,
    );
  });

  it('looks elsewhere when the driver is new enough, and names a CPU-only torch', () => {
    expect(torchCudaFix('12.8', '570.86.10')).toMatch(
      /^torch is built for CUDA 12\.8 and the driver is 570\.86\.10: run /,
    );
    expect(torchCudaFix('', '570.86.10')).toBe(
      'this torch is a CPU-only build: install a CUDA build (`gpulink-agent setup`)',
    );
  });
});
