// `gpulink colab up|down`: a Colab runtime through Google's own Colab CLI (sign-in, assignment, release,
// token refresh), then the agent on it exactly as `gpulink attach` puts it on any Jupyter host, reached
// through Colab's runtime proxy with the session's runtime-proxy token.
import { hasStatus } from '@gpulink/sdk';
import { type Command, Option } from 'commander';
import { CliError } from '../cli-error.js';
import { type ColabSession, colabSessionsPath, readColabSession } from '../config/colab-sessions.js';
import { clearProfile, findContext, selectContext } from '../config/profile.js';
import { attachAndSave, detachAndForget } from './attach.js';
import { findColabCli, refreshColabSession, runColab } from './colab-cli.js';
import { type GlobalOptions, mergedOptions, outputMode, printJson, printLine } from './context.js';

const gpus = ['T4', 'L4', 'A100', 'H100'] as const;
const defaultName = 'gpulink';
/** On Drive the agent's state (datasets, runs, artifacts) survives a recycled runtime. */
const driveMount = '/content/drive';
const driveStateDir = `${driveMount}/MyDrive/gpulink-agent`;

interface ColabOptions extends GlobalOptions {
  name: string;
}

interface ColabUpOptions extends ColabOptions {
  gpu: (typeof gpus)[number];
  drive?: boolean;
}

type Say = (step: string, message: string) => void;

function progress(options: GlobalOptions): Say {
  const json = outputMode(options) === 'json';
  return (step, message) => {
    if (json) printJson({ step, message });
    else process.stderr.write(`${message}\n`);
  };
}

const gone = (name: string) =>
  new CliError(`Colab no longer has the session '${name}' (stopped or recycled): run gpulink colab up again`);

/** The session `name`: reused when Colab still has it (which also refreshes its token), else created. */
async function provision(colab: string, options: ColabUpOptions, say: Say): Promise<ColabSession> {
  const { name, gpu } = options;
  const known = await readColabSession(name);
  if (known) {
    say(
      'session',
      `reusing the Colab session '${name}' (${known.accelerator}): checking that Colab still has it`,
    );
    const session = await refreshColabSession(colab, name, (m) => say('session', m));
    if (session) {
      if (session.accelerator !== gpu) {
        say(
          'session',
          `the session has ${session.accelerator}, not ${gpu}: gpulink colab down --name ${name} first to get another GPU`,
        );
      }
      return session;
    }
    say('session', `Colab no longer has the session '${name}': asking for a new one`);
  }
  say(
    'session',
    `asking Colab for a ${gpu} runtime (colab new -s ${name} --gpu ${gpu}); Google's sign-in may ask you first`,
  );
  await runColab(colab, ['new', '-s', name, '--gpu', gpu]);
  const created = await readColabSession(name);
  if (!created) throw new CliError(`colab new ended, but ${colabSessionsPath()} has no session '${name}'`);
  return created;
}

async function colabUp(options: ColabUpOptions): Promise<void> {
  const say = progress(options);
  const colab = await findColabCli({ install: true, say: (m) => say('colab', m) });
  say('colab', `using Google's Colab CLI at ${colab}`);
  const session = await provision(colab, options, say);
  const attach = (s: ColabSession) =>
    attachAndSave(s.url, {
      json: options.json,
      token: s.token,
      auth: 'colab',
      colabSession: options.name,
      ...(options.drive ? { stateDir: driveStateDir, stateDirMount: driveMount } : {}),
    });
  try {
    await attach(session);
  } catch (error) {
    if (
      options.drive &&
      error instanceof CliError &&
      error.message.includes(`nothing is mounted at ${driveMount}`)
    ) {
      throw new CliError(
        `${error.message}. Google Drive is not mounted in this runtime: mount it in a notebook cell on the runtime (from google.colab import drive; drive.mount('${driveMount}')), then run colab up --drive again, or leave out --drive`,
      );
    }
    // The runtime proxy can refuse a token before the time the session file gives: refresh it once.
    if (!(error instanceof CliError && hasStatus(error.cause, 'UNAUTHENTICATED'))) throw error;
    say('session', "Colab's runtime proxy refused the token");
    const fresh = await refreshColabSession(colab, options.name, (m) => say('session', m));
    if (!fresh) throw gone(options.name);
    await attach(fresh);
  }
}

async function colabDown(options: ColabOptions): Promise<void> {
  const say = progress(options);
  const { name } = options;
  let agentStopped: boolean | null = null;
  // The session's context, current or not: down acts on it for the rest of this run.
  const context = await findContext((p) => p.attached?.colabSession === name);
  if (context) selectContext(context.name);
  if (context) {
    say('agent', `stopping the agent on the Colab session '${name}'`);
    try {
      agentStopped = await detachAndForget({ json: options.json });
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      say('agent', `cannot stop the agent (${error.message}): releasing the runtime ends it anyway`);
      await clearProfile();
    }
  } else {
    say('agent', `no saved context is on the Colab session '${name}': no agent to stop through it`);
  }
  const session = await readColabSession(name);
  if (session) {
    const colab = await findColabCli({ install: false, say: (m) => say('colab', m) });
    say('session', `releasing the Colab runtime (colab stop -s ${name})`);
    await runColab(colab, ['stop', '-s', name]);
  } else {
    say('session', `Google's Colab CLI has no session '${name}': no runtime to release`);
  }
  if (outputMode(options) === 'json')
    printJson({ session: name, agentStopped, released: session !== undefined });
  else printLine(session ? `Colab session '${name}' released` : `no Colab session '${name}'`);
}

export function registerColab(program: Command): void {
  const colab = program
    .command('colab')
    .description("a Colab runtime through Google's Colab CLI, with the agent on it: colab up, colab down")
    .addHelpText('after', '\nExamples:\n  gpulink colab up --gpu T4\n  gpulink colab down');

  colab
    .command('up')
    .description(
      "get a Colab runtime with Google's Colab CLI (colab new; installed into a tool venv when missing) and attach the agent to it through Colab's runtime proxy",
    )
    .addOption(new Option('--gpu <gpu>', 'the GPU to ask Colab for').choices(gpus).default('T4'))
    .option('--name <name>', "the Colab CLI's session name; reused when it exists", defaultName)
    .option(
      '--drive',
      `keep the agent's state on Google Drive (${driveStateDir}), which survives a recycled runtime; Drive must already be mounted in the runtime at /content/drive`,
    )
    .option('--json', 'steps and the result as NDJSON')
    .addHelpText(
      'after',
      `
Google's Colab CLI (google-colab-cli) signs in, assigns the runtime and refreshes its token; gpulink
never handles your Google account. Colab's terms apply to what runs there.

Examples:
  gpulink colab up                      a T4 (the free tier's GPU), session 'gpulink'
  gpulink colab up --gpu A100 --name big
  gpulink colab up --drive              state on Drive (mounted in the runtime first)
  gpulink colab up && gpulink train vision fastai:MNIST_SAMPLE`,
    )
    .action(async (o: ColabUpOptions, cmd: Command) => {
      await colabUp(mergedOptions(o, cmd));
    });

  colab
    .command('down')
    .description('stop the agent on the Colab runtime and release the runtime (colab stop)')
    .option('--name <name>', "the Colab CLI's session name", defaultName)
    .option('--json', 'steps and the result as NDJSON')
    .addHelpText('after', '\nExamples:\n  gpulink colab down\n  gpulink colab down --name big')
    .action(async (o: ColabOptions, cmd: Command) => {
      await colabDown(mergedOptions(o, cmd));
    });
}
