#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerDoctor } from './commands/doctor.js';
import { EXIT_USAGE } from './commands/options.js';
import { registerServe } from './commands/serve.js';
import { registerSetup } from './commands/setup.js';
import { agentVersion } from './paths.js';

// Commander writes help in several pieces; a reader that stops after the first line (the Colab
// notebook's `gpulink-agent --help | head -n 1`) would make a later piece fail with EPIPE. So what it
// writes to stdout (help, version) goes out in one write at the end.
let stdout = '';

const program = new Command('gpulink-agent')
  .description('Serves fastai training jobs on this machine to gpulink clients (the SDK, the CLI).')
  .version(agentVersion)
  // Its first line is what the Colab notebook prints to show which agent it installed.
  .addHelpText(
    'beforeAll',
    `gpulink-agent ${agentVersion} — runs fastai training jobs next to the GPU for gpulink clients.\n`,
  )
  .addHelpText(
    'after',
    '\nExample:\n  gpulink-agent serve --state-dir /content/drive/MyDrive/gpulink --tunnel cloudflared\n',
  )
  .configureOutput({
    writeOut: (text) => {
      stdout += text;
    },
  })
  .showHelpAfterError('(add --help for the flags and an example)')
  // Usage errors are thrown rather than exiting at once, so that they exit 2 below and stdout is flushed.
  .exitOverride();

registerServe(program);
registerDoctor(program);
registerSetup(program);

program
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    if (error instanceof CommanderError) {
      // Commander has already said what was wrong (or this is the help, or the version: code 0).
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    process.stderr.write(`gpulink-agent: ${(error as Error).message}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (stdout) process.stdout.write(stdout);
  });
