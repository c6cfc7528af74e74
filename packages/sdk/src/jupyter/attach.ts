// `attach`: puts a gpulink agent on a Jupyter host through the server's own APIs (a kernel to run code,
// the Contents API to upload) and returns the `gpulink+jupyter://` URL that reaches it through the
// kernel relay. The host's side is attach.py, run in gpulink's dedicated kernel.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Drive, type KernelConnection } from '@jupyterlab/services';
import { type AgentUrl, formatAgentUrl, parseAgentUrl } from '../agent-url.js';
import { GpulinkError } from '../errors.js';
import hostSource from './attach.py';
import {
  checkServer,
  describeServer,
  type JupyterServer,
  jupyterServerOf,
  openDedicatedKernel,
  runPython,
  runPythonForJson,
  serverSettings,
} from './jupyter-server.js';

/** What the Jupyter host has, as `attach` found it. */
export interface HostReport {
  python: string;
  /** The kernel's Python: the agent's worker runs with it. */
  executable: string;
  platform: string;
  machine: string;
  torch: string | null;
  fastai: string | null;
  cuda: {
    available: boolean;
    version: string | null;
    gpus: { name: string; memory_mib: number }[];
    error?: string;
  };
  node: { path: string; version: string } | null;
  disk_free_bytes: number;
  state_dir: string;
  /** Whether {@link AttachOptions.stateDirMount} is a mount point on the host; null when none was asked. */
  mounted: boolean | null;
  /** Agent packages already unpacked there, by `<version>-<sha256 prefix>`. */
  installed: string[];
  /** The agent `attach` started before on this state dir, when it still runs. */
  agent: { pid: number; url: string } | null;
}

/** One step of `attach`, for progress lines. */
export type AttachStep = 'server' | 'kernel' | 'check' | 'node' | 'upload' | 'setup' | 'start' | 'reuse';

/** Options of {@link attachJupyter}. */
export interface AttachOptions {
  /** The self-contained agent package (`npm run pack:agent`), uploaded unless the host has this one. */
  agentPackage: string;
  /** The agent's state dir on the host. @default '~/.local/share/gpulink/attached' */
  stateDir?: string;
  /**
   * A mount point the state dir lives on (Colab's Google Drive, `/content/drive`): attach refuses,
   * having installed nothing, while nothing is mounted there, since the state would land on the
   * runtime's own disk instead.
   */
  stateDirMount?: string;
  /** Where packages are unpacked on the host. @default '~/.local/share/gpulink/agent' */
  installDir?: string;
  /** Kernel spec of gpulink's dedicated kernel. @default 'python3' */
  kernelName?: string;
  /**
   * Installs what the kernel's Python lacks (fastai, and torch when it has none) there, with
   * `gpulink-agent setup --in-place`, instead of refusing. A torch the host has is kept. @default false
   */
  setup?: boolean;
  /** A Node binary (gzip-compressed on the way) for a host without Node 20+; this process's by default. */
  nodeBinary?: string;
  /** The Colab CLI session the runtime belongs to, written into the URL so its token can be refreshed. */
  colabSession?: string;
  /** Called as each step starts. */
  onStep?: (step: AttachStep, message: string) => void;
}

/** What {@link attachJupyter} did. */
export interface AttachResult {
  /** The `gpulink+jupyter://` URL of the agent: give it to `connect()`. */
  url: string;
  /** `true` when an agent `attach` had started before was running and is used as it is. */
  reused: boolean;
  /** The agent's process id on the host. */
  pid: number;
  host: HostReport;
}

const chunkBytes = 4 << 20;
const minNodeMajor = 20;

async function call<T>(kernel: KernelConnection, fn: string, ...args: unknown[]): Promise<T> {
  // The arguments travel as one JSON document: a JSON string is also a Python string literal.
  return runPythonForJson<T>(
    kernel,
    `${fn}(*__import__('json').loads(${JSON.stringify(JSON.stringify(args))}))`,
  );
}

/** Uploads bytes through the Contents API in chunks (jupyter_server's chunked save); returns the path. */
async function upload(server: JupyterServer, path: string, bytes: Buffer): Promise<void> {
  const drive = new Drive({ serverSettings: serverSettings(server) });
  const folder = path.slice(0, path.lastIndexOf('/'));
  await drive.save(folder, { type: 'directory', path: folder }).catch(() => undefined);
  const chunks = Math.max(1, Math.ceil(bytes.length / chunkBytes));
  for (let i = 0; i < chunks; i += 1) {
    const part = bytes.subarray(i * chunkBytes, (i + 1) * chunkBytes);
    await drive.save(path, {
      type: 'file',
      format: 'base64',
      content: part.toString('base64'),
      chunk: i === chunks - 1 ? -1 : i + 1,
    });
  }
}

