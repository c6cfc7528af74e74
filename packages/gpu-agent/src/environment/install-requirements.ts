// Installs the worker's requirements (python/requirements.txt) into an existing Python, such as a
// Jupyter host's kernel, rather than into a virtualenv of our own: `gpulink-agent setup --in-place`.
// A torch the host already has stays (its CUDA build matches the host's driver); everything else is
// installed at the pinned versions, so the host meets the worker as CI does.
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workerPythonDir } from '../paths.js';

/** Requirements only the worker's own test suite needs. */
const testOnly = new Set(['pytest']);

/** One line of requirements.txt: a distribution name and the rest of its specifier. */
interface Requirement {
  name: string;
  line: string;
}

/** The requirement lines of requirements.txt, comments dropped. */
export function parseRequirements(text: string): Requirement[] {
  return text
    .split('\n')
    .map((raw) => raw.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((line) => ({ name: (/^[A-Za-z0-9_.-]+/.exec(line)?.[0] ?? line).toLowerCase(), line }));
}

/**
 * What to ask pip for, given what the Python has: a torch it has is kept (as a constraint, so nothing
 * pulled in replaces it) and torchvision then follows that torch instead of our pin.
 */
export function planInstall(
  requirements: Requirement[],
  installed: Record<string, string | null>,
): { install: string[]; constraints: string[] } {
  const torch = installed.torch ?? null;
  const install: string[] = [];
  for (const r of requirements) {
    if (testOnly.has(r.name)) continue;
    if (torch !== null && r.name === 'torch') continue;
    if (torch !== null && r.name === 'torchvision') {
      if (!installed.torchvision) install.push('torchvision');
      continue;
    }
    install.push(r.line);
  }
  return { install, constraints: torch === null ? [] : [`torch==${torch}`] };
}

function run(command: string, args: string[], log: (line: string) => void): Promise<number> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) log(line);
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  return new Promise((resolve) => {
    child.on('error', (error) => {
      log(`cannot run ${command}: ${error.message}`);
      resolve(127);
    });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

async function installedVersions(python: string, names: string[]): Promise<Record<string, string | null>> {
  const code = `import importlib.metadata as m, json, sys
def v(n):
    try: return m.version(n)
    except m.PackageNotFoundError: return None
print(json.dumps({n: v(n) for n in sys.argv[1:]}))`;
  let out = '';
  const child = spawn(python, ['-c', code, ...names], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const status = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(127));
    child.on('exit', (c) => resolve(c ?? 1));
  });
  if (status !== 0) throw new Error(`cannot run ${python} to see what it has installed`);
  return JSON.parse(out) as Record<string, string | null>;
}

/** Installs what the worker needs into `python`; resolves to the exit status (0 when fastai imports). */
export async function installRequirementsInto(python: string, log: (line: string) => void): Promise<number> {
  const requirements = parseRequirements(await readFile(join(workerPythonDir, 'requirements.txt'), 'utf8'));
  const installed = await installedVersions(python, ['torch', 'torchvision']);
  const plan = planInstall(requirements, installed);
  log(
    installed.torch
      ? `keeping ${python}'s torch ${installed.torch}; installing the rest of the worker's requirements`
      : `${python} has no torch: installing torch and the worker's requirements (torch with its CUDA libraries is about 3-4 GB)`,
  );
  const constraints = join(tmpdir(), `gpulink-constraints-${process.pid}.txt`);
  await writeFile(constraints, `${plan.constraints.join('\n')}\n`);
  try {
    const pip = ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', '-q'];
    const status = await run(python, [...pip, '-c', constraints, ...plan.install], log);
    if (status !== 0) return status;
  } finally {
    await rm(constraints, { force: true });
  }
  const check = await run(python, ['-c', 'import fastai.vision.all, fastai.tabular.all'], log);
  if (check === 0) log(`ready: ${python} imports fastai`);
  return check;
}
