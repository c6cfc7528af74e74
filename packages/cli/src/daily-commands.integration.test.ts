// The commands people reach for every day (nvitop, kubectl, gh habits), as the built `gpulink` in
// plain processes against a real agent: --version, completion, resume, jobs rm / data rm, one job,
// artifacts, -o / -q, jobs --watch, logs --tail/--since, named contexts.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect, type Job } from '@gpulink/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpulinkBin, isolatedHome, runGpulink } from './test-utils/run-cli.js';
import { scriptJob } from './test-utils/script-job.js';

const execFileAsync = promisify(execFile);

let agent: TestAgent;
let client: AgentClient;
let env: Record<string, string>;
let done: Job;
const gpulink = (args: string[], options: Parameters<typeof runGpulink>[1] = {}) =>
  runGpulink(args, { ...options, env: { ...env, ...options.env } });

const fiveLines =
  "import os\nfor i in range(1, 6): print(f'line {i}', flush=True)\nopen(os.path.join(os.environ['GPULINK_ARTIFACTS'], 'notes.txt'), 'w').write('twelve bytes')\n";

beforeAll(async () => {
  agent = await startTestAgent({ warmWorkers: 1 });
  env = { ...(await isolatedHome()), GPULINK_URL: agent.url };
  client = await connect(agent.url);
  done = await client.runScript(await scriptJob(client, 'five.py', fiveLines));
  await done.wait();
});

afterAll(async () => {
  await client?.close();
  await agent?.stop();
});

describe('--version', () => {
  it("prints the CLI's version alone when no agent is configured", async () => {
    const run = await gpulink(['--version'], { env: { GPULINK_URL: '' } });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^gpulink \d+\.\d+\.\d+\n$/);
  });

  it('says an agent that does not answer is not reachable, and still exits 0', async () => {
    const run = await gpulink(['-V'], { env: { GPULINK_URL: 'gpulink://token@127.0.0.1:9' } });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^gpulink \S+\nagent {3}not reachable at gpulink:\/\/\*\*\*@127\.0\.0\.1:9: UNAVAILABLE/,
    );
  });

  it("adds the agent's version when it answers (-V, --json)", async () => {
    const run = await gpulink(['-V']);
    expect(run.stdout).toContain(`agent   ${client.info.agentVersion} on ${client.info.hostname}`);
    const json = JSON.parse((await gpulink(['version', '--json'])).stdout) as {
      cli: string;
      agent: { version: string };
    };
    expect(json.agent.version).toBe(client.info.agentVersion);
  });
});

