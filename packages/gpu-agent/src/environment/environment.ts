import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import { CheckStatus, type EnvironmentCheck } from '@gpulink/proto';
import type { WarmPool } from '../jobs/warm-pool.js';
import { WorkerProcess, type WorkerReady } from '../jobs/worker-process.js';

const GIB = 1024 ** 3;

/**
 * What the worker's Python can do, learnt from a worker's `ready` report: the warm spare's when the
 * pool has one (no extra process), otherwise a worker started only to report and stopped.
 */
export class Environment {
  #cached: Promise<WorkerReady> | undefined;

  constructor(
    readonly python: string,
    private readonly pool: WarmPool,
  ) {}

  /** The report, probed once and cached; a failed probe is retried on the next call. */
  probe(): Promise<WorkerReady> {
    if (!this.#cached) {
      const spare = this.pool.peek();
      const attempt = spare ? spare.ready : probeOnce(this.python);
      this.#cached = attempt;
      attempt.catch(() => {
        if (this.#cached === attempt) this.#cached = undefined;
      });
    }
    return this.#cached;
  }

  /** The doctor report: what the seed notebook checked by hand, each with a fix. */
  async checks(stateDir: string): Promise<EnvironmentCheck[]> {
    const out: EnvironmentCheck[] = [];
    const add = (id: string, title: string, status: CheckStatus, detail: string, fixHint = '') =>
      out.push({ id, title, status, detail, fixHint: status === CheckStatus.CHECK_STATUS_OK ? '' : fixHint });
    let ready: WorkerReady | undefined;
    try {
      ready = await this.probe();
      add(
        'python',
        'Python runs the gpulink worker',
        CheckStatus.CHECK_STATUS_OK,
        `${ready.pythonVersion} (${ready.pythonExecutable})`,
      );
    } catch (error) {
      add(
        'python',
        'Python runs the gpulink worker',
        CheckStatus.CHECK_STATUS_FAIL,
        (error as Error).message,
        `run \`gpulink-agent setup --python ${this.python}\` to install torch and fastai`,
      );
    }
    if (ready) {
      const [major, minor] = ready.fastaiVersion.split('.').map(Number);
      add(
        'python.torch',
        'torch is importable',
        ready.torchVersion ? CheckStatus.CHECK_STATUS_OK : CheckStatus.CHECK_STATUS_FAIL,
        ready.torchVersion || 'missing',
        'run `gpulink-agent setup`',
      );
      add(
        'python.fastai',
        'fastai 2.8 is importable',
        major === 2 && (minor ?? 0) >= 8 ? CheckStatus.CHECK_STATUS_OK : CheckStatus.CHECK_STATUS_WARN,
        ready.fastaiVersion || 'missing',
        'gpulink is tested with fastai 2.8.8: run `gpulink-agent setup`',
      );
      const unusable = ready.cudaAvailable ? [] : await gpusSeenByDriver();
      const first = unusable[0];
      let cuda: [CheckStatus, string, string];
      if (ready.cudaAvailable) {
        cuda = [CheckStatus.CHECK_STATUS_OK, `CUDA ${ready.cudaVersion}, ${ready.gpus.length} GPU(s)`, ''];
      } else if (first) {
        // The classic mismatch: a torch wheel built for a newer CUDA than the driver can run.
        cuda = [
          CheckStatus.CHECK_STATUS_FAIL,
          `nvidia-smi sees ${unusable.length} GPU(s) (${first.name}, driver ${first.driverVersion}) but torch ${ready.torchVersion} cannot use them: jobs would train on the CPU`,
          torchCudaFix(ready.cudaVersion, first.driverVersion),
        ];
      } else {
        cuda = [
          CheckStatus.CHECK_STATUS_WARN,
          'none that torch can use, so training runs on the CPU',
          'on Colab: Runtime > Change runtime type > GPU; elsewhere check `nvidia-smi` and the driver',
        ];
      }
      add('cuda', 'GPU', ...cuda);
      // torch reports cuDNN enabled even where CUDA does not start: it is in use only with a GPU.
      const cudnnInUse = ready.cudaAvailable && ready.cudnnEnabled;
      add(
        'cudnn',
        'cuDNN',
        cudnnInUse ? CheckStatus.CHECK_STATUS_OK : CheckStatus.CHECK_STATUS_WARN,
        cudnnInUse ? `version ${ready.cudnnVersion}` : 'not in use (it needs a GPU)',
        'install a torch build with CUDA and cuDNN',
      );
      for (const gpu of ready.gpus) {
        add(
          `gpu.${gpu.index}`,
          `GPU ${gpu.index}`,
          CheckStatus.CHECK_STATUS_OK,
          `${gpu.name}, ${(gpu.memoryTotalBytes / GIB).toFixed(1)} GiB, compute ${gpu.computeCapability}`,
        );
      }
    }
    const freeRam = freemem();
    add(
      'host.memory',
      'Host RAM',
      freeRam < 2 * GIB ? CheckStatus.CHECK_STATUS_WARN : CheckStatus.CHECK_STATUS_OK,
      `${(freeRam / GIB).toFixed(1)} GiB free of ${(totalmem() / GIB).toFixed(1)} GiB`,
      'less than 2 GiB free: lower the batch size, or free memory on the agent machine',
    );
    try {
      const fs = await statfs(stateDir);
      const free = fs.bavail * fs.bsize;
      add(
        'state.disk',
        'Space for the state dir',
        free < 2 * GIB ? CheckStatus.CHECK_STATUS_WARN : CheckStatus.CHECK_STATUS_OK,
        `${(free / GIB).toFixed(1)} GiB free at ${stateDir}`,
        'free disk space or point --state-dir elsewhere (on Colab, Google Drive survives a recycle)',
      );
    } catch (error) {
      add(
        'state.disk',
        'Space for the state dir',
        CheckStatus.CHECK_STATUS_FAIL,
        (error as Error).message,
        'check --state-dir',
      );
    }
    return out;
  }
}

/** The oldest driver series each CUDA major version runs on (12.x and 13.x through minor-version compatibility). */
const MIN_DRIVER_FOR_CUDA: Record<string, number> = { '11': 450, '12': 525, '13': 580 };

/** What to do when the driver sees GPUs that torch cannot use. */
export function torchCudaFix(torchCuda: string, driverVersion: string): string {
  if (!torchCuda) return 'this torch is a CPU-only build: install a CUDA build (`gpulink-agent setup`)';
  const need = MIN_DRIVER_FOR_CUDA[torchCuda.split('.')[0] ?? ''];
  const driverSeries = Number.parseInt(driverVersion, 10);
  const tooOld = need !== undefined && driverSeries < need;
  return tooOld
    ? `torch is built for CUDA ${torchCuda}, which needs an NVIDIA driver ${need} or newer (this one is ${driverVersion}): update the driver, or install the torch build for an older CUDA, e.g. PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cu128 packages/gpu-agent/python/setup-venv.sh`
    : `torch is built for CUDA ${torchCuda} and the driver is ${driverVersion}: run \`python -c "import torch; torch.cuda.init()"\` with the worker's Python to see why CUDA does not start`;
}

/** GPUs the NVIDIA driver reports, with its version; none when there is no nvidia-smi or it fails. */
function gpusSeenByDriver(): Promise<Array<{ name: string; driverVersion: string }>> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name,driver_version', '--format=csv,noheader,nounits'],
      { timeout: 10_000 },
      (error, stdout) => {
        if (error) return resolve([]);
        resolve(
          stdout
            .split('\n')
            .map((line) => line.split(',').map((f) => f.trim()))
            .filter(([name, version]) => name && version)
            .map(([name, version]) => ({ name: name as string, driverVersion: version as string })),
        );
      },
    );
  });
}

async function probeOnce(python: string): Promise<WorkerReady> {
  const worker = new WorkerProcess(python);
  try {
    return await worker.ready;
  } finally {
    worker.kill('SIGKILL');
  }
}

export function worstStatus(checks: EnvironmentCheck[]): CheckStatus {
  return checks.reduce((w, c) => Math.max(w, c.status), CheckStatus.CHECK_STATUS_OK) as CheckStatus;
}
