// The built `gpulink` as plain processes (pipes, not a terminal) against a real agent.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect, type Job } from '@gpulink/sdk';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedHome, runGpulink } from './test-utils/run-cli.js';
import { scriptJob } from './test-utils/script-job.js';
import { Dashboard } from './ui/Dashboard.js';

/** A 1x1 PNG: an image for a folder that is labelled, never trained on. */
const ONE_PIXEL_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==',
  'base64',
);

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

describe('an agent that is not there', () => {
  it.each(['info', 'connect'])('`gpulink %s` says why and how to get one, in one line', async (command) => {
    const { createServer } = await import('node:net');
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const url = `gpulink://token@127.0.0.1:${port}`;
    const run = await gpulink(command === 'info' ? ['info'] : ['connect', url], {
      env: { GPULINK_URL: url },
    });
    expect(run.stderr).toBe(
      `gpulink: UNAVAILABLE: cannot reach the agent at 127.0.0.1:${port}: connection refused (nothing listens there); is it running? \`gpulink up\` starts a local one\n`,
    );
    expect(run.code).toBe(1);
  });
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

  it('`gpulink stats --help` says what it shows, with no word of a notebook users never saw', async () => {
    const run = await gpulink(['stats', '--help']);
    expect(run.stdout).not.toContain('notebook');
    expect(run.stdout).toMatch(/GPU memory/);
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

describe('every flag is checked before any work', () => {
  let client: AgentClient;
  let folder: string;

  beforeAll(async () => {
    client = await connect(agent.url);
    // A folder that would be hashed and uploaded if the command got that far.
    folder = await mkdtemp(join(tmpdir(), 'gpulink-cli-flags-'));
    await writeFile(join(folder, 'train.py'), "print('never run')\n");
    await writeFile(join(folder, 'table.csv'), 'x,y\n1,2\n');
  });

  afterAll(async () => {
    await client?.close();
  });

  it.each([
    [['train', 'vision', '.', '--labels', 'foldr'], "option '--labels <how>' argument 'foldr' is invalid"],
    [['lr-find', '.', '--labels', 'regx:\\d'], "option '--labels <how>' argument 'regx:\\d' is invalid"],
    [
      ['train', 'vision', '.', '--fit', 'fine'],
      "argument 'fine' is invalid. Allowed choices are fine_tune, fit_one_cycle, fit.",
    ],
    [
      ['train', 'tabular', 'table.csv', '--target', 'y', '--fit', 'fine_tune'],
      "argument 'fine_tune' is invalid. Allowed choices are fit_one_cycle, fit.",
    ],
    [['run', 'train.py', '--env', 'SEED'], "option '--env <NAME=VALUE...>' argument 'SEED' is invalid"],
  ])('`gpulink %j` is a usage error, and nothing was uploaded', async (args, message) => {
    const before = await client.datasets.list();
    const run = await gpulink(args, { cwd: folder });
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toContain('files');
    expect(run.code).toBe(2);
    expect(await client.datasets.list()).toEqual(before);
  });
});

describe('--labels', () => {
  it('takes `folder` (the default, said out loud): the job is submitted with folder labels', async () => {
    await using client = await connect(agent.url);
    const folder = await mkdtemp(join(tmpdir(), 'gpulink-cli-labels-'));
    for (const label of ['a', 'b']) {
      await mkdir(join(folder, label));
      await writeFile(join(folder, label, `${label}.png`), ONE_PIXEL_PNG);
    }
    const run = await gpulink(['train', 'vision', '.', '--labels', 'folder', '--no-pretrained', '--detach'], {
      cwd: folder,
    });
    expect(run.stderr).not.toContain('INVALID_ARGUMENT');
    expect(run.code).toBe(0);
    const job = await client.jobs.get(run.stdout.trim());
    await job.cancel().catch(() => undefined);
    expect(job.info.resolvedTask).toMatchObject({ type: 'vision', labels: { folder: {} } });
  });
});

describe('commands that take a job', () => {
  let client: AgentClient;
  let done: Job;
  let cancelled: Job;
  /** The shortest prefix of `id` that no other job's id starts with. */
  let prefixOf: (id: string) => string;

  beforeAll(async () => {
    client = await connect(agent.url);
    const script = await scriptJob(client, 'hello.py', "print('hello from the script')\n");
    done = await client.runScript(script);
    // Queued behind the first one (one job at a time on the CPU), so it is cancelled before it starts.
    cancelled = await client.runScript(script);
    await cancelled.cancel();
    await done.wait();
    const ids = [done.id, cancelled.id];
    prefixOf = (id) => {
      for (let n = 1; ; n++) {
        const p = id.slice(0, n);
        if (ids.every((other) => other === id || !other.startsWith(p))) return p;
      }
    };
  });

  afterAll(async () => {
    await client?.close();
  });

  it('takes any unique prefix of a job id', async () => {
    const logs = await gpulink(['logs', prefixOf(done.id)]);
    expect(logs.stderr).toBe('');
    expect(logs.stdout).toContain('hello from the script');
    expect(logs.code).toBe(0);
    const watched = await gpulink(['watch', prefixOf(cancelled.id), '--json']);
    const last = JSON.parse(watched.stdout.trim().split('\n').at(-1) ?? '{}') as { jobId?: string };
    expect(last.jobId).toBe(cancelled.id);
    expect(watched.code).toBe(4);
  });

  it('takes the ids the dashboard shows', async () => {
    const dashboard = render(<Dashboard agent={client} pollMs={200} />);
    try {
      let frame = '';
      for (let i = 0; i < 100 && !frame.includes('succeeded'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        frame = dashboard.lastFrame() ?? '';
      }
      const row = frame.split('\n').find((l) => l.includes('succeeded')) ?? '';
      const shown = /([0-9a-z_]+) succeeded/.exec(row)?.[1] ?? '';
      expect(shown.length).toBeLessThan(done.id.length);
      const logs = await gpulink(['logs', shown]);
      expect(logs.stderr).toBe('');
      expect(logs.stdout).toContain('hello from the script');
    } finally {
      dashboard.unmount();
    }
  });

  it('names the jobs a prefix matches when it matches several', async () => {
    const run = await gpulink(['cancel', 'job_']);
    expect(run.stderr).toContain('INVALID_ARGUMENT');
    expect(run.stderr).toContain(done.id);
    expect(run.stderr).toContain(cancelled.id);
    expect(run.code).toBe(2);
    expect((await done.refresh()).state).toBe('succeeded');
  });

  it('says a job is already cancelled, and what a finished one did, instead of FAILED_PRECONDITION', async () => {
    const again = await gpulink(['cancel', cancelled.id]);
    expect(again.stdout).toBe(`job ${cancelled.id} is already cancelled\n`);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    const finished = await gpulink(['cancel', done.id]);
    expect(finished.stderr).toBe(`gpulink: job ${done.id} already succeeded: there is nothing to cancel\n`);
    expect(finished.code).toBe(1);
  });

  it('`gpulink jobs` is a table with a header row, without epochs for a task that has none', async () => {
    const run = await gpulink(['jobs']);
    const [header, ...rows] = run.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID {2,}STATE {2,}NAME {2,}EPOCHS {2,}ACCURACY {2,}CREATED$/);
    const row = rows.find((r) => r.startsWith(done.id)) ?? '';
    expect(row).toMatch(/^job_\w+ {2,}succeeded {2,}script {2,}- {2,}- {2,}\d+(s|m\d\ds) ago$/);
    // Columns line up: each row's STATE starts where the header's does.
    const stateAt = header?.indexOf('STATE');
    for (const r of rows) expect(r.slice(stateAt)).toMatch(/^(succeeded|cancelled) /);
  });

  it('`gpulink data ls` is a table with a header row', async () => {
    const run = await gpulink(['data', 'ls']);
    const [header, ...rows] = run.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID {2,}FILES {2,}SIZE {2,}NAME$/);
    expect(rows.some((r) => /^ds_[0-9a-f]{24} {2,}1 {2,}\d+ B {2,}gpulink-cli-script-/.test(r))).toBe(true);
  });

  it('`gpulink pull JOB NAME` of an artifact the job lacks says what it has, and writes nothing', async () => {
    const { readdir } = await import('node:fs/promises');
    const here = await mkdtemp(join(tmpdir(), 'gpulink-cli-pull-'));
    const run = await gpulink(['pull', done.id, 'nope.bin'], { cwd: here });
    expect(run.stderr).toBe(`gpulink: NOT_FOUND: job ${done.id} has no artifact 'nope.bin'; it has none\n`);
    expect(run.code).toBe(1);
    expect(await readdir(here)).toEqual([]);
  });

  it('says NOT_FOUND when no job id starts with it', async () => {
    const run = await gpulink(['pull', 'job_zzz']);
    expect(run.stderr).toMatch(/^gpulink: NOT_FOUND: no job id starts with "job_zzz"/);
    expect(run.code).toBe(1);
  });
});

describe('counts', () => {
  it('`gpulink data push` of one file says "1 file"', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'gpulink-cli-one-'));
    await writeFile(join(folder, 'only.txt'), 'only');
    const run = await gpulink(['data', 'push', folder]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/ds_[0-9a-f]{24}: 1 file, 4 B \(4 B sent/);
  });
});

describe('--json on every command', () => {
  it('`gpulink connect URL --json` gives the agent, its URL without the token', async () => {
    const run = await gpulink(['connect', agent.url, '--json']);
    expect(run.code).toBe(0);
    const record = JSON.parse(run.stdout) as { url: string; hostname: string; agentVersion: string };
    expect(record.hostname).toBeTruthy();
    expect(record.agentVersion).toBeTruthy();
    expect(record.url).toContain(`127.0.0.1:${agent.port}`);
    expect(run.stdout).not.toContain(agent.token);
  });

  it('`gpulink down --json` says whether it stopped a local agent', async () => {
    const run = await gpulink(['down', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ stopped: false });
  });
});

describe('Ctrl-C', () => {
  it('ends `gpulink stats --watch` quietly with exit 130', async () => {
    let sent = false;
    const run = await gpulink(['stats', '--watch', '--interval', '200'], {
      onStdout: (text, child) => {
        if (sent || !text.includes('host RAM')) return;
        sent = true;
        child.kill('SIGINT');
      },
    });
    expect(sent).toBe(true);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(130);
  });
});
