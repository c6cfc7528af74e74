// `gpulink-agent setup`: the worker's virtualenv (the README's setup script); with --in-place the same
// requirements put into an existing Python (a Jupyter kernel's, for `gpulink attach --setup`); or with
// --tunnel a tunnel program downloaded from its project's releases.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { installRequirementsInto } from '../environment/install-requirements.js';
import { workerPythonDir } from '../paths.js';
import { openStateDir } from '../state/state-dir.js';
import { installTunnelProgram } from '../tunnels/install.js';
import { TUNNEL_KINDS, type TunnelKind } from '../tunnels/programs.js';
import { stateDirOption } from './options.js';

interface SetupOptions {
  python?: string;
  inPlace?: boolean;
  tunnel?: TunnelKind;
  stateDir: string;
  binDir?: string;
}

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description("install the worker's requirements (torch, fastai, ...) into a virtualenv")
    .option(
      '--python <path>',
      'the Python to make the virtualenv with (default: $GPULINK_BASE_PYTHON, else python3)',
    )
    .option(
      '--in-place',
      "install into that Python itself (e.g. a Jupyter kernel's), keeping the torch it has, instead of a virtualenv",
    )
    .addOption(
      new Option(
        '--tunnel <name>',
        "instead, download this tunnel program from its project's releases",
      ).choices(TUNNEL_KINDS),
    )
    .addOption(stateDirOption())
    .option('--bin-dir <dir>', "where --tunnel puts the program (default: the state dir's bin/)")
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink-agent setup --python /usr/bin/python3.11\n  gpulink-agent setup --in-place --python /opt/conda/bin/python\n  gpulink-agent setup --tunnel cloudflared --bin-dir /usr/local/bin\n',
    )
    .action(async (o: SetupOptions) => {
      if (o.tunnel) process.exitCode = await installTunnel(o.tunnel, o);
      else if (o.inPlace) process.exitCode = await installInPlace(o.python);
      else process.exitCode = await setupVenv(o.python);
    });
}

async function installTunnel(kind: TunnelKind, o: SetupOptions): Promise<number> {
  const binDir = o.binDir ?? (await openStateDir(o.stateDir)).binDir;
  await installTunnelProgram(kind, binDir, (m) => process.stderr.write(`gpulink-agent: ${m}\n`));
  return 0;
}

function installInPlace(python: string | undefined): Promise<number> {
  return installRequirementsInto(python ?? process.env.GPULINK_BASE_PYTHON ?? 'python3', (line) =>
    process.stderr.write(`gpulink-agent: ${line}\n`),
  );
}

/** Runs the same setup script the README uses, for the chosen Python. */
function setupVenv(python: string | undefined): Promise<number> {
  const args = python ? ['--python', python] : [];
  const child = spawn(join(workerPythonDir, 'setup-venv.sh'), args, { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}
