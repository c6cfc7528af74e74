// The built `gpulink` in a real terminal (tmux), against a real local agent started by the CLI.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const session = `gpulink-e2e-${process.pid}`;
let home: string;
let env: Record<string, string>;

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', session, '-S', '-200');
const gpulink = (...args: string[]) =>
  execFileSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

async function waitForScreen(pattern: RegExp, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    last = screen();
    if (pattern.test(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${pattern} on the screen:\n${last}`);
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'gpulink-e2e-'));
  env = {
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CACHE_HOME: join(home, 'cache'),
  };
  const exports = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  // CI set in the pane's shell, as some users' shells have it: Ink alone would draw nothing then
  // (is-in-ci); the CLI hides it from Ink when its output is a terminal (src/terminal-ui.ts).
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    '120',
    '-y',
    '50',
    `env CI=1 ${exports} bash --norc --noprofile`,
  );
});

afterAll(async () => {
  try {
    gpulink('down');
  } catch {
    // The agent may already be down.
  }
  try {
    tmux('kill-session', '-t', session);
  } catch {
    // Already gone.
  }
  await rm(home, { recursive: true, force: true });
});

describe('gpulink in a real terminal', () => {
  it('gpulink demo shows epoch progress and ends with an accuracy', async () => {
    tmux(
      'send-keys',
      '-t',
      session,
      `${process.execPath} ${bin} demo --epochs 2; echo "demo-exit=$?"`,
      'Enter',
    );
    await waitForScreen(/epochs [█░]+ [01]\/2/, 240_000);
    const end = await waitForScreen(/demo-exit=\d+/, 600_000);
    expect(end).toMatch(/succeeded after 2 epochs, accuracy \d+\.\d%/);
    expect(end).toContain('demo-exit=0');
    // The ending (from the last frame's epoch bar on) names the model once, where it was saved.
    const ending = end.slice(end.lastIndexOf('2/2'));
    expect(ending.match(/export\.pkl/g)).toHaveLength(1);
    expect(ending).toMatch(/model saved to .*export\.pkl/);
  });

  it('the dashboard shows the job, and q quits cleanly', async () => {
    tmux('send-keys', '-t', session, 'clear', 'Enter');
    tmux('send-keys', '-t', session, `${process.execPath} ${bin}; echo "dash-exit=$?"`, 'Enter');
    const frame = await waitForScreen(/succeeded/, 60_000);
    expect(frame).toContain('jobs');
    expect(frame).toMatch(/host .*RAM/);
    expect(frame).toContain('demo-digits');
    tmux('send-keys', '-t', session, 'q');
    expect(await waitForScreen(/dash-exit=\d+/, 20_000)).toContain('dash-exit=0');
  });

  it('train --json emits NDJSON ending in the terminal state, and jobs --json lists it', () => {
    const digits = join(home, 'data', 'gpulink', 'demo', 'digits');
    const out = gpulink(
      'train',
      'vision',
      digits,
      '--labels',
      'folder:train',
      '--no-pretrained',
      '--size',
      '32',
      '--epochs',
      '1',
      '--fit',
      'fit_one_cycle',
      '--lr',
      '0.01',
      '--json',
    );
    const records = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; state?: string; jobId: string });
    const last = records.at(-1);
    expect(last?.type).toBe('state');
    expect(last?.state).toBe('succeeded');
    const jobs = gpulink('jobs', '--json')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; state: string });
    expect(jobs.map((j) => j.id)).toContain(last?.jobId);
  });
});
