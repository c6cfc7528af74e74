// What every suite needs: the real agent (the built dist, through its test launcher), an SDK client,
// the worker's Python, sample data, and temporary folders that are always removed.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { defaultPython, packageDir } from '@gpulink/gpu-agent';
import { makeCertificate, startTestAgent } from '@gpulink/gpu-agent/testing';
import { connect } from '@gpulink/sdk';

export const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const fixturesDir = join(benchDir, 'fixtures');
export const python = defaultPython();
export const workerPythonDir = join(packageDir, 'python');
const execFileAsync = promisify(execFile);

/** A temporary folder removed by `cleanup()`. */
export async function tempDir(label) {
  return mkdtemp(join(tmpdir(), `gpulink-bench-${label}-`));
}

/**
 * Starts an agent (`gpulink-agent serve --json` from dist, with `extraArgs`) and connects the SDK to it. `close()` stops
 * both and removes the state dir.
 */
export async function startAgent({ warmWorkers = 0, env = {}, extraArgs = [] } = {}) {
  const agent = await startTestAgent({ warmWorkers, env, extraArgs });
  const client = await connect(agent.url, { timeoutMs: 60_000 });
  return {
    agent,
    client,
    pid: agent.process.pid,
    async close() {
      await client.close();
      await agent.stop();
    },
  };
}

/** scikit-learn's digits as PNG folders (train/<label>/*.png), from the worker's sample-data module. */
export async function makeDigits(root) {
  const out = join(root, 'digits');
  await execFileAsync(python, ['-m', 'gpulink_worker.sample_data', 'digits', out, '--size', '32'], {
    env: { ...process.env, PYTHONPATH: workerPythonDir },
  });
  return out;
}

/** Versions of the worker's Python stack, for the machine line of the results. */
export async function pythonVersions() {
  const code =
    'import platform, torch, fastai; print(platform.python_version(), torch.__version__, fastai.__version__)';
  try {
    const { stdout } = await execFileAsync(python, ['-c', code]);
    const [py, torch, fastai] = stdout.trim().split(' ');
    return { python: py, torch, fastai };
  } catch (error) {
    return { error: error.message };
  }
}

/**
 * Runs `use(module)` with a TypeScript helper of the packages' tests (a `test-utils` file, not part of
 * any dist), compiled here on the fly with esbuild (already installed for tsup) rather than copied:
 * one helper for tests and bench. The compiled module is removed afterwards.
 */
async function withTestHelper(source, use) {
  const { transform } = await import('esbuild');
  const { code } = await transform(await readFile(source, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    // A helper may find its fixtures relative to its own file.
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(source).href) },
  });
  const dir = await tempDir('test-helper');
  const module = join(dir, 'helper.mjs');
  await writeFile(module, code);
  try {
    return await use(await import(pathToFileURL(module).href));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The STAND-IN nvidia-smi of the agent's own tests (packages/gpu-agent/src/test-utils), for machines
 * without a GPU. Returns a folder to put first on PATH, or an error message.
 */
export async function installNvidiaSmiStandIn() {
  const source = join(packageDir, 'src', 'test-utils', 'nvidia-smi-standin.ts');
  try {
    return { dir: await withTestHelper(source, (m) => m.installNvidiaSmiStandIn()) };
  } catch (error) {
    return { error: `cannot build the nvidia-smi stand-in from ${source}: ${error.message}` };
  }
}

/**
 * Writes `<dir>/<name>.key` and `<dir>/<name>.crt`, a self-signed certificate for 127.0.0.1, made
 * in-process by the agent's own certificate maker (as the SDK tests' nginx edge does).
 */
export async function writeLoopbackCertificate(dir, name) {
  const pair = await makeCertificate({
    commonName: '127.0.0.1',
    altNames: [{ ip: '127.0.0.1' }],
    validDays: 2,
    ca: true,
  });
  await writeFile(join(dir, `${name}.crt`), pair.certPem);
  await writeFile(join(dir, `${name}.key`), pair.keyPem, { mode: 0o600 });
}

/** The GPUs a real `nvidia-smi -L` lists; empty without a driver (the stand-in is never on PATH here). */
export async function nvidiaGpus() {
  try {
    const { stdout } = await execFileAsync('nvidia-smi', ['-L']);
    return stdout.split('\n').filter((l) => l.startsWith('GPU '));
  } catch {
    return [];
  }
}

/** Whether a program runs (`program --version` exits 0). */
export async function hasProgram(program) {
  try {
    await execFileAsync(program, ['--version']);
    return true;
  } catch {
    return false;
  }
}
