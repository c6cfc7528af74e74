#!/usr/bin/env node
import { isGpulinkError } from '@gpulink/sdk';
import { Command } from 'commander';
import { CliError, EXIT } from './cli-error.js';
import { registerAgentCommands } from './commands/agent-commands.js';
import { registerAttach } from './commands/attach.js';
import { registerColab } from './commands/colab.js';
import { registerCompletion } from './commands/completion.js';
import {
  connectAgent,
  dashboardContexts,
  endQuietlyOnClosedPipe,
  type GlobalOptions,
  outputMode,
  wasInterrupted,
} from './commands/context.js';
import { registerContexts } from './commands/contexts.js';
import { registerData } from './commands/data.js';
import { registerDemo } from './commands/demo.js';
import { registerJobList } from './commands/job-list.js';
import { registerJobs } from './commands/jobs.js';
import { registerPredict } from './commands/predict.js';
import { registerTrain } from './commands/train.js';
import { printVersion, registerVersion } from './commands/version.js';
import { selectContext } from './config/profile.js';
import { loadTerminalUi } from './terminal-ui.js';

endQuietlyOnClosedPipe();

// Settings here are inherited by every command registered below.
const program = new Command('gpulink')
  .description(
    'Train fastai models on a GPU somewhere else, and watch it as if it were local.\nRun `gpulink` alone in a terminal for the live dashboard (? lists its keys; with several saved agents, a shows the next).',
  )
  .option('--url <url>', 'agent URL (default: --context, then $GPULINK_URL, then the current context)')
  .option('--context <name>', 'a saved agent by name, for this command (gpulink context ls)')
  .option('-V, --version', "print the CLI's version, and the agent's when it answers")
  .helpCommand(true)
  .showHelpAfterError('(run `gpulink help COMMAND` for its usage)')
  // Commander has already printed what was wrong; its own exit status for that is 1, the README's is 2.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage))
  .addHelpText(
    'after',
    "\nGet started:\n  gpulink demo            train a digit classifier on a local agent, live\n  gpulink up              start the local agent;  gpulink connect URL  for a remote one\n  gpulink --version       the CLI's and the agent's versions\n  source <(gpulink completion bash)   tab completion (also zsh, fish)",
  )
  // `--context NAME` holds for the whole run: every read of the saved agent goes to that context.
  .hook('preAction', (_root, action) => selectContext(action.optsWithGlobals<GlobalOptions>().context));

// Every command, one register call each; new ones go here, above the dashboard below.
registerAgentCommands(program);
registerAttach(program);
registerColab(program);
registerTrain(program);
registerPredict(program);
registerJobList(program);
registerJobs(program);
registerData(program);
registerContexts(program);
registerDemo(program);
registerCompletion(program);
registerVersion(program);

// `gpulink` alone is the dashboard. The root command takes no arguments, but it is given room for
// them so that a word that names no command gets commander's "unknown command" with a suggestion,
// not "too many arguments". Commands inherit settings when registered: this comes after them all.
program.allowExcessArguments().action(async (o: GlobalOptions & { version?: boolean }) => {
  if (o.version) return printVersion(o);
  if (program.args.length > 0) (program as unknown as { unknownCommand(): never }).unknownCommand();
  if (outputMode({}) !== 'interactive') {
    program.help();
    return;
  }
  const agent = await connectAgent(o);
  try {
    const { runDashboard } = await loadTerminalUi();
    // Each reconnection re-reads the profile: `gpulink down` then `up` moves the local agent's port.
    await runDashboard(agent, () => connectAgent(o), await dashboardContexts(o));
  } finally {
    await agent.close();
  }
});

program.parseAsync(process.argv).then(
  () => {
    if (wasInterrupted()) process.exitCode = EXIT.interrupted;
  },
  (error: unknown) => {
    // Ctrl-C aborted the command's calls: what they threw (CANCELLED) is no news to the user.
    if (wasInterrupted()) {
      process.exitCode = EXIT.interrupted;
      return;
    }
    const message =
      error instanceof CliError || isGpulinkError(error)
        ? error.message
        : ((error as Error).stack ?? String(error));
    process.stderr.write(`gpulink: ${message}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : EXIT.error;
  },
);
