// The built `gpulink-agent` (dist/bin.js) as users run it: help per subcommand, usage errors that
// exit 2 before anything starts, and the one line `serve` prints when ready.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageDir } from './paths.js';
import { startTestAgent } from './testing.js';

const bin = join(packageDir, 'dist', 'bin.js');
let root: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpulink-bin-'));
  // The default state dir goes under XDG_DATA_HOME: a usage error must not have made it.
  env = { ...process.env, XDG_DATA_HOME: join(root, 'data') };
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

const banner = /^gpulink-agent \d+\.\d+\.\d+ — runs fastai training jobs/;

describe('gpulink-agent --help', () => {
  it('names the version first, then the subcommands', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(banner);
    for (const name of ['serve', 'doctor', 'setup']) expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it.each(['serve', 'doctor', 'setup'])('%s --help lists its flags and an example', async (name) => {
    const { code, stdout } = await run([name, '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: gpulink-agent ${name} [options]`);
    expect(stdout).toMatch(new RegExp(`Examples?:\\n  gpulink-agent ${name} --`));
  });

  it('is written at once, so a reader that takes only the first line does not break it', async () => {
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(
        'bash',
        ['-c', 'set -o pipefail; "$0" "$1" serve --help | head -n 1', process.execPath, bin],
        { env },
        (error, stdout) => resolve({ code: error ? (error.code as number) : 0, stdout }),
      );
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(banner);
  });
});

describe('usage errors', () => {
  it.each([
    [
      ['serve', '--tunnel', 'foo'],
      "argument 'foo' is invalid. Allowed choices are none, bore, cloudflared, ngrok",
    ],
    [['serve', '--port', 'abc'], 'abc is not a port number'],
    [['serve', '--ws-port', '70000'], '70000 is not a port number'],
    [['serve', '--warm-workers', '9'], '0..8, got 9'],
    [['serve', '--full-disk-wait-s', 'soon'], 'a number of seconds >= 0, got soon'],
    [
      ['serve', '--tunnel-server', 'relay.example'],
      '--tunnel-server, --tunnel-port and --ngrok-tcp need --tunnel',
    ],
    [['serve', '--tunnel', 'cloudflared', '--tunnel-port', '5'], '--tunnel-port is for bore'],
    [['serve', '--tunnel', 'bore', '--ngrok-tcp'], '--ngrok-tcp is for ngrok'],
    [['doctor', '--port', '1'], "unknown option '--port'"],
    [['setup', '--tunnel', 'none'], 'Allowed choices are bore, cloudflared, ngrok'],
    [['launch'], "unknown command 'launch'"],
  ])('%j exits 2: %s', async (args, message) => {
    const { code, stdout, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^error: /);
    expect(stderr).toContain(message);
    expect(stderr).toContain('--help');
    expect(stdout).toBe('');
  });

  it('without a subcommand prints the help on stderr and exits 2', async () => {
    const { code, stderr } = await run([]);
    expect(code).toBe(2);
    expect(stderr).toContain('Usage: gpulink-agent [options] [command]');
  });

  it('starts nothing: no state dir was made', async () => {
    await expect(readdir(join(root, 'data'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('gpulink-agent serve', () => {
  it('prints one GPULINK_URL= line when ready and stops with exit code 0 on SIGTERM', async () => {
    const stateDir = join(root, 'state');
    const child = spawn(
      process.execPath,
      [bin, 'serve', '--port', '0', '--warm-workers', '0', '--state-dir', stateDir],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const lines = createInterface({ input: child.stdout });
      const first = await new Promise<string>((resolve) => lines.once('line', resolve));
      expect(first).toMatch(/^GPULINK_URL=gpulink:\/\/[\w-]+@127\.0\.0\.1:\d+$/);
    } finally {
      // At once: the agent listens for the signal before it prints the line.
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});

describe('one agent per state dir', () => {
  it('a second agent on the dir refuses, naming the first one; a killed one leaves the dir to the next', async () => {
    const stateDir = join(root, 'locked');
    const first = await startTestAgent({ stateDir });
    try {
      const second = await run(['serve', '--port', '0', '--warm-workers', '0', '--state-dir', stateDir]);
      expect(second.code).toBe(1);
      expect(second.stdout).toBe('');
      expect(second.stderr).toBe(
        `gpulink-agent: the state dir ${stateDir} is in use by the agent with pid ${first.process.pid} at gpulink://127.0.0.1:${first.port}: stop it first, or give this one another --state-dir\n`,
      );
      // The lock names where the agent listens, token and all, for clients on this machine.
      const lock = JSON.parse(await readFile(join(stateDir, 'agent.lock'), 'utf8'));
      expect(lock).toMatchObject({ pid: first.process.pid, url: first.localUrl });

      first.kill('SIGKILL');
      await first.restart();
      expect(first.stderr()).toContain('taking over the state dir from agent pid');
      const taken = JSON.parse(await readFile(join(stateDir, 'agent.lock'), 'utf8'));
      expect(taken).toMatchObject({ pid: first.process.pid, url: first.localUrl });
    } finally {
      await first.stop();
    }
    // A graceful stop removes the lock.
    await expect(readFile(join(stateDir, 'agent.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
