// TLS with a pinned certificate against the real agent (`serve --tls`): the URL it prints works, a
// wrong fingerprint refuses to connect, and a machine in the middle that swaps certificates after the
// first handshake is refused by grpc-js itself. The certificate is made in-process: an agent whose PATH
// has no openssl serves TLS all the same.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentUrl } from './agent-url.js';
import { connect } from './client.js';
import { GpulinkError, hasStatus } from './errors.js';
import { findTestTool, startTestAgent, type TestAgent, workerPython } from './test-utils/real-agent.js';

let agent: TestAgent;
/** A second agent with the same token and its own certificate: the impostor. */
let impostor: TestAgent;

beforeAll(async () => {
  agent = await startTestAgent({ extraArgs: ['--tls'] });
  impostor = await startTestAgent({ extraArgs: ['--tls', '--token-file', join(agent.stateDir, 'token')] });
});

afterAll(async () => {
  await Promise.all([agent?.stop(), impostor?.stop()]);
});

const withFingerprint = (url: string, fp: string) => url.replace(/fp=[0-9a-f]{64}/, `fp=${fp}`);

describe('an agent started with --tls', () => {
  it("prints a URL that pins its certificate's SHA-256, and the SDK connects with it", async () => {
    expect(agent.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(parseAgentUrl(agent.url).fingerprint).toBe(agent.fingerprint);
    await using client = await connect(agent.url);
    expect(client.info.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(await client.jobs.list()).toEqual([]);
  });

  it('keeps its token, certificate and key in files of mode 0600', async () => {
    for (const file of ['token', 'tls/agent.crt', 'tls/agent.key']) {
      expect(((await stat(join(agent.stateDir, file))).mode & 0o777).toString(8)).toBe('600');
    }
    expect(((await stat(agent.stateDir)).mode & 0o777).toString(8)).toBe('700');
  });

  it('refuses to connect when the URL pins another fingerprint, and says why', async () => {
    const wrong = withFingerprint(agent.url, impostor.fingerprint as string);
    const error = await connect(wrong).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpulinkError);
    expect(hasStatus(error, 'UNAUTHENTICATED')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(
      `has fingerprint ${agent.fingerprint}, but the URL pins ${impostor.fingerprint}`,
    );
    expect(message).toContain('refusing to connect');
    expect(message).not.toContain(agent.token);
  });

  it('keeps the same certificate across restarts, so the URL stays valid', async () => {
    const before = agent.url;
    await agent.stop({ keepState: true });
    await agent.restart();
    expect(agent.url).toBe(before);
    await using client = await connect(agent.url);
    expect(client.info.agentVersion).toBeTruthy();
  });

  it('is refused by grpc-js when the certificate changes after the first handshake', async () => {
    // A relay that sends the first connection (the SDK's certificate check) to the real agent and
    // every later one (grpc-js's) to the impostor, which has the right token but another certificate.
    let connections = 0;
    const relay = createServer((client) => {
      const target = connections++ === 0 ? agent.port : impostor.port;
      const upstream = new Socket();
      upstream.connect(target, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const { port } = relay.address() as { port: number };
    try {
      const url = `gpulink://${agent.token}@127.0.0.1:${port}?fp=${agent.fingerprint}`;
      const error = await connect(url, { timeoutMs: 8_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GpulinkError);
      expect(hasStatus(error, 'UNAVAILABLE') || (error as GpulinkError).code === 'DEADLINE_EXCEEDED').toBe(
        true,
      );
      expect(connections).toBeGreaterThan(1);
    } finally {
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });
});

describe('an agent whose PATH has no openssl', () => {
  it('makes its certificate and serves TLS that the SDK pins', async () => {
    // PATH holds the node that runs the agent and the Python its jobs use, nothing else.
    const bin = await mkdtemp(join(tmpdir(), 'gpulink-no-openssl-'));
    const python = workerPython();
    const pythonPath = isAbsolute(python) ? python : findTestTool(python, 'a Python 3');
    if (!pythonPath) throw new Error(`no ${python} to put on the agent's PATH`);
    await symlink(process.execPath, join(bin, 'node'));
    await symlink(pythonPath, join(bin, 'python3'));
    const env = { PATH: bin, GPULINK_PYTHON: pythonPath };
    const lookup = await promisify(execFile)('openssl', ['version'], { env }).catch((e: unknown) => e);
    expect((lookup as NodeJS.ErrnoException).code).toBe('ENOENT');
    const bare = await startTestAgent({ extraArgs: ['--tls'], env });
    try {
      expect(bare.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      await using client = await connect(bare.url);
      expect(client.info.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
      expect(await client.jobs.list()).toEqual([]);
    } finally {
      await bare.stop();
      await rm(bin, { recursive: true, force: true });
    }
  });
});
