#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CheckStatus } from '@gpulink/proto';
import { startAgent } from './agent.js';
import { Environment, worstStatus } from './environment/environment.js';
import { WarmPool } from './jobs/warm-pool.js';
import { WorkerProcess } from './jobs/worker-process.js';
import { agentVersion, defaultPython, workerPythonDir } from './paths.js';
import { defaultStateDir, openStateDir } from './state/state-dir.js';
import type { TunnelSettings } from './tunnels/exposure.js';
import { installTunnelProgram } from './tunnels/install.js';
import { TUNNEL_KINDS, type TunnelKind } from './tunnels/programs.js';

const HELP = `gpulink-agent ${agentVersion} — runs fastai training jobs next to the GPU for gpulink clients.

Usage:
  gpulink-agent serve [--port N] [--host ADDR] [--state-dir DIR] [--python PY] [--token-file F]
                      [--warm-workers N] [--tls] [--ws-port N] [--full-disk-wait-s N] [--json]
                      [--tunnel none|bore|cloudflared|ngrok] [--tunnel-server HOST] [--tunnel-port N]
                      [--ngrok-tcp]
  gpulink-agent doctor [--python PY] [--state-dir DIR] [--json]
  gpulink-agent setup [--python PY]
  gpulink-agent setup --tunnel bore|cloudflared|ngrok [--state-dir DIR | --bin-dir DIR]

serve    Listens on 127.0.0.1 (an ephemeral port unless --port) and prints one line
         GPULINK_URL=gpulink://<token>@<host>:<port> when ready (--json: one JSON object).
         Stops gracefully on SIGINT/SIGTERM.
         TLS: beyond loopback, with a tunnel or with --ws-port (or --tls) the agent speaks TLS with a
         self-signed certificate kept in the state dir; its SHA-256 goes into the URL (?fp=) and
         clients pin it.
         --tunnel bore         relays raw TCP through --tunnel-server (default bore.pub); the URL
                               stays the same when bore is restarted (--tunnel-port picks the port).
         --tunnel cloudflared  a quick tunnel at https://<name>.trycloudflare.com, no account; clients
                               dial gpulink+wss://, gRPC in a WebSocket.
         --tunnel ngrok        an ngrok HTTPS endpoint (gpulink+wss://); needs NGROK_AUTHTOKEN or
                               \`ngrok config add-authtoken\`. --ngrok-tcp: a TCP endpoint instead.
         --ws-port N           also serve the WebSocket endpoint (path /gpulink) for a reverse proxy
                               of your own.
         Tunnel programs come from PATH, else from the state dir's bin/ (see setup --tunnel).
         --full-disk-wait-s N  when the state dir's disk fills, a running job's log waits this long
                               for space (default 30), then the job is stopped; its log stays whole.
doctor   Checks Python, torch, fastai, CUDA/cuDNN, the GPUs, RAM and disk, with fixes.
setup    Installs the worker's requirements (torch, fastai, ...) into a virtualenv for --python.
         With --tunnel NAME: downloads that tunnel program from its project's releases into
         --bin-dir (default: the state dir's bin/).

Example:
  gpulink-agent serve --state-dir /content/drive/MyDrive/gpulink --tunnel cloudflared
`;

const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'state-dir': { type: 'string' },
      python: { type: 'string' },
      'token-file': { type: 'string' },
      'warm-workers': { type: 'string' },
      tls: { type: 'boolean', default: false },
      'ws-port': { type: 'string' },
      'full-disk-wait-s': { type: 'string' },
      tunnel: { type: 'string' },
      'tunnel-server': { type: 'string' },
      'tunnel-port': { type: 'string' },
      'ngrok-tcp': { type: 'boolean', default: false },
      'bin-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (!command || command === 'help' || command === '--help' || command === '-h' || values.help) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : EXIT_USAGE;
  }
  const stateDir = values['state-dir'] ?? defaultStateDir();
  const python = values.python ?? defaultPython();
  switch (command) {
    case 'serve':
      return serve({ ...values, stateDir, python });
    case 'doctor':
      return doctor(python, stateDir, values.json);
    case 'setup':
      if (values.tunnel !== undefined) {
        const kind = tunnelKind(values.tunnel);
        if (!kind) throw new Error('setup --tunnel: name a tunnel program (bore, cloudflared or ngrok)');
        const binDir = values['bin-dir'] ?? (await openStateDir(stateDir)).binDir;
        await installTunnelProgram(kind, binDir, (m) => process.stderr.write(`gpulink-agent: ${m}\n`));
        return 0;
      }
      return setup(values.python);
    default:
      process.stderr.write(`gpulink-agent: unknown command "${command}"\n\n${HELP}`);
      return EXIT_USAGE;
  }
}

