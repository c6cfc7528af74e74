// `gpulink context ls|use|rm|add|current`: several saved agents (a Colab runtime, a box under the
// desk, the local one), as kubectl's contexts; `gpulink --context NAME CMD` uses one for one command.
import { parseAgentUrl } from '@gpulink/sdk';
import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import {
  type ContextEntry,
  currentContext,
  listContexts,
  redactUrl,
  removeContexts,
  useContext,
  writeProfile,
} from '../config/profile.js';
import type { Listing } from '../view/listing.js';
import { type GlobalOptions, mergedOptions, outputMode, printJson, printLine } from './context.js';
import { type ListingOptions, printListing, withListingOptions } from './listing.js';

const contextListing: Listing<ContextEntry> = {
  id: (c) => c.name,
  columns: ['CURRENT', 'NAME', 'KIND', 'URL'],
  row: (c) => [c.current ? '*' : '', c.name, c.kind, redactUrl(c.url)],
  empty: 'no contexts yet: `gpulink up` (local), `gpulink connect URL --name NAME`, `gpulink attach URL`',
};

export function registerContexts(program: Command): void {
  const context = program
    .command('context')
    .description('saved agents by name: list them, switch, add, forget')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink context ls\n  gpulink context use colab-gpulink\n  gpulink --context local jobs      one command on another agent\n  gpulink context add desk "gpulink://TOKEN@gpu-box:50051?fp=..."\n  gpulink context rm attach-gpu-box',
    );

  withListingOptions(
    context.command('ls').alias('list').description('saved agents; * marks the current one'),
    'context',
  )
    .addHelpText('after', '\nExamples:\n  gpulink context ls\n  gpulink context ls -q')
    .action(async (o: ListingOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      // JSON never carries tokens: what it prints may end up in logs.
      const entries = (await listContexts()).map((c) => ({ ...c, url: redactUrl(c.url) }));
      printListing(entries, contextListing, g);
    });

  context
    .command('current')
    .description('the name of the current context')
    .addHelpText('after', '\nExample:\n  gpulink context current')
    .action(async () => {
      const current = await currentContext();
      if (!current) throw new CliError('no current context: gpulink context use NAME (gpulink context ls)');
      printLine(current.name);
    });

  context
    .command('use <NAME>')
    .description('make a saved agent the current one')
    .option('--json', 'the context as JSON')
    .addHelpText('after', '\nExample:\n  gpulink context use local')
    .action(async (name: string, o: GlobalOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      const profile = await useContext(name);
      if (outputMode(g) === 'json') printJson({ name, url: redactUrl(profile.url), current: true });
      else printLine(`current context: ${name} (${redactUrl(profile.url)})`);
    });

  context
    .command('add <NAME> <URL>')
    .description('save an agent URL under a name without connecting (gpulink connect checks it first)')
    .option('--use', 'make it the current context too')
    .addHelpText(
      'after',
      '\nExample:\n  gpulink context add desk "gpulink://TOKEN@gpu-box:50051?fp=..." --use',
    )
    .action(async (name: string, url: string, o: GlobalOptions & { use?: boolean }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      try {
        parseAgentUrl(url);
      } catch (error) {
        throw new CliError(`not an agent URL: ${(error as Error).message}`, EXIT.usage);
      }
      await writeProfile({ url }, name, { makeCurrent: Boolean(g.use) });
      if (outputMode(g) === 'json') printJson({ name, url: redactUrl(url), current: Boolean(g.use) });
      else printLine(`saved context '${name}'${g.use ? ', now current' : ''}`);
    });

  context
    .command('rm <NAME...>')
    .alias('delete')
    .description('forget saved agents (the agents keep running)')
    .addHelpText('after', '\nExample:\n  gpulink context rm attach-gpu-box colab-old')
    .action(async (names: string[]) => {
      await removeContexts(names);
      for (const name of names) printLine(`forgot context '${name}'`);
    });
}
