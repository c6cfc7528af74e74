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

const HELP = `gpulink-agent ${agentVersion} — runs fastai training jobs next to the GPU for gpulink clients.

Usage:
  gpulink-agent serve [--port N] [--host ADDR] [--state-dir DIR] [--python PY] [--token-file F]
                      [--warm-workers N] [--json]
  gpulink-agent doctor [--python PY] [--state-dir DIR] [--json]
  gpulink-agent setup [--python PY]

serve    Listens on 127.0.0.1 (an ephemeral port unless --port) and prints one line
         GPULINK_URL=gpulink://<token>@<host>:<port> when ready (--json: one JSON object).
         Stops gracefully on SIGINT/SIGTERM.
doctor   Checks Python, torch, fastai, CUDA/cuDNN, the GPUs, RAM and disk, with fixes.
setup    Installs the worker's requirements (torch, fastai, ...) into a virtualenv for --python.

Example:
  gpulink-agent serve --state-dir /content/drive/MyDrive/gpulink
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
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (!command || command === 'help' || values.help) {
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
  json: boolean;
}): Promise<number> {
  const port = Number(o.port ?? 0);
  const warm = Number(o['warm-workers'] ?? 1);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: ${o.port} is not a port number`);
  if (!Number.isInteger(warm) || warm < 0 || warm > 8)
    throw new Error(`--warm-workers: 0..8, got ${o['warm-workers']}`);
  const agent = await startAgent({
    stateDir: o.stateDir,
    host: o.host,
    port,
    python: o.python,
    tokenFile: o['token-file'],
    warmWorkers: warm,
  });
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ url: agent.url, host: agent.host, port: agent.port, pid: process.pid, stateDir: agent.stateDir })}\n`,
    );
  } else {
    process.stdout.write(`GPULINK_URL=${agent.url}\n`);
  }
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
