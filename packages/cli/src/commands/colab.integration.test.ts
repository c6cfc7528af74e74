// `gpulink colab up|down` (the built CLI) against a STAND-IN for Google's side only: a stand-in `colab`
// executable first on PATH, its stand-in backend, and a stand-in of Colab's runtime proxy in front of a
// real jupyter_server + ipykernel. What gpulink does after reading the session is the real path: the
// real attach, agent and kernel relay, through the proxy with the runtime-proxy token.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startJupyterServer, type TestJupyterServer } from '@gpulink/gpu-agent/testing';
import { parseAgentUrl } from '@gpulink/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ColabStandIn, startColabStandIn } from '../test-utils/colab-stand-in.js';
import { readCurrentProfile } from '../test-utils/run-cli.js';

const bin = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
const agentDir = dirname(createRequire(import.meta.url).resolve('@gpulink/gpu-agent/package.json'));
const repoRoot = join(agentDir, '..', '..');
const venvPython = join(agentDir, 'python', '.venv', 'bin', 'python');
const python = process.env.GPULINK_PYTHON ?? (existsSync(venvPython) ? venvPython : 'python3');

let dir: string;
let home: string;
let jupyter: TestJupyterServer;
let standIn: ColabStandIn;
let env: NodeJS.ProcessEnv;
let agentPid: number;

/** Where attach records the agent it started on the Jupyter host (the default state dir). */
const attachRecord = () => join(jupyter.home, '.local', 'share', 'gpulink', 'attached', 'attach.json');
/** Whether a process runs: a zombie (killed, not yet reaped by the kernel that spawned it) does not. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** Runs the built CLI with the test's HOME, XDG dirs and PATH; never blocks the stand-ins' event loop. */
function gpulink(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const sessionsFile = () => join(home, '.config', 'colab-cli', 'sessions.json');
const readSessions = async () =>
  JSON.parse(await readFile(sessionsFile(), 'utf8')) as Record<string, Record<string, unknown>>;
const profileUrl = async () => (await readCurrentProfile(join(dir, 'config'))).url;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpulink-colab-'));
  home = join(dir, 'home');
  jupyter = await startJupyterServer({ python });
  standIn = await startColabStandIn({ jupyter, python, dir });
  // The agent package attach uploads, made once from this checkout.
  const pack = spawn(process.execPath, [join(repoRoot, 'scripts', 'pack-agent.mjs'), '--out', dir], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let packed = '';
  pack.stdout.on('data', (d: Buffer) => {
    packed += d.toString();
  });
  await new Promise((resolve) => pack.once('exit', resolve));
  env = {
    ...process.env,
    ...standIn.env,
    HOME: home,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'data'),
    PATH: `${standIn.binDir}:${process.env.PATH}`,
    GPULINK_AGENT_PACKAGE: packed.trim().split('\n').at(-1),
    GPULINK_URL: '',
  };
});

afterAll(async () => {
  await standIn?.stop();
  await jupyter?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('gpulink colab up/down through a stand-in of Google’s Colab CLI and runtime proxy', () => {
  it('up: creates the session with colab new, attaches through the runtime proxy and saves the profile', async () => {
    const up = await gpulink('colab', 'up', '--name', 't');
    expect(up.stderr).toContain('asking Colab for a T4 runtime (colab new -s t --gpu T4)');
    expect(up.code, up.stderr).toBe(0);
    expect(standIn.calls).toEqual(['new']);
    const session = (await readSessions()).t;
    expect(session).toMatchObject({ name: 't', url: standIn.runtimeUrl, accelerator: 'T4' });
    const url = parseAgentUrl(await profileUrl());
    expect(url.jupyter).toMatchObject({ auth: 'colab', colabSession: 't', token: session?.token });
    expect(`http://${url.host}:${url.port}${url.path}`).toBe(standIn.runtimeUrl);

    const info = await gpulink('info', '--json');
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ agentVersion: expect.any(String) });
    agentPid = (JSON.parse(await readFile(attachRecord(), 'utf8')) as { pid: number }).pid;
    // The stand-in proxy takes nothing but a runtime-proxy token: not the Jupyter server's own.
    expect((await fetch(`${standIn.runtimeUrl}api/status?token=${jupyter.token}`)).status).toBe(401);
  });

  it('up again: reuses the session (colab status, no second colab new) and the running agent', async () => {
    const up = await gpulink('colab', 'up', '--name', 't', '--json');
    expect(up.code, up.stderr).toBe(0);
    expect(standIn.calls).toEqual(['new', 'status']);
    const records = up.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.at(-1)).toMatchObject({ reused: true });
  });

  it('refreshes a token whose time has passed through the Colab CLI before connecting', async () => {
    const before = (await readSessions()).t?.token;
    standIn.expireTokens();
    const sessions = await readSessions();
    (sessions.t as Record<string, unknown>).token_expires_at = new Date(Date.now() - 60_000).toISOString();
    await writeFile(sessionsFile(), JSON.stringify(sessions, null, 2));
    const info = await gpulink('info');
    expect(info.code, info.stderr).toBe(0);
    expect(info.stderr).toContain(
      "refreshing the runtime-proxy token of the Colab session 't' (colab status -s t)",
    );
    expect(standIn.calls.at(-1)).toBe('status');
    const after = (await readSessions()).t?.token;
    expect(after).not.toBe(before);
    expect(parseAgentUrl(await profileUrl()).jupyter?.token).toBe(after);
  });

  it('refreshes a token the runtime proxy refuses (401) before the time the session file gives', async () => {
    const calls = standIn.calls.length;
    standIn.expireTokens();
    const info = await gpulink('info');
    expect(info.code, info.stderr).toBe(0);
    expect(standIn.calls.slice(calls)).toEqual(['status']);
  });

  it('down: stops the agent, then colab stop, and forgets its context, even when another one is current', async () => {
    expect((await gpulink('context', 'ls', '-q')).stdout).toBe('colab-t\n');
    await gpulink('context', 'add', 'elsewhere', 'gpulink://token@127.0.0.1:9', '--use');
    const down = await gpulink('colab', 'down', '--name', 't');
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain('agent stopped');
    expect(standIn.calls.at(-1)).toBe('stop');
    expect(standIn.assigned()).toEqual([]);
    expect((await readSessions()).t).toBeUndefined();
    expect(alive(agentPid)).toBe(false);
    expect((await gpulink('context', 'ls', '-q')).stdout).toBe('elsewhere\n');
    await gpulink('context', 'rm', 'elsewhere');
    expect(existsSync(join(dir, 'config', 'gpulink', 'profile.json'))).toBe(false);
    const info = await gpulink('info');
    expect(info.code).not.toBe(0);
  });

  it('up --drive refuses while Google Drive is not mounted in the runtime, and starts nothing', async () => {
    const up = await gpulink('colab', 'up', '--name', 'd', '--drive');
    expect(up.code).toBe(1);
    expect(up.stderr).toContain('nothing is mounted at /content/drive');
    expect(up.stderr).toContain("drive.mount('/content/drive')");
    expect(existsSync(join(dir, 'config', 'gpulink', 'profile.json'))).toBe(false);
    // Nothing was written where the state dir would have been (the runtime's own disk).
    expect(existsSync('/content/drive')).toBe(false);
    const stop = await gpulink('colab', 'down', '--name', 'd');
    expect(stop.code, stop.stderr).toBe(0);
    expect(standIn.assigned()).toEqual([]);
  });
});
