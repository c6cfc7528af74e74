// gpulink+jupyter:// against a real Jupyter server (jupyter_server + ipykernel) and the real agent on
// its loopback with TLS: calls, a job's events and an artifact through the kernel relay; a proxy in
// front of the server that cuts its connections mid-job; a kernel killed mid-job; a wrong token.
// The relay needs only jupyter_server and ipykernel in the server's Python: GPULINK_JUPYTER_PYTHON
// runs it under another one (.ci/run: Python 3.13, Colab's), the agent keeping the worker's venv.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startJupyterServer,
  startTcpProxy,
  type TcpProxy,
  type TestJupyterServer,
} from '@gpulink/gpu-agent/testing';
import { KernelConnection, SessionAPI } from '@jupyterlab/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAgentUrl } from '../agent-url.js';
import { type AgentClient, connect } from '../client.js';
import { GpulinkError } from '../errors.js';
import type { Job } from '../jobs.js';
import {
  linesScript,
  runLines as runLinesIn,
  sha256Of,
  startTestAgent,
  type TestAgent,
  tempDir,
  workerPython,
  writeFiles,
} from '../test-utils/real-agent.js';
import type { JobEvent } from '../types.js';
import { relaySessionPath, runPythonForJson, serverSettings } from './jupyter-server.js';

const jupyterPython = process.env.GPULINK_JUPYTER_PYTHON
  ? resolve(process.env.GPULINK_JUPYTER_PYTHON)
  : workerPython();
let jupyter: TestJupyterServer;
let agent: TestAgent;
let workspaceId: string;
let dir: string;

function jupyterUrl(options: { port?: number; token?: string } = {}): string {
  if (agent.fingerprint === undefined) throw new Error('the test agent serves no TLS');
  return formatAgentUrl({
    transport: 'jupyter',
    token: agent.token,
    host: '127.0.0.1',
    port: options.port ?? jupyter.port,
    path: '/',
    fingerprint: agent.fingerprint,
    jupyter: {
      secure: false,
      agentPort: agent.port,
      token: options.token ?? jupyter.token,
      auth: 'token',
      kernel: undefined,
      colabSession: undefined,
    },
  });
}

/** Runs Python in gpulink's dedicated kernel over a connection of the test's own. */
async function inRelayKernel<T>(code: string): Promise<T> {
  const settings = serverSettings({ baseUrl: jupyter.baseUrl, token: jupyter.token });
  const sessions = await SessionAPI.listRunning(settings);
  const model = sessions.find((s) => s.path === relaySessionPath('python3'))?.kernel;
  if (!model) throw new Error("gpulink's kernel is not running");
  const kernel = new KernelConnection({ model, serverSettings: settings, handleComms: false });
  try {
    return await runPythonForJson<T>(kernel, code);
  } finally {
    kernel.dispose();
  }
}

const relayStatus = () =>
  inRelayKernel<{ relays: number; threads: number }>(
    'print(__import__("json").dumps(gpulink_relay_status()))',
  );

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  jupyter = await startJupyterServer({ python: jupyterPython });
  agent = await startTestAgent({ warmWorkers: 1, extraArgs: ['--tls'] });
  dir = await tempDir('kernel-transport');
  await writeFiles(join(dir, 'workspace'), { 'lines.py': linesScript });
  await using client = await connect(agent.url);
  const { dataset } = await client.datasets.upload(join(dir, 'workspace'), { hashCache: false });
  workspaceId = dataset.id;
});

afterAll(async () => {
  await agent?.stop();
  await jupyter?.stop();
});

function runLines(client: AgentClient, n: number, pause: number, size = 0): Promise<Job> {
  return runLinesIn(client, workspaceId, n, pause, size);
}

function expectEveryLineOnce(events: JobEvent[], n: number): void {
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
  const lines = events.flatMap((e) =>
    e.type === 'log' && e.stream === 'stdout' ? [e.text.slice(0, 10)] : [],
  );
  expect(lines).toEqual(Array.from({ length: n }, (_, i) => `line ${String(i).padStart(5, '0')}`));
  expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
}

