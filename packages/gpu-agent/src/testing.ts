import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageDir } from './paths.js';

/** A real agent process for tests: `gpulink-agent serve --port 0 --json` on 127.0.0.1. */
export interface TestAgent {
  /** The URL the agent printed: through its tunnel when it has one. */
  url: string;
  /** The URL of its own listener. */
  localUrl: string;
  token: string;
  port: number;
  /** SHA-256 of its TLS certificate, when it speaks TLS (--tls, a tunnel, --ws-port). */
  fingerprint: string | undefined;
  /** Its WebSocket endpoint's port, when it has one. */
  webSocketPort: number | undefined;
  stateDir: string;
  process: ChildProcess;
  /** Everything the current agent process wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM and wait (graceful); removes the state dir unless `keepState`. */
  stop(options?: { keepState?: boolean }): Promise<void>;
  /** Sends a signal to the agent process (e.g. SIGKILL to simulate a crash). */
  kill(signal?: NodeJS.Signals): void;
  /** Starts a new agent process on the same state dir and port (after stop or kill). */
  restart(): Promise<void>;
}

export interface TestAgentOptions {
  stateDir?: string;
  warmWorkers?: number;
  env?: Record<string, string>;
  extraArgs?: string[];
}

/** The built agent: tests run what users run. */
const binPath = join(packageDir, 'dist', 'bin.js');

/** Starts the built agent (dist/bin.js) with a temporary state dir; always `stop()` it in `finally`. */
export async function startTestAgent(options: TestAgentOptions = {}): Promise<TestAgent> {
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'gpulink-agent-test-')));
  let port = 0;
  const launch = async () => {
    const child = spawn(
      process.execPath,
      [
        binPath,
        'serve',
        '--json',
        '--port',
        String(port),
        '--state-dir',
        stateDir,
        '--warm-workers',
        String(options.warmWorkers ?? 0),
        ...(options.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
    );
    const stderr: string[] = [];
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      rl.once('line', resolve);
      child.once('exit', (code) =>
        reject(new Error(`the agent exited (${code}) before it was ready: ${stderr.join('')}`)),
      );
    });
    const ready = JSON.parse(line) as {
      url: string;
      localUrl: string;
      port: number;
      fingerprint: string | null;
      webSocketPort: number | null;
    };
    port = ready.port;
    return { child, ready, stderr };
  };
  let current = await launch();
  const agent: TestAgent = {
    url: current.ready.url,
    localUrl: current.ready.localUrl,
    token: decodeURIComponent(new URL(current.ready.localUrl).username),
    port,
    fingerprint: current.ready.fingerprint ?? undefined,
    webSocketPort: current.ready.webSocketPort ?? undefined,
    stateDir,
    process: current.child,
    stderr: () => current.stderr.join(''),
    async stop(o = {}) {
      const child = agent.process;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (!o.keepState && !options.stateDir) await rm(stateDir, { recursive: true, force: true });
    },
    kill(signal = 'SIGKILL') {
      agent.process.kill(signal);
    },
    async restart() {
      const child = agent.process;
      if (child.exitCode === null && child.signalCode === null)
        await new Promise((resolve) => child.once('exit', resolve));
      current = await launch();
      agent.process = current.child;
      agent.url = current.ready.url;
      agent.localUrl = current.ready.localUrl;
      agent.fingerprint = current.ready.fingerprint ?? undefined;
      agent.webSocketPort = current.ready.webSocketPort ?? undefined;
    },
  };
  return agent;
}

export { rawClients, unaryCall } from './test-utils/clients.js';
export {
  BORE_CONTROL_PORT,
  type BoreRelay,
  findTestTool,
  startBoreRelay,
} from './test-utils/external-tools.js';
export {
  checkJupyterPython,
  startJupyterServer,
  type TestJupyterServer,
  type TestJupyterServerOptions,
} from './test-utils/jupyter-server.js';
export { installNvidiaSmiStandIn } from './test-utils/nvidia-smi-standin.js';
export { startTcpProxy, type TcpProxy } from './test-utils/tcp-proxy.js';

export {
  type AltName,
  type CertificatePair,
  type CertificateRequest,
  makeCertificate,
} from './tls/make-certificate.js';
