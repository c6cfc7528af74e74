// The built `gpulink` as plain processes (pipes, not a terminal) against a real agent.
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedHome, runGpulink } from './test-utils/run-cli.js';

let agent: TestAgent;
let env: Record<string, string>;
const gpulink = (args: string[], options: Parameters<typeof runGpulink>[1] = {}) =>
  runGpulink(args, { ...options, env: { ...env, ...options.env } });

beforeAll(async () => {
  agent = await startTestAgent();
  env = { ...(await isolatedHome()), GPULINK_URL: agent.url };
});

afterAll(async () => {
  await agent?.stop();
});

describe('a closed pipe', () => {
  it.each(['jobs', 'doctor', 'info --json'])(
    '`gpulink %s | head -0` ends quietly, with exit 0',
    async (args) => {
      const run = await gpulink(args.split(' '), { closeStdout: true });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    },
  );
});

describe('usage errors', () => {
  it('a mistyped command exits 2 and suggests the command meant', async () => {
    const run = await gpulink(['jbos']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'jbos'");
    expect(run.stderr).toContain('Did you mean jobs?');
    expect(run.stdout).toBe('');
  });

  it.each(['jobs --nope', 'watch', 'train vision', 'data pusj'])('`gpulink %s` exits 2', async (args) => {
    const run = await gpulink(args.split(' '));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: /);
  });

  it('`gpulink help jobs` shows the help of jobs', async () => {
    const run = await gpulink(['help', 'jobs']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: gpulink jobs [options]');
    expect(run.stdout).toContain('--limit <n>');
  });

  it('`gpulink --help` exits 0', async () => {
    const run = await gpulink(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: gpulink [options] [command]');
  });
});

describe('numeric options', () => {
  it.each([
    ['jobs --limit x', "option '--limit <n>' argument 'x' is invalid"],
    ['jobs --limit 0', "option '--limit <n>' argument '0' is invalid"],
    ['watch job_x --after-seq -1', "option '--after-seq <n>' argument '-1' is invalid"],
    ['stats --interval soon', "option '--interval <ms>' argument 'soon' is invalid"],
    ['predict job_x a.png --top 2.5', "option '--top <k>' argument '2.5' is invalid"],
    // Refused before the folder (which does not exist) is looked at, let alone uploaded.
    ['train vision ./no-such-folder --epochs abc', "option '--epochs <n>' argument 'abc' is invalid"],
    ['train vision ./no-such-folder --valid-pct 1.5', "option '--valid-pct <p>' argument '1.5' is invalid"],
    ['lr-find ./no-such-folder --bs 1e3x', "option '--bs <n>' argument '1e3x' is invalid"],
  ])('`gpulink %s` is a usage error (exit 2) that names the option', async (args, message) => {
    const run = await gpulink(args.split(' '));
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toMatch(/INTERNAL|NaN/);
    expect(run.code).toBe(2);
  });
});
