import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The @gpulink/gpu-agent package folder, found from this module whether it runs from src/ or dist/. */
export const packageDir: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'python', 'gpulink_worker'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the gpulink_worker Python package next to the agent');
    dir = up;
  }
  return dir;
})();

/** Folder holding the `gpulink_worker` Python package (put on PYTHONPATH for every worker). */
export const workerPythonDir = join(packageDir, 'python');

/** The agent's version, from its package.json. */
export const agentVersion: string = (
  JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string }
).version;

/**
 * The Python that runs jobs when `--python` is not given: $GPULINK_PYTHON, else the project's
 * virtualenv made by setup-venv.sh, else `python3` from PATH (e.g. Colab's own).
 */
export function defaultPython(): string {
  if (process.env.GPULINK_PYTHON) return process.env.GPULINK_PYTHON;
  const venv = join(workerPythonDir, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}