function missingPieces(host: HostReport): string[] {
  const missing: string[] = [];
  if (!host.torch) missing.push('torch');
  if (!host.fastai) missing.push('fastai');
  return missing;
}

function nodeIsRecent(node: HostReport['node']): boolean {
  return node !== null && Number(node.version.split('.')[0]) >= minNodeMajor;
}

/**
 * Installs and starts a gpulink agent on a Jupyter host, or finds the one started before, and returns
 * its `gpulink+jupyter://` URL. Refuses, having installed nothing, when the token is wrong or the
 * kernel's Python lacks torch or fastai (unless `setup` is set: then it installs them there).
 *
 * @example
 * ```ts
 * import { attachJupyter, connect } from '@gpulink/sdk';
 * const { url } = await attachJupyter('http://gpu-box:8888/?token=abc', { agentPackage: './gpulink-gpu-agent-0.1.0.tgz' });
 * const agent = await connect(url);
 * ```
 */
export async function attachJupyter(server: JupyterServer, options: AttachOptions): Promise<AttachResult> {
  const step = options.onStep ?? (() => undefined);
  const stateDir = options.stateDir ?? '~/.local/share/gpulink/attached';
  const installDir = options.installDir ?? '~/.local/share/gpulink/agent';
  step('server', `checking ${describeServer(server)}`);
  await checkServer(server);
  const packageBytes = await readFile(options.agentPackage).catch((error: unknown) => {
    throw new GpulinkError(
      'FAILED_PRECONDITION',
      `cannot read the agent package ${options.agentPackage}: ${(error as Error).message}`,
    );
  });
  const packageName = `${/gpulink-gpu-agent-([^/]*)\.tgz$/.exec(options.agentPackage)?.[1] ?? 'agent'}-${createHash('sha256').update(packageBytes).digest('hex').slice(0, 16)}`;

  step('kernel', "starting gpulink's kernel");
  const kernel = await openDedicatedKernel(server, options.kernelName);
  try {
    await runPython(kernel, hostSource);
    step('check', 'checking Python, torch, fastai, CUDA, Node and disk on the host');
    const probe = () =>
      call<HostReport>(kernel, 'gpulink_probe', stateDir, installDir, options.stateDirMount ?? null);
    let host = await probe();
    if (options.stateDirMount && !host.mounted) {
      throw new GpulinkError(
        'FAILED_PRECONDITION',
        `nothing is mounted at ${options.stateDirMount} on ${describeServer(server)}, where the state dir ${stateDir} should be: mount it there first`,
      );
    }
    const missing = missingPieces(host);
    if (missing.length > 0 && !options.setup) {
      throw new GpulinkError(
        'FAILED_PRECONDITION',
        `the kernel's Python on ${describeServer(server)} (${host.executable}, Python ${host.python}) has no ${missing.join(' and ')}: install them there (pip install torch fastai), attach with --setup to have gpulink install them, or pick a kernel that has them`,
      );
    }
    // Node and the agent package, brought only when a step below needs them.
    let installed: { node: string; bin: string } | undefined;
    const install = async () => {
      if (installed) return installed;
      let node = host.node;
      if (!nodeIsRecent(node)) node = await bringNode(server, kernel, host, installDir, options, step);
      let bin = `${installDir}/${packageName}/package/dist/bin.js`;
      if (!host.installed.includes(packageName)) {
        step('upload', `uploading the agent package (${(packageBytes.length / 2 ** 20).toFixed(1)} MiB)`);
        const remote = `gpulink-upload/${packageName}.tgz`;
        await upload(server, remote, packageBytes);
        bin = (await call<{ bin: string }>(kernel, 'gpulink_install', remote, installDir, packageName)).bin;
      }
      if (!node) {
        throw new GpulinkError(
          'FAILED_PRECONDITION',
          `the Node binary brought to ${describeServer(server)} does not run there`,
        );
      }
      installed = { node: node.path, bin };
      return installed;
    };
    if (missing.length > 0) {
      const { node, bin } = await install();
      step(
        'setup',
        `installing ${missing.join(' and ')} into ${host.executable} (gpulink-agent setup --in-place)`,
      );
      const setup = await call<{ code: number; tail: string[] }>(
        kernel,
        'gpulink_setup',
        node,
        bin,
        host.executable,
      );
      host = await probe();
      const still = missingPieces(host);
      if (setup.code !== 0 || still.length > 0) {
        throw new GpulinkError(
          'FAILED_PRECONDITION',
          `gpulink-agent setup could not install ${(still.length > 0 ? still : missing).join(' and ')} into ${host.executable} (exit ${setup.code}):\n${setup.tail.join('\n')}`,
        );
      }
    }
    let reused = false;
    let agent = host.agent;
    if (agent) {
      step('reuse', `an agent is already running there (pid ${agent.pid})`);
      reused = true;
    } else {
      const { node, bin } = await install();
      step('start', `starting the agent (state dir ${host.state_dir})`);
      const started = await call<{ pid: number; url: string; reused: boolean }>(
        kernel,
        'gpulink_start',
        node,
        bin,
        stateDir,
        host.executable,
      );
      agent = started;
      reused = started.reused;
    }
    return { url: jupyterAgentUrl(server, agent.url, options.colabSession), reused, pid: agent.pid, host };
  } finally {
    kernel.dispose();
  }
}

