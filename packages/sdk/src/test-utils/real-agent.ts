// Helpers for the *.integration.test.ts files: the real agent (its own test launcher), the Python it
// runs jobs with, and files the tests make.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AgentClient } from '../client.js';
import type { VisionTrainingOptions } from '../job-options.js';
import type { Job } from '../jobs.js';

export {
  type BoreRelay,
  findTestTool,
  startBoreRelay,
  startTestAgent,
  type TestAgent,
} from '@gpulink/gpu-agent/testing';

/** The agent package's `python/` folder, found from its published test entry point. */
export function agentPythonDir(): string {
  const testing = fileURLToPath(import.meta.resolve('@gpulink/gpu-agent/testing'));
  return join(dirname(testing), '..', 'python');
}

/** The Python the agent runs jobs with by default: $GPULINK_PYTHON, else its virtualenv, else python3. */
export function workerPython(): string {
  if (process.env.GPULINK_PYTHON) return process.env.GPULINK_PYTHON;
  const venv = join(agentPythonDir(), '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/**
 * scikit-learn's digits as PNG folders (train/<label>/*.png, holdout/*.png), written by the worker
 * package's own sample-data module, `size` pixels square. `perClass` keeps only that many training
 * images of each digit, for tests that need training to happen but not to be good.
 */
export async function makeDigits(
  out: string,
  options: { size?: number; perClass?: number } = {},
): Promise<void> {
  await promisify(execFile)(
    workerPython(),
    ['-m', 'gpulink_worker.sample_data', 'digits', out, '--size', String(options.size ?? 28)],
    {
      env: { ...process.env, PYTHONPATH: agentPythonDir() },
    },
  );
  const keep = options.perClass;
  if (keep === undefined) return;
  for (const label of await readdir(join(out, 'train'))) {
    const files = (await readdir(join(out, 'train', label))).sort();
    await Promise.all(files.slice(keep).map((f) => rm(join(out, 'train', label, f))));
  }
}

/** The Wisconsin breast-cancer table as CSV with a `diagnosis` column. */
export async function makeBreastCancerCsv(out: string): Promise<void> {
  await promisify(execFile)(workerPython(), ['-m', 'gpulink_worker.sample_data', 'breast_cancer', out], {
    env: { ...process.env, PYTHONPATH: agentPythonDir() },
  });
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `gpulink-sdk-${prefix}-`));
}

/** Writes files (path -> content) under `root`, creating folders. */
export async function writeFiles(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Random bytes that no other test file shares, so dedup across tests cannot hide bytes sent. */
export function uniqueBytes(size: number): Buffer {
  return randomBytes(size);
}

export async function sha256Of(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/**
 * A small, quick vision job on the digits `makeDigits` wrote and the caller uploaded: resnet18 from
 * scratch on 16-pixel images, one-cycle at lr 0.01; `overrides` set what a test is about.
 */
export function smallDigitsJob(
  datasetId: string,
  overrides: Partial<VisionTrainingOptions> = {},
): VisionTrainingOptions {
  return {
    data: { datasetId },
    labels: { folder: { trainDir: 'train' } },
    arch: 'resnet18',
    pretrained: false,
    imageSize: 16,
    batchSize: 16,
    epochs: 1,
    lr: 0.01,
    fitMethod: 'fit_one_cycle',
    ...overrides,
  };
}

/**
 * `lines.py` for a script workspace: prints `n` numbered lines (`line 00000 xxx...`), `pause` seconds
 * apart, then writes `size` random bytes as the artifact `blob.bin`. Run it with {@link runLines}.
 */
export const linesScript = `
import os, sys, time
n, pause, size = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    print(f"line {i:05d} " + "x" * 60, flush=True)
    time.sleep(pause)
if size:
    with open(os.path.join(os.environ["GPULINK_ARTIFACTS"], "blob.bin"), "wb") as f:
        f.write(os.urandom(size))
`;

/** Runs {@link linesScript} from the uploaded workspace `workspaceId`. */
export function runLines(
  client: AgentClient,
  workspaceId: string,
  n: number,
  pause: number,
  size = 0,
): Promise<Job> {
  return client.runScript({
    workspace: { datasetId: workspaceId },
    entrypoint: 'lines.py',
    args: [String(n), String(pause), String(size)],
    name: `lines-${n}`,
  });
}
