import {
  type AttachResult,
  attachJupyter,
  connect,
  detachJupyter,
  type HostReport,
  isGpulinkError,
  type JupyterAuth,
  parseJupyterUrl,
} from '@gpulink/sdk';
import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import { agentPackage } from '../config/agent-package.js';
import { clearProfile, readProfile, redactUrl, writeProfile } from '../config/profile.js';
import { formatBytes } from '../view/format.js';
import {
  freshAgentUrl,
  type GlobalOptions,
  mergedOptions,
  outputMode,
  printJson,
  printLine,
} from './context.js';

export interface AttachCommandOptions extends GlobalOptions {
  token?: string;
  stateDir?: string;
  kernel?: string;
  package?: string;
  setup?: boolean;
}

const defaultStateDir = '~/.local/share/gpulink/attached';

function describeHost(host: HostReport): string[] {
  const gpus = host.cuda.gpus.map((g) => `${g.name} (${formatBytes(g.memory_mib * 2 ** 20)})`).join(', ');
  return [
    `host       Python ${host.python}, torch ${host.torch}, fastai ${host.fastai}`,
    `python     ${host.executable}`,
    `CUDA       ${host.cuda.available ? `${host.cuda.version}, ${host.cuda.gpus.length} GPU(s): ${gpus}` : 'not available: jobs train on the CPU'}`,
    `node       ${host.node ? `${host.node.version} (${host.node.path})` : 'none'}`,
    `disk       ${formatBytes(host.disk_free_bytes)} free for ${host.state_dir}`,
  ];
}

/**
 * Attaches to a Jupyter server: installs and starts the agent there (or finds it), checks the
 * connection through the kernel relay, and saves the profile. Shared with `gpulink colab up`.
 */
export async function attachAndSave(
  jupyterUrl: string,
  options: AttachCommandOptions & { auth?: JupyterAuth; colabSession?: string; stateDirMount?: string },
): Promise<AttachResult> {
  const json = outputMode(options) === 'json';
  const say = (step: string, message: string) => {
    if (json) printJson({ step, message });
    else process.stderr.write(`${message}\n`);
  };
  const server = {
    ...parseJupyterUrl(jupyterUrl, options.token ?? process.env.JUPYTER_TOKEN),
    auth: options.auth ?? 'token',
  };
  const stateDir = options.stateDir ?? defaultStateDir;
  let result: AttachResult;
  try {
    result = await attachJupyter(server, {
      agentPackage: agentPackage(options.package, (m) => say('package', m)),
      stateDir,
      ...(options.kernel ? { kernelName: options.kernel } : {}),
      ...(options.setup ? { setup: true } : {}),
      ...(options.stateDirMount ? { stateDirMount: options.stateDirMount } : {}),
      ...(options.colabSession ? { colabSession: options.colabSession } : {}),
      onStep: say,
    });
  } catch (error) {
    if (isGpulinkError(error))
      throw new CliError(`cannot attach: ${error.message}`, EXIT.error, { cause: error });
    throw error;
  }
  say('connect', 'connecting through the kernel relay');
  await using agent = await connect(result.url).catch((e: Error) => {
    throw new CliError(`the agent started, but cannot be reached through the kernel relay: ${e.message}`);
  });
  const context = await writeProfile({
    url: result.url,
    attached: { server: server.baseUrl, stateDir, colabSession: options.colabSession },
  });
  if (json) {
    printJson({
      url: redactUrl(result.url),
      reused: result.reused,
      host: result.host,
      agent: agent.info,
      context,
    });
  } else {
    for (const line of describeHost(result.host)) printLine(line);
    printLine(
      `agent      ${agent.info.agentVersion}, ${result.reused ? 'already running' : 'started'} (pid ${result.pid})`,
    );
    printLine(
      `attached to ${agent.info.hostname} through ${server.baseUrl}; saved as context '${context}', now current`,
    );
  }
  return result;
}

/** Stops the agent of the current attached context and forgets the context. */
export async function detachAndForget(options: GlobalOptions): Promise<boolean> {
  const profile = await readProfile();
  if (!profile?.attached)
    throw new CliError('the current profile is not an attached Jupyter host (see gpulink attach)');
  let stopped: boolean;
  try {
    stopped = await detachJupyter(await freshAgentUrl(profile.url), { stateDir: profile.attached.stateDir });
  } catch (error) {
    if (isGpulinkError(error)) throw new CliError(`cannot detach: ${error.message}`);
    throw error;
  }
  await clearProfile();
  if (outputMode(options) === 'json') printJson({ stopped, server: profile.attached.server });
  else
    printLine(
      `${stopped ? 'agent stopped' : 'no agent was running'} on ${profile.attached.server}; its context forgotten`,
    );
  return stopped;
}

export function registerAttach(program: Command): void {
  program
    .command('attach <JUPYTER_URL>')
    .description(
      'run an agent on a Jupyter host (a GPU box, RunPod, vast.ai, JupyterHub) and reach it through its kernel: no open port, no tunnel',
    )
    .option('--token <token>', "the Jupyter server's token (default: the URL's ?token=, then $JUPYTER_TOKEN)")
    .option('--state-dir <dir>', "the agent's state dir on the host", defaultStateDir)
    .option('--kernel <name>', 'kernel spec to run in (its Python runs the jobs)', 'python3')
    .option('--package <file>', 'agent package to upload (default: made by npm run pack:agent)')
    .option(
      '--setup',
      "install what the kernel's Python lacks (fastai; torch only when it has none) there, keeping its torch",
    )
    .option('--json', 'steps and the result as NDJSON')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink attach "http://gpu-box:8888/lab?token=abc123"\n  JUPYTER_TOKEN=abc123 gpulink attach https://xyz-8888.proxy.runpod.net/\n  gpulink attach https://hub.example.org/user/me/ --token "$HUB_TOKEN" --state-dir ~/gpulink\n  gpulink attach "http://gpu-box:8888/?token=abc123" --setup   # a Python with torch but no fastai',
    )
    .action(async (url: string, o: AttachCommandOptions, cmd: Command) => {
      await attachAndSave(url, mergedOptions(o, cmd));
    });

  program
    .command('detach')
    .description(
      'stop the agent that attach started (running jobs become interrupted, resumable) and forget its context',
    )
    .option('--json', 'the result as JSON')
    .addHelpText('after', '\nExample:\n  gpulink detach')
    .action(async (o: GlobalOptions, cmd: Command) => {
      await detachAndForget(mergedOptions(o, cmd));
    });
}