async function serve(o: {
  port?: string | undefined;
  host?: string | undefined;
  stateDir: string;
  python: string;
  'token-file'?: string | undefined;
  'warm-workers'?: string | undefined;
  tls: boolean;
  'ws-port'?: string | undefined;
  'full-disk-wait-s'?: string | undefined;
  tunnel?: string | undefined;
  'tunnel-server'?: string | undefined;
  'tunnel-port'?: string | undefined;
  'ngrok-tcp': boolean;
  json: boolean;
}): Promise<number> {
  const port = portNumber('--port', o.port ?? '0');
  const warm = Number(o['warm-workers'] ?? 1);
  if (!Number.isInteger(warm) || warm < 0 || warm > 8)
    throw new Error(`--warm-workers: 0..8, got ${o['warm-workers']}`);
  const fullDiskWaitS = Number(o['full-disk-wait-s'] ?? 30);
  if (!Number.isFinite(fullDiskWaitS) || fullDiskWaitS < 0)
    throw new Error(`--full-disk-wait-s: a number of seconds >= 0, got ${o['full-disk-wait-s']}`);
  const tunnel = tunnelSettings(o);
  const announce = (url: string, changed: boolean) => {
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ ...ready(), url, ...(changed ? { changed } : {}) })}\n`);
    } else {
      process.stdout.write(`GPULINK_URL=${url}\n`);
    }
  };
  const agent = await startAgent({
    stateDir: o.stateDir,
    host: o.host,
    port,
    python: o.python,
    tokenFile: o['token-file'],
    warmWorkers: warm,
    tls: o.tls,
    webSocketPort: o['ws-port'] === undefined ? undefined : portNumber('--ws-port', o['ws-port']),
    fullDiskRetryMs: fullDiskWaitS * 1000,
    tunnel,
    onUrlChange: (url) => {
      process.stderr.write('gpulink-agent: the tunnel came back at a new address; use the new URL below\n');
      announce(url, true);
    },
  });
  const ready = () => ({
    url: agent.url,
    localUrl: agent.localUrl,
    host: agent.host,
    port: agent.port,
    fingerprint: agent.fingerprint ?? null,
    webSocketPort: agent.webSocketPort ?? null,
    tunnel: tunnel?.kind ?? null,
    pid: process.pid,
    stateDir: agent.stateDir,
  });
  announce(agent.url, false);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`gpulink-agent: ${signal}: stopping (jobs get 10 s to wind down)\n`);
      agent.stop(10_000).then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

async function doctor(python: string, stateDir: string, json: boolean): Promise<number> {
  const layout = await openStateDir(stateDir);
  const environment = new Environment(python, new WarmPool(0, () => new WorkerProcess(python)));
  const checks = await environment.checks(layout.root);
  const overall = worstStatus(checks);
  if (json) {
    for (const c of checks)
      process.stdout.write(`${JSON.stringify({ ...c, status: CheckStatus[c.status] })}\n`);
  } else {
    const mark = {
      [CheckStatus.CHECK_STATUS_OK]: 'ok  ',
      [CheckStatus.CHECK_STATUS_WARN]: 'warn',
      [CheckStatus.CHECK_STATUS_FAIL]: 'FAIL',
    };
    for (const c of checks) {
      process.stdout.write(`${mark[c.status as 1 | 2 | 3] ?? '?   '}  ${c.title}: ${c.detail}\n`);
      if (c.fixHint) process.stdout.write(`      fix: ${c.fixHint}\n`);
    }
  }
  return overall === CheckStatus.CHECK_STATUS_FAIL ? 1 : 0;
}

function portNumber(flag: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new Error(`${flag}: ${value} is not a port number`);
  return port;
}

function tunnelKind(name: string): TunnelKind | undefined {
  return (TUNNEL_KINDS as readonly string[]).includes(name) ? (name as TunnelKind) : undefined;
}

function tunnelSettings(o: {
  tunnel?: string | undefined;
  'tunnel-server'?: string | undefined;
  'tunnel-port'?: string | undefined;
  'ngrok-tcp': boolean;
}): TunnelSettings | undefined {
  if (o.tunnel === undefined || o.tunnel === 'none') {
    if (o['tunnel-server'] || o['tunnel-port'] || o['ngrok-tcp'])
      throw new Error('--tunnel-server, --tunnel-port and --ngrok-tcp need --tunnel');
    return undefined;
  }
  const kind = tunnelKind(o.tunnel);
  if (!kind) throw new Error(`--tunnel: none, ${TUNNEL_KINDS.join(', ')}; got ${o.tunnel}`);
  if (o['tunnel-server'] !== undefined && kind !== 'bore') throw new Error('--tunnel-server is for bore');
  if (o['tunnel-port'] !== undefined && kind !== 'bore') throw new Error('--tunnel-port is for bore');
  if (o['ngrok-tcp'] && kind !== 'ngrok') throw new Error('--ngrok-tcp is for ngrok');
  return {
    kind,
    server: o['tunnel-server'],
    remotePort: o['tunnel-port'] === undefined ? undefined : portNumber('--tunnel-port', o['tunnel-port']),
    ngrokTcp: o['ngrok-tcp'],
  };
}

/** Runs the same setup script the README uses, for the chosen Python. */
function setup(python: string | undefined): Promise<number> {
  const args = python ? ['--python', python] : [];
  const child = spawn(join(workerPythonDir, 'setup-venv.sh'), args, { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`gpulink-agent: ${error.message}\n`);
    process.exitCode = 1;
  },
);
