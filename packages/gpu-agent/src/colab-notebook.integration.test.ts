// The Colab notebook (examples/colab/gpulink-agent.ipynb) cannot rot: it must be a notebook nbformat
// validates, and every step it runs is run here from the notebook's own text, as far as it can run
// off Colab: the GPU check (with the nvidia-smi stand-in), the Node check and install (from a local
// copy of the Node tarball layout), the agent install (the self-contained package `npm run pack:agent`
// makes, installed with no registry and an empty npm cache), doctor, the
// tunnel step (bore already on PATH), and the blocking serve cell behind a real bore relay, stopped
// the way Colab's stop button does it (SIGINT). Not run here: Drive and Colab secrets (google.colab),
// and `setup --tunnel` downloads (no internet on test machines).
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentVersion, defaultPython, packageDir } from './paths.js';
import { type BoreRelay, findTestTool, startBoreRelay } from './test-utils/external-tools.js';
import { installNvidiaSmiStandIn } from './test-utils/nvidia-smi-standin.js';
import { fingerprintOf } from './tls/certificate.js';

const repoRoot = join(packageDir, '..', '..');
const notebookPath = join(repoRoot, 'examples', 'colab', 'gpulink-agent.ipynb');
const python = defaultPython();

interface Cell {
  cell_type: 'code' | 'markdown';
  source: string | string[];
  metadata: { tags?: string[] };
}

let cells: Cell[];
let dir: string;