describe('completion', () => {
  const script = (shell: string) =>
    execFileSync(process.execPath, [gpulinkBin, 'completion', shell], { encoding: 'utf8' });
  const installed = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

  it('gives a bash script that bash -n accepts and that offers the right words', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'gpulink-completion-')), 'gpulink.bash');
    await writeFile(file, script('bash'));
    expect(spawnSync('bash', ['-n', file]).status).toBe(0);
    const offered = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _gpulink; echo "\${COMPREPLY[*]}"`,
          file,
          'gpulink',
          ...words,
        ],
        { encoding: 'utf8' },
      ).trim();
    expect(offered('jo')).toBe('jobs');
    expect(offered('data', '').split(' ')).toEqual(expect.arrayContaining(['push', 'ls', 'rm']));
    expect(offered('jobs', '-o', '')).toBe('wide json');
    expect(offered('completion', '')).toBe('bash zsh fish');
    expect(offered('train', 'vision', '--fit', '').split(' ')).toContain('fine_tune');
    expect(offered('--context', 'x', 'context', 'u')).toBe('use');
    expect(offered('jobs', 'rm', '--').split(' ')).toEqual(expect.arrayContaining(['--json', '--context']));
  });

  // zsh and fish are not on every machine: checked where installed, and always in CI (.ci/run installs
  // them; GPULINK_REQUIRE_TEST_TOOLS=1 makes a missing one fail the test instead of skipping it).
  const skipShell = (shell: string) => !installed(shell) && process.env.GPULINK_REQUIRE_TEST_TOOLS !== '1';
  it.skipIf(skipShell('zsh'))('gives a zsh script that zsh -n accepts', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'gpulink-completion-')), '_gpulink');
    await writeFile(file, script('zsh'));
    expect(spawnSync('zsh', ['-n', file]).status).toBe(0);
  });
  it.skipIf(skipShell('fish'))(
    'gives a fish script that fish -n accepts and that offers the right words',
    async () => {
      const file = join(await mkdtemp(join(tmpdir(), 'gpulink-completion-')), 'gpulink.fish');
      await writeFile(file, script('fish'));
      expect(spawnSync('fish', ['-n', file]).status).toBe(0);
      // fish's own completer on a command line, as a Tab would see it: the words, before each tab.
      const offered = (line: string) =>
        execFileSync('fish', ['-c', 'source $argv[1]; complete -C $argv[2]', file, line], {
          encoding: 'utf8',
        })
          .trim()
          .split('\n')
          .map((l) => l.split('\t')[0])
          .sort()
          .join(' ');
      expect(offered('gpulink jo')).toBe('jobs');
      expect(offered('gpulink data ').split(' ')).toEqual(expect.arrayContaining(['push', 'ls', 'rm']));
      expect(offered('gpulink jobs -o ')).toBe('json wide');
      expect(offered('gpulink completion ')).toBe('bash fish zsh');
      expect(offered('gpulink train vision --fit ').split(' ')).toContain('fine_tune');
    },
  );

  it("shows an example in every command's --help, subcommands included", async () => {
    // The command tree as the completion script lists it: each command with its subcommands.
    const fish = script('fish');
    const tree = new Map<string, string[]>();
    for (const m of fish.matchAll(
      /__fish_seen_subcommand_from (\S+); and not __fish_seen_subcommand_from [^']*' -a '([^']+)'/g,
    )) {
      const [, parent = '', sub = ''] = m;
      tree.set(parent, [...(tree.get(parent) ?? []), sub]);
    }
    const top = [...fish.matchAll(/__fish_use_subcommand' -a '([^']+)'/g)].map((m) => m[1] ?? '');
    expect(top.length).toBeGreaterThan(20);
    const commands = top.flatMap((c) => [[c], ...(tree.get(c) ?? []).map((sub) => [c, sub])]);
    const helps = await Promise.all(
      commands.map((words) =>
        execFileAsync(process.execPath, [gpulinkBin, ...words, '--help'], { encoding: 'utf8' }),
      ),
    );
    const without = commands.filter(
      (_, i) => !/\nExamples?:\n {2}.*\bgpulink\b/.test(helps[i]?.stdout ?? ''),
    );
    expect(without.map((w) => w.join(' '))).toEqual([]);
  });

  it('runs as `npx gpulink` in the checkout, which the set-up links (npm links no bin of a workspace)', async () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const run = await execFileAsync('npx', ['--no', '--', 'gpulink', '--version'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.stdout).toMatch(/^gpulink \d+\.\d+\.\d+/);
  });

  it('refuses a shell it has no script for as a usage error', async () => {
    const run = await gpulink(['completion', 'tcsh']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('bash, zsh, fish');
  });
});

describe('one job, its artifacts, and listing formats', () => {
  it('`jobs JOB` shows the resolved spec, the state and the artifacts', async () => {
    const run = await gpulink(['jobs', done.id.slice(0, 14)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`job        ${done.id}`);
    expect(run.stdout).toContain('state      succeeded');
    expect(run.stdout).toMatch(/entrypoint\s+five\.py/);
    expect(run.stdout).toMatch(/notes\.txt\s+file\s+12 B/);
    const json = JSON.parse((await gpulink(['jobs', done.id, '-o', 'json'])).stdout) as { id: string };
    expect(json.id).toBe(done.id);
  });

  it('`artifacts JOB` lists names and sizes; -o wide adds the sha256; -q only names', async () => {
    expect((await gpulink(['artifacts', done.id])).stdout).toMatch(
      /^NAME\s+KIND\s+SIZE\s+CREATED\nnotes\.txt\s+file\s+12 B/,
    );
    const [artifact] = await done.artifacts.list();
    expect((await gpulink(['artifacts', done.id, '-o', 'wide'])).stdout).toContain(artifact?.sha256);
    expect((await gpulink(['artifacts', done.id, '-q'])).stdout).toBe('notes.txt\n');
  });

  it('`jobs` takes -o wide, -o json, --json (NDJSON) and -q', async () => {
    expect((await gpulink(['jobs', '-o', 'wide'])).stdout.split('\n')[0]).toMatch(
      /ID.*TASK\s+DEVICE\s+ATTEMPT/,
    );
    const ndjson = (await gpulink(['jobs', '--json'])).stdout.trim().split('\n');
    expect(ndjson.map((l) => (JSON.parse(l) as { id: string }).id)).toContain(done.id);
    expect((await gpulink(['jobs', '-o', 'json'])).stdout).toBe((await gpulink(['jobs', '--json'])).stdout);
    expect((await gpulink(['jobs', '-q'])).stdout.split('\n')).toContain(done.id);
    expect((await gpulink(['jobs', '-o', 'tall'])).code).toBe(2);
  });
});

describe('logs --tail and --since', () => {
  it('prints the last n lines, lines since a moment, and refuses a bad moment', async () => {
    // The job's output ends with its last line and the artifact it saved.
    expect((await gpulink(['logs', done.id, '--tail', '2'])).stdout).toMatch(
      /^line 5\nartifact notes\.txt \(12 B, sha256 [0-9a-f]+…\)\n$/,
    );
    expect((await gpulink(['logs', done.id, '--tail', '3'])).stdout).toMatch(/^line 4\nline 5\nartifact /);
    expect((await gpulink(['logs', done.id, '--since', '1h'])).stdout).toContain('line 1\n');
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await gpulink(['logs', done.id, '--since', later])).stdout).toBe('');
    const bad = await gpulink(['logs', done.id, '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since');
  });
});

describe('jobs --watch, piped', () => {
  it('prints the list, then a line per change of a new job, until Ctrl-C (exit 130)', async () => {
    let submitted: Job | undefined;
    let started = false;
    const run = await gpulink(['jobs', '--watch', '--interval', '200'], {
      onStdout: (text, child) => {
        if (!started && text.includes(done.id)) {
          started = true;
          void scriptJob(client, 'quick.py', "print('quick')\n")
            .then((s) => client.runScript(s))
            .then((j) => {
              submitted = j;
            });
        }
        if (submitted && new RegExp(`${submitted.id}\\s+succeeded`).test(text)) child.kill('SIGINT');
      },
    });
    expect(run.code).toBe(130);
    const id = submitted?.id as string;
    const states = run.stdout
      .split('\n')
      .filter((l) => l.startsWith(id))
      .map((l) => l.split(/\s+/)[1]);
    expect(states.at(-1)).toBe('succeeded');
    expect(new Set(states).size).toBe(states.length);
    expect(run.stdout.split('\n')[0]).toMatch(/^ID\s+STATE/);
  });
});

describe('jobs rm, data rm and resume', () => {
  it('deletes a finished job and its artifacts; refuses a running one, naming cancel', async () => {
    const slow = await client.runScript(
      await scriptJob(client, 'slow.py', "import time\nprint('up', flush=True)\ntime.sleep(600)\n"),
    );
    for await (const e of slow.events()) if (e.type === 'log') break;
    const refused = await gpulink(['jobs', 'rm', slow.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `job ${slow.id} is running: cancel it first (gpulink cancel ${slow.id})`,
    );

    // Stopping the agent under a running job leaves it interrupted: resume continues it.
    await agent.stop({ keepState: true });
    await agent.restart();
    expect((await gpulink(['jobs', slow.id, '-o', 'json'])).stdout).toContain('"state":"interrupted"');
    const resumed = await gpulink(['resume', slow.id.slice(0, 14), '--detach']);
    expect(resumed.stdout).toBe(`${slow.id}\n`);
    expect((await gpulink(['resume', done.id])).stderr).toContain(
      `job ${done.id} is succeeded: only an interrupted job can be resumed`,
    );
    await gpulink(['cancel', slow.id]);

    const gone = await client.runScript(await scriptJob(client, 'five.py', fiveLines));
    await gone.wait();
    const removed = await gpulink(['jobs', 'rm', gone.id]);
    expect(removed.stdout).toBe(`deleted ${gone.id}\n`);
    await expect(stat(join(agent.stateDir, 'jobs', gone.id))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await gpulink(['jobs', '-q'])).stdout).not.toContain(gone.id);
    expect((await gpulink(['jobs', 'rm', gone.id])).stderr).toContain('NOT_FOUND');
  });

  it('deletes datasets by id or name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpulink-data-rm-'));
    await writeFile(join(dir, 'a.txt'), 'only here');
    const id = (await gpulink(['data', 'push', dir, '--name', 'throwaway'])).stdout.trim();
    expect((await gpulink(['data', 'ls', '-q'])).stdout).toContain(id);
    expect((await gpulink(['data', 'rm', 'throwaway'])).stdout).toBe(`deleted ${id} (throwaway)\n`);
    expect((await gpulink(['data', 'ls', '-q'])).stdout).not.toContain(id);
    expect((await gpulink(['data', 'rm', id])).code).toBe(1);
  });
});

describe('named contexts', () => {
  it('reads an old single-profile file, migrates it on write (mode 0600), and --context picks one', async () => {
    const home = await isolatedHome();
    const file = join(home.XDG_CONFIG_HOME as string, 'gpulink', 'profile.json');
    await mkdir(join(home.XDG_CONFIG_HOME as string, 'gpulink'), { recursive: true });
    await writeFile(file, JSON.stringify({ url: agent.url }));
    const own = { ...home, GPULINK_URL: '' };
    const port = new URL(agent.url).port;
    const ls = await gpulink(['context', 'ls'], { env: own });
    expect(ls.stdout).toMatch(
      new RegExp(
        `^CURRENT\\s+NAME\\s+KIND\\s+URL\\n\\*\\s+127\\.0\\.0\\.1-${port}\\s+remote\\s+gpulink://\\*\\*\\*@`,
      ),
    );
    expect(ls.stdout).not.toContain(agent.token);
    expect((await gpulink(['jobs', '-q'], { env: own })).stdout).toContain(done.id);

    await gpulink(['context', 'add', 'nowhere', 'gpulink://token@127.0.0.1:9', '--use'], { env: own });
    const saved = JSON.parse(await readFile(file, 'utf8')) as {
      current: string;
      contexts: Record<string, unknown>;
    };
    expect(saved.current).toBe('nowhere');
    expect(Object.keys(saved.contexts).sort()).toEqual([`127.0.0.1-${port}`, 'nowhere']);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await gpulink(['context', 'current'], { env: own })).stdout).toBe('nowhere\n');

    expect((await gpulink(['jobs', '-q'], { env: own })).code).toBe(1);
    const picked = await gpulink(['--context', `127.0.0.1-${port}`, 'jobs', '-q'], { env: own });
    expect(picked.stdout).toContain(done.id);
    const unknown = await gpulink(['--context', 'desk', 'jobs'], { env: own });
    expect(unknown.stderr).toContain(`no context 'desk': the saved ones are 127.0.0.1-${port}, nowhere`);

    await gpulink(['connect', agent.url, '--name', 'here'], { env: own });
    expect((await gpulink(['context', 'ls', '-q'], { env: own })).stdout).toBe(
      `127.0.0.1-${port}\nhere\nnowhere\n`,
    );
    await gpulink(['context', 'rm', 'nowhere', `127.0.0.1-${port}`], { env: own });
    await gpulink(['context', 'use', 'here'], { env: own });
    expect((await gpulink(['context', 'ls'], { env: own })).stdout).toMatch(/\*\s+here\s+remote/);
    expect((await gpulink(['jobs', '-q'], { env: own })).stdout).toContain(done.id);
  });
});
