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