async function bringNode(
  server: JupyterServer,
  kernel: KernelConnection,
  host: HostReport,
  installDir: string,
  options: AttachOptions,
  step: (step: AttachStep, message: string) => void,
): Promise<HostReport['node']> {
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch as string];
  const had = host.node ? `Node ${host.node.version}` : 'no Node';
  if (host.platform !== process.platform || host.machine !== arch) {
    throw new GpulinkError(
      'FAILED_PRECONDITION',
      `${describeServer(server)} has ${had} (the agent needs ${minNodeMajor}+) and is ${host.platform}/${host.machine}, unlike this machine: install Node ${minNodeMajor}+ there (e.g. from nodejs.org)`,
    );
  }
  const binary = options.nodeBinary ?? process.execPath;
  const packed = gzipSync(await readFile(binary), { level: 6 });
  step(
    'node',
    `the host has ${had}: uploading Node ${process.versions.node} (${(packed.length / 2 ** 20).toFixed(0)} MiB)`,
  );
  const remote = `gpulink-upload/node-${process.versions.node}.gz`;
  await upload(server, remote, packed);
  return call<HostReport['node']>(kernel, 'gpulink_install_node', remote, installDir);
}

/** The agent's own URL (on the host's loopback) as a `gpulink+jupyter://` URL through the server. */
function jupyterAgentUrl(server: JupyterServer, agentUrl: string, colabSession: string | undefined): string {
  const inner = parseAgentUrl(agentUrl);
  if (inner.fingerprint === undefined) throw new GpulinkError('INTERNAL', 'the attached agent serves no TLS');
  const base = new URL(server.baseUrl);
  const secure = base.protocol === 'https:';
  const url: AgentUrl = {
    transport: 'jupyter',
    token: inner.token,
    host: base.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: base.port === '' ? (secure ? 443 : 80) : Number(base.port),
    path: base.pathname,
    fingerprint: inner.fingerprint,
    jupyter: {
      secure,
      agentPort: inner.port,
      token: server.token,
      auth: server.auth ?? 'token',
      kernel: undefined,
      colabSession,
    },
  };
  return formatAgentUrl(url);
}

/**
 * Stops the agent `attach` started on a Jupyter host (gracefully: its running jobs become interrupted
 * and can be resumed after the next attach). Returns whether one was running.
 *
 * @example
 * ```ts
 * import { detachJupyter } from '@gpulink/sdk';
 * await detachJupyter(process.env.GPULINK_URL!);
 * ```
 */
export async function detachJupyter(
  agentUrl: string,
  options: { stateDir?: string; kernelName?: string } = {},
): Promise<boolean> {
  const server = jupyterServerOf(parseAgentUrl(agentUrl));
  await checkServer(server);
  const kernel = await openDedicatedKernel(server, options.kernelName);
  try {
    await runPython(kernel, hostSource);
    const { stopped } = await call<{ stopped: boolean }>(
      kernel,
      'gpulink_stop',
      options.stateDir ?? '~/.local/share/gpulink/attached',
    );
    return stopped;
  } finally {
    kernel.dispose();
  }
}
