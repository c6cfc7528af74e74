import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPython, workerPythonDir } from '../paths.js';

/** Writes scikit-learn's digits (PNG folders) and breast-cancer (CSV) into a fresh temp folder. */
export async function makeSampleData(): Promise<{ root: string; digits: string; csvDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'gpulink-data-'));
  const run = (args: string[]) =>
    execFileSync(defaultPython(), ['-m', 'gpulink_worker.sample_data', ...args], {
      env: { ...process.env, PYTHONPATH: workerPythonDir },
      stdio: 'pipe',
    });
  run(['digits', join(root, 'digits'), '--size', '32']);
  run(['breast_cancer', join(root, 'tabular', 'breast_cancer.csv')]);
  return { root, digits: join(root, 'digits'), csvDir: join(root, 'tabular') };
}

/** Whether a process exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