/** The source of the code cell tagged `gpulink:<name>`. */
function step(name: string): string {
  const cell = cells.find((c) => c.metadata.tags?.includes(`gpulink:${name}`));
  if (!cell) throw new Error(`the notebook has no cell tagged gpulink:${name}`);
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/** A `%%bash` cell's script. */
function bashStep(name: string): string {
  const source = step(name);
  expect(source.startsWith('%%bash\n')).toBe(true);
  return source.slice('%%bash\n'.length);
}

interface Run {
  code: number | null;
  out: string;
}

/** Runs a program like a notebook cell: output merged, environment given. */
function run(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

beforeAll(async () => {
  cells = JSON.parse(await readFile(notebookPath, 'utf8')).cells as Cell[];
  dir = await mkdtemp(join(tmpdir(), 'gpulink-notebook-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the Colab notebook', () => {
  it('is a notebook that nbformat validates', async () => {
    const check = await run(
      python,
      [
        '-c',
        'import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4)); print("valid")',
        notebookPath,
      ],
      {},
    );
    if (check.out.includes("No module named 'nbformat'")) {
      const why = `nbformat is not installed in ${python} (pip install -r packages/gpu-agent/python/requirements-dev.txt)`;
      if (process.env.GPULINK_REQUIRE_TEST_TOOLS === '1') throw new Error(why);
      console.warn(`SKIPPED: ${why}: the notebook is only checked as JSON`);
      return;
    }
    expect(check).toEqual({ code: 0, out: 'valid\n' });
  });

  it('has only steps this file runs, or that only Colab can run', () => {
    const tags = cells.filter((c) => c.cell_type === 'code').map((c) => c.metadata.tags?.join(','));
    expect(tags).toEqual([
      'gpulink:gpu',
      'gpulink:settings',
      'gpulink:colab',
      'gpulink:node',
      'gpulink:install',
      'gpulink:doctor',
      'gpulink:tunnel',
      'gpulink:serve',
    ]);
    expect(step('colab')).toMatch(/from google\.colab import drive/);
  });

  it('says what Colab’s terms say about remote access, and leaves the decision to the user', () => {
    const intro = cells[0]?.source;
    const text = Array.isArray(intro) ? intro.join('') : (intro ?? '');
    expect(text).toMatch(/forbid SSH, remote desktops and web services\s+unrelated to interactive compute/);
    expect(text).toMatch(/decide for yourself/);
  });

  it('checks the GPU the way the seed notebook did, with or without nvidia-smi', async () => {
    const standIn = await installNvidiaSmiStandIn();
    const withGpu = await run(python, ['-c', step('gpu')], { PATH: `${standIn}:${process.env.PATH}` });
    expect(withGpu.code).toBe(0);
    expect(withGpu.out).toMatch(/^CUDA and cuDNN enabled: (True|False)$/m);
    expect(withGpu.out).toMatch(/^Gen RAM free: [\d.]+ GiB \| Proc size: [\d.]+ GiB$/m);
    expect(withGpu.out).toContain(
      'GPU 0 Tesla T4: RAM free 12700 MB | used 2345 MB | util 87% | total 15360 MB',
    );
    const withoutGpu = await run(python, ['-c', step('gpu')], {});
    expect(withoutGpu.code).toBe(0);
    expect(withoutGpu.out).toContain('No nvidia-smi: this runtime has no GPU.');
  });

  it('keeps a Node.js that is new enough', async () => {
    const result = await run('bash', ['-c', bashStep('node')], {});
    expect(result).toEqual({ code: 0, out: `Node.js ${process.version} is new enough\n` });
  });

  it('installs Node.js from the official tarball layout when the one on PATH is too old', async () => {
    // An old node on PATH, and a dist folder laid out like nodejs.org/dist (the "binary" inside is
    // a link to this Node, so the tarball stays small).
    const old = join(dir, 'old-node');
    await mkdir(old);
    await writeFile(join(old, 'node'), '#!/bin/sh\necho 18\n', { mode: 0o755 });
    const version = 'v22.12.0';
    const name = `node-${version}-linux-x64`;
    const staging = join(dir, 'staging');
    await mkdir(join(staging, name, 'bin'), { recursive: true });
    await symlink(process.execPath, join(staging, name, 'bin', 'node'));
    await mkdir(join(dir, 'dist', version), { recursive: true });
    execFileSync('tar', ['-czf', join(dir, 'dist', version, `${name}.tar.gz`), '-C', staging, name]);
    const prefix = join(dir, 'node-prefix');
    const result = await run('bash', ['-c', bashStep('node')], {
      PATH: `${old}:${process.env.PATH}`,
      GPULINK_NODE_DIST: `file://${join(dir, 'dist')}`,
      GPULINK_NODE_PREFIX: prefix,
    });
    expect(result.out).toBe(
      `Node.js 18 is too old: installing Node.js ${version} into ${prefix}\nnow: Node.js ${process.version}\n`,
    );
    expect(result.code).toBe(0);
  });

  const bore = findTestTool('bore', 'cargo install bore-cli');

  describe.skipIf(!bore)('install, doctor, tunnel and serve', () => {
    let relay: BoreRelay;
    let env: Record<string, string>;

    beforeAll(async () => {
      relay = await startBoreRelay(bore as string);
      // What users upload to Colab: the self-contained agent package, made from this checkout and
      // left in the state dir, where the install cell finds it by itself.
      const stateDir = join(dir, 'state');
      const packed = execFileSync('node', [join(repoRoot, 'scripts', 'pack-agent.mjs'), '--out', stateDir])
        .toString()
        .trim();
      expect(packed).toBe(join(stateDir, `gpulink-gpu-agent-${agentVersion}.tgz`));
      env = {
        GPULINK_HOME: join(dir, 'home'),
        GPULINK_STATE_DIR: stateDir,
        GPULINK_AGENT_PACKAGE: '',
        GPULINK_TUNNEL: 'bore',
        GPULINK_TUNNEL_SERVER: relay.host,
        // Colab's python3 has torch and fastai; here the project's virtualenv does.
        GPULINK_PYTHON: python,
        PATH: `${dirname(bore as string)}:${process.env.PATH}`,
        // The package carries its dependencies: the install needs neither a registry nor a cache.
        npm_config_offline: 'true',
        npm_config_cache: join(dir, 'empty-npm-cache'),
      };
    });

    afterAll(async () => {
      await relay?.stop();
    });

    it('runs every step in order and prints a URL that reaches the agent through the tunnel', async () => {
      const install = await run('bash', ['-c', bashStep('install')], env);
      expect(install.out).toContain(`installing the agent from ${env.GPULINK_STATE_DIR}/gpulink-gpu-agent-`);
      expect(install.out).toMatch(/^gpulink-agent \d+\.\d+\.\d+ — runs fastai training jobs/m);
      expect(install.code).toBe(0);

      const doctor = await run('bash', ['-c', bashStep('doctor')], env);
      expect(doctor.code).toBe(0);
      expect(doctor.out).toMatch(/fastai/i);
      expect(doctor.out).not.toContain('Fix what is marked FAIL');

      const tunnel = await run('bash', ['-c', bashStep('tunnel')], env);
      expect(tunnel).toEqual({ code: 0, out: `bore is ${bore}\n` });

      // The serve cell blocks, as on Colab; it is stopped with SIGINT, as Colab's stop button does.
      const serve = spawn(python, ['-c', step('serve')], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      serve.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const rl = createInterface({ input: serve.stdout });
          rl.on('line', (line) => {
            out += `${line}\n`;
            const match = /^\s+gpulink connect '(.+)'$/.exec(line);
            if (match?.[1]) resolve(match[1]);
          });
          serve.once('exit', () => reject(new Error(`the serve cell ended before printing a URL:\n${out}`)));
        });
        const parsed = new URL(url);
        expect(parsed.protocol).toBe('gpulink:');
        expect(parsed.hostname).toBe('127.0.0.1');
        const certPem = await readFile(join(env.GPULINK_STATE_DIR as string, 'tls', 'agent.crt'), 'utf8');
        expect(parsed.searchParams.get('fp')).toBe(fingerprintOf(certPem));
        expect(await healthThroughTunnel(Number(parsed.port), certPem)).toBe('SERVING');
      } finally {
        serve.kill('SIGINT');
      }
      expect(await exited).toBe(0);
      expect(out).toContain('stopping the agent');
      expect(out).toMatch(/the agent stopped \(exit code 0\)/);
    }, 600_000);
  });
});

/**
 * The standard gRPC health check over TLS, trusting only the agent's certificate (as the SDK pins it).
 * Hand-written bytes: an empty request, and `status = 1` (SERVING) is 0x08 0x01 on the wire.
 */
function healthThroughTunnel(port: number, certPem: string): Promise<string> {
  const client = new Client(
    `127.0.0.1:${port}`,
    credentials.createSsl(Buffer.from(certPem), null, null, { checkServerIdentity: () => undefined }),
    { 'grpc.ssl_target_name_override': 'gpulink-agent' },
  );
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      () => Buffer.alloc(0),
      (b: Buffer) => b,
      Buffer.alloc(0),
      (error: ServiceError | null, response?: Buffer) => {
        client.close();
        if (error) reject(error);
        else
          resolve(
            response?.equals(Buffer.from([0x08, 0x01]))
              ? 'SERVING'
              : `status bytes ${response?.toString('hex')}`,
          );
      },
    );
  });
}