describe('gpulink+jupyter:// through a real Jupyter server', () => {
  it("carries calls, a job's events and an artifact through the kernel relay, TLS pinned end to end", async () => {
    await using client = await connect(jupyterUrl());
    expect(client.info.agentVersion).toBeTruthy();
    const size = 3 * 2 ** 20 + 123;
    const job = await runLines(client, 200, 0, size);
    const events: JobEvent[] = [];
    for await (const e of job.events()) events.push(e);
    expectEveryLineOnce(events, 200);
    const written = events.find((e) => e.type === 'artifact');
    const artifact = written?.type === 'artifact' ? written.artifact : undefined;
    expect(artifact).toMatchObject({ name: 'blob.bin', sizeBytes: size });
    const out = join(dir, 'blob.bin');
    const result = await job.artifacts.download('blob.bin', out);
    expect(result.sha256).toBe(artifact?.sha256);
    expect(await sha256Of(out)).toBe(result.sha256);
  });

  describe('with a proxy in front of the Jupyter server', () => {
    let proxy: TcpProxy | undefined;
    afterAll(async () => {
      await proxy?.close();
    });

    it('delivers every seq once, in order, while the proxy cuts the kernel WebSocket again and again; the cut relays leave nothing in the kernel', async () => {
      await proxy?.close();
      proxy = await startTcpProxy(jupyter.port);
      const n = 600;
      await using direct = await connect(agent.url);
      const submitted = await runLines(direct, n, 0.01);
      const client = await connect(jupyterUrl({ port: proxy.port }));
      // Closed however the test ends: a try left open would keep its relays alive (its heartbeat)
      // and fail the next try's count.
      try {
        const job = await client.jobs.get(submitted.id);
        // Every connection through the proxy, the kernel WebSocket included, ends after 64 KiB to the
        // client: enough for the WebSocket's and TLS's openings and a replay batch of these short lines
        // (a stream message larger than what a connection carries is another issue's).
        proxy.cutEachAfterBytesToClient(64 * 1024);
        const events: JobEvent[] = [];
        for await (const e of job.events({
          retry: { maxAttempts: 50, initialDelayMs: 20, maxDelayMs: 300 },
        })) {
          events.push(e);
        }
        proxy.cutEachAfterBytesToClient(undefined);
        expect(proxy.connections).toBeGreaterThan(3);
        expectEveryLineOnce(events, n);
        // What is left in the kernel is at most the one connection grpc-js holds now: the relays of
        // the cut connections were swept when the next one opened, or closed by their client. A
        // close still queued on the kernel WebSocket and a closed relay's threads end a moment
        // later, so this is awaited: within 15 s, half the relays' idle limit (30 s), so the idle
        // reaper cannot be what ends them.
        let during = { relays: -1, threads: -1 };
        await eventually(
          async () => {
            during = await relayStatus();
            return during.relays <= 1 && during.threads === 2 * during.relays;
          },
          'the cut relays to end',
          15_000,
        ).catch((e: Error) => {
          throw new Error(`${e.message}: ${JSON.stringify(during)}`);
        });
      } finally {
        await client.close();
      }
      // Ended by the client's close, even when it finds the kernel WebSocket reconnecting after a
      // cut: within 15 s, so not by the idle reaper (30 s).
      await eventually(
        async () => (await relayStatus()).relays === 0,
        'the relay of the closed client to end',
        15_000,
      );
      expect(await relayStatus()).toEqual({ relays: 0, threads: 0 });
    });
  });

  it("runs the relay in a kernel of the Jupyter server's own Python", async () => {
    await using client = await connect(jupyterUrl());
    expect(client.info.agentVersion).toBeTruthy();
    const { executable } = await inRelayKernel<{ executable: string }>(
      'import json, sys; print(json.dumps({"executable": sys.executable}))',
    );
    expect(executable).toBe(jupyterPython);
  });

  it('reconnects through the restarted kernel when the kernel is killed mid-job, and the stream continues', async () => {
    await using client = await connect(jupyterUrl());
    const n = 300;
    const job = await runLines(client, n, 0.02);
    const events: JobEvent[] = [];
    let killed = false;
    for await (const e of job.events({ retry: { maxAttempts: 50, initialDelayMs: 50, maxDelayMs: 500 } })) {
      events.push(e);
      if (!killed && e.type === 'log' && e.text.startsWith('line 00050')) {
        killed = true;
        const { pid } = await inRelayKernel<{ pid: number }>(
          'print(__import__("json").dumps({"pid": __import__("os").getpid()}))',
        );
        process.kill(pid, 'SIGKILL');
      }
    }
    expect(killed).toBe(true);
    expectEveryLineOnce(events, n);
    // The stream went on through a new kernel process.
    const { pid: after } = await inRelayKernel<{ pid: number }>(
      'print(__import__("json").dumps({"pid": __import__("os").getpid()}))',
    );
    expect(after).toBeGreaterThan(0);
  });

  it('leaves no relay, thread or socket in the kernel after its client is killed mid-stream (its heartbeat stops)', async () => {
    await using direct = await connect(agent.url);
    const job = await runLines(direct, 2000, 0.05);
    const sdk = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const watcher = join(dir, 'watcher.mjs');
    await writeFile(
      watcher,
      `const { connect } = await import(${JSON.stringify(sdk)});
const agent = await connect(process.argv[2]);
for await (const e of (await agent.jobs.get(process.argv[3])).events()) if (e.seq === 20) console.log('watching');`,
    );
    const child = spawn(process.execPath, [watcher, jupyterUrl(), job.id], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.toString().includes('watching') && resolve()),
    );
    expect((await relayStatus()).relays).toBeGreaterThanOrEqual(1);
    child.kill('SIGKILL');
    await eventually(
      async () => (await relayStatus()).relays === 0,
      "the killed client's relays to end",
      150_000,
    );
    expect(await relayStatus()).toEqual({ relays: 0, threads: 0 });
    await job.cancel();
  });

  it('refuses a wrong Jupyter token, naming the server and not echoing the token', async () => {
    const error = await connect(jupyterUrl({ token: 'not-the-token' }), { timeoutMs: 30_000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GpulinkError);
    expect((error as GpulinkError).message).toContain(jupyter.baseUrl);
    expect((error as GpulinkError).message).not.toContain('not-the-token');
  });
});
