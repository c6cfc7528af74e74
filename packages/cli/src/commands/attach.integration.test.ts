// `gpulink attach` as a user runs it: the built CLI, a fresh config dir, and a real Jupyter server
// (jupyter_server + ipykernel) whose kernels run the worker's Python, on a host with no Node on its
// PATH (the CLI brings one). Then training streams through the kernel relay, pull checks the sha256,
// a second attach reuses the agent, and detach stops it. A wrong token and a Python without fastai
// are refused with nothing installed; with --setup the one without fastai gets it and attaches.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startJupyterServer, type TestJupyterServer } from '@gpulink/gpu-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCurrentProfile } from '../test-utils/run-cli.js';

const bin = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
const agentDir = dirname(createRequire(import.meta.url).resolve('@gpulink/gpu-agent/package.json'));
const repoRoot = join(agentDir, '..', '..');
const python = process.env.GPULINK_PYTHON ?? join(agentDir, 'python', '.venv', 'bin', 'python');

let home: string;
let env: Record<string, string>;
let jupyter: TestJupyterServer;
let agentPackage: string;
let digits: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gpulink(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const records = (run: Run) =>
  run.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** A PATH with everything /usr/bin and /usr/local/bin have, except node: a host without Node. */
async function pathWithoutNode(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const from of ['/usr/local/bin', '/usr/bin']) {
    if (!existsSync(from)) continue;
    for (const name of await readdir(from)) {
      if (name === 'node' || name === 'nodejs' || name === 'npm' || name === 'npx') continue;
      await symlink(join(from, name), join(dir, name)).catch(() => undefined);
    }
  }
  return `${dir}:/usr/sbin:/sbin`;
}

/** Processes whose command line is an agent serving this state dir. */
async function agentProcesses(stateDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (args.includes('serve') && args.includes(stateDir)) pids.push(Number(entry));
  }
  return pids;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'gpulink-attach-'));
  env = { XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), HOME: home };
  const pkgDir = join(home, 'package');
  agentPackage = execFileSync(
    process.execPath,
    [join(repoRoot, 'scripts', 'pack-agent.mjs'), '--out', pkgDir],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
    .trim()
    .split('\n')
    .at(-1) as string;
  digits = join(home, 'digits');
  await promisify(execFile)(python, ['-m', 'gpulink_worker.sample_data', 'digits', digits, '--size', '16'], {
    env: { ...process.env, PYTHONPATH: join(agentDir, 'python') },
  });
  // 30 images a digit: training must happen, through the relay, not be good.
  for (const label of await readdir(join(digits, 'train'))) {
    const files = (await readdir(join(digits, 'train', label))).sort();
    await Promise.all(files.slice(30).map((f) => rm(join(digits, 'train', label, f))));
  }
  jupyter = await startJupyterServer({
    python,
    env: { PATH: await pathWithoutNode(join(home, 'host-bin')) },
  });
});

