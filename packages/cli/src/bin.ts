#!/usr/bin/env node
import { isGpulinkError } from '@gpulink/sdk';
import { Command } from 'commander';
import { registerAgentCommands } from './commands/agent-commands.js';
import { CliError, connectAgent, EXIT, endQuietlyOnClosedPipe, outputMode } from './commands/context.js';
import { registerDemo } from './commands/demo.js';
import { registerJobs } from './commands/jobs.js';
import { registerTrain } from './commands/train.js';

endQuietlyOnClosedPipe();

const program = new Command('gpulink')
  .description(
    'Train fastai models on a GPU somewhere else, and watch it as if it were local.\nRun `gpulink` alone in a terminal for the live dashboard.',
  )
  .option('--url <url>', 'agent URL (default: $GPULINK_URL, then the saved profile)')
  .showHelpAfterError()
  .addHelpText(
    'after',
    '\nGet started:\n  gpulink demo            train a digit classifier on a local agent, live\n  gpulink up              start the local agent;  gpulink connect URL  for a remote one',
  )
  .action(async (o: { url?: string }) => {
    if (outputMode({}) !== 'interactive') {
      program.help();
      return;
    }
    const agent = await connectAgent(o);
    try {
      const { runDashboard } = await import('./ui/render.js');
      await runDashboard(agent);
    } finally {
      await agent.close();
    }
  });

registerAgentCommands(program);
registerTrain(program);
registerJobs(program);
registerDemo(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  const message =
    error instanceof CliError || isGpulinkError(error)
      ? error.message
      : ((error as Error).stack ?? String(error));
  process.stderr.write(`gpulink: ${message}\n`);
  process.exitCode = error instanceof CliError ? error.exitCode : EXIT.error;
});