afterAll(async () => {
  await jupyter?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('gpulink attach', () => {
  it('refuses a wrong token, naming the server, and installs nothing', async () => {
    const run = await gpulink('attach', `${jupyter.baseUrl}?token=wrong-token`, '--package', agentPackage);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`the Jupyter server at ${jupyter.baseUrl} refused the token`);
    expect(run.stderr).not.toContain('wrong-token');
    expect(existsSync(join(jupyter.home, '.local', 'share', 'gpulink'))).toBe(false);
    expect(existsSync(join(env.XDG_CONFIG_HOME as string, 'gpulink', 'profile.json'))).toBe(false);
  });

  it("names what the kernel's Python lacks (a real venv with ipykernel and no torch or fastai), and installs nothing", async () => {
    const bare = join(home, 'bare-venv');
    await promisify(execFile)('python3', ['-m', 'venv', bare]);
    await promisify(execFile)(join(bare, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '-q',
      '--disable-pip-version-check',
      'ipykernel',
    ]);
    const spec = join(jupyter.home, '.local', 'share', 'jupyter', 'kernels', 'bare');
    await mkdir(spec, { recursive: true });
    const argv = [join(bare, 'bin', 'python'), '-m', 'ipykernel_launcher', '-f', '{connection_file}'];
    await writeFile(
      join(spec, 'kernel.json'),
      JSON.stringify({ argv, display_name: 'bare', language: 'python' }),
    );
    const run = await gpulink('attach', jupyter.url, '--kernel', 'bare', '--package', agentPackage);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/has no torch and fastai: install them there/);
    expect(run.stderr).toContain(join(bare, 'bin', 'python'));
    expect(existsSync(join(jupyter.home, '.local', 'share', 'gpulink'))).toBe(false);
    expect(existsSync(join(env.XDG_CONFIG_HOME as string, 'gpulink', 'profile.json'))).toBe(false);
  });

  it('attaches from a fresh config dir; training streams to SUCCEEDED; pull checks the sha256; a second attach reuses the agent; detach stops it', async () => {
    const first = await gpulink('attach', jupyter.url, '--package', agentPackage, '--json');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const steps = records(first).flatMap((r) => (typeof r.step === 'string' ? [r.step] : []));
    // The host had no Node: the CLI brought its own, then uploaded and started the agent.
    expect(steps).toEqual(['server', 'kernel', 'check', 'node', 'upload', 'start', 'connect']);
    const attached = records(first).at(-1) as { url: string; reused: boolean };
    expect(attached.reused).toBe(false);
    expect(attached.url).toMatch(
      /^gpulink\+jupyter:\/\/\*\*\*@127\.0\.0\.1:\d+\?fp=[0-9a-f]{64}&agent_port=\d+&jupyter_token=\*\*\*$/,
    );
    const profilePath = join(env.XDG_CONFIG_HOME as string, 'gpulink', 'profile.json');
    expect((await stat(profilePath)).mode & 0o777).toBe(0o600);
    const profile = await readCurrentProfile<{ url: string; attached: { stateDir: string } }>(
      env.XDG_CONFIG_HOME as string,
    );
    const stateDir = join(jupyter.home, '.local', 'share', 'gpulink', 'attached');
    const [pid, ...others] = await agentProcesses(stateDir);
    expect(pid).toBeGreaterThan(0);
    expect(others).toEqual([]);

    const train = await gpulink(
      'train',
      'vision',
      digits,
      '--labels',
      'folder:train',
      '--no-pretrained',
      '--size',
      '16',
      '--epochs',
      '1',
      '--bs',
      '32',
      '--lr',
      '0.01',
      '--fit',
      'fit_one_cycle',
      '--json',
    );
    expect(train.code).toBe(0);
    const events = records(train).filter((r) => typeof r.seq === 'number') as { seq: number; type: string }[];
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
    expect(events.some((e) => e.type === 'epochEnded')).toBe(true);
    const exported = events.find((e) => e.type === 'artifact') as unknown as {
      jobId: string;
      artifact: { name: string; sha256: string };
    };
    expect(exported.artifact.name).toBe('export.pkl');

    const dest = join(home, 'export.pkl');
    const pull = await gpulink('pull', exported.jobId, 'export.pkl', '-o', dest, '--json');
    expect(pull.code).toBe(0);
    const sha = createHash('sha256')
      .update(await readFile(dest))
      .digest('hex');
    expect(sha).toBe(exported.artifact.sha256);

    const second = await gpulink('attach', jupyter.url, '--package', agentPackage, '--json');
    expect(second.code).toBe(0);
    expect(records(second).flatMap((r) => (typeof r.step === 'string' ? [r.step] : []))).toEqual([
      'server',
      'kernel',
      'check',
      'reuse',
      'connect',
    ]);
    expect((records(second).at(-1) as { reused: boolean }).reused).toBe(true);
    // Same agent: same token and certificate, so the same URL; one process on the state dir.
    const again = await readCurrentProfile(env.XDG_CONFIG_HOME as string);
    expect(again.url).toBe(profile.url);
    expect(await agentProcesses(stateDir)).toEqual([pid]);

    const detach = await gpulink('detach', '--json');
    expect(detach.code).toBe(0);
    expect(records(detach)[0]).toMatchObject({ stopped: true });
    expect(await agentProcesses(stateDir)).toEqual([]);
    expect(existsSync(profilePath)).toBe(false);
  }, 900_000);

  it('--setup installs what the kernel lacks (fastai) into its own Python, keeps its torch, and attaches', async () => {
    // A real venv with every package of the worker's venv except fastai, linked in: a host with torch
    // and Jupyter but no fastai, as a rented box's PyTorch image is.
    const host = join(home, 'no-fastai-venv');
    await promisify(execFile)('python3', ['-m', 'venv', host]);
    const sitePackages = async (venv: string) => {
      const lib = join(venv, 'lib');
      const [pythonDir] = (await readdir(lib)).filter((d) => d.startsWith('python'));
      return join(lib, pythonDir as string, 'site-packages');
    };
    const from = await sitePackages(join(agentDir, 'python', '.venv'));
    const to = await sitePackages(host);
    for (const name of await readdir(from)) {
      if (/^fastai([-_.]|$)/.test(name) && !name.startsWith('fastai_')) continue;
      await symlink(join(from, name), join(to, name)).catch(() => undefined);
    }
    const hostPython = join(host, 'bin', 'python');
    const spec = join(jupyter.home, '.local', 'share', 'jupyter', 'kernels', 'no-fastai');
    await mkdir(spec, { recursive: true });
    await writeFile(
      join(spec, 'kernel.json'),
      JSON.stringify({
        argv: [hostPython, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name: 'no fastai',
        language: 'python',
      }),
    );
    const stateDir = join(jupyter.home, 'setup-state');
    const refused = await gpulink('attach', jupyter.url, '--kernel', 'no-fastai', '--package', agentPackage);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/has no fastai: install them there .*attach with --setup/);

    const run = await gpulink(
      'attach',
      jupyter.url,
      '--kernel',
      'no-fastai',
      '--setup',
      '--state-dir',
      stateDir,
      '--package',
      agentPackage,
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const steps = records(run).flatMap((r) => (typeof r.step === 'string' ? [r.step] : []));
    // The package the test above uploaded is reused; Node is brought again (the host's PATH has none).
    expect(steps).toEqual(['server', 'kernel', 'check', 'node', 'setup', 'start', 'connect']);
    const result = records(run).at(-1) as { host: { executable: string; fastai: string; torch: string } };
    expect(result.host.executable).toBe(hostPython);
    const pins = await readFile(join(agentDir, 'python', 'requirements.txt'), 'utf8');
    expect(pins).toContain(`fastai==${result.host.fastai}`);
    // fastai is now the venv's own (not a link), and the torch it had is untouched.
    expect((await stat(join(to, 'fastai'))).isDirectory()).toBe(true);
    const { stdout } = await promisify(execFile)(hostPython, [
      '-c',
      'import fastai, torch, os, importlib.metadata as m; print(fastai.__version__, m.version("torch"), os.path.islink(os.path.dirname(torch.__file__)))',
    ]);
    expect(stdout.trim()).toBe(`${result.host.fastai} ${result.host.torch} True`);
    expect(await agentProcesses(stateDir)).toHaveLength(1);

    const detach = await gpulink('detach', '--json');
    expect(detach.code).toBe(0);
    expect(await agentProcesses(stateDir)).toEqual([]);
  }, 600_000);
});
