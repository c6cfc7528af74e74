// `gpulink data push|ls|rm`: datasets on the agent.
import type { DatasetInfo } from '@gpulink/sdk';
import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import { datasetListing } from '../view/listings.js';
import { type GlobalOptions, mergedOptions, outputMode, printJson, printLine, withAgent } from './context.js';
import { uploadFolder } from './data-source.js';
import { type ListingOptions, printListing, withListingOptions } from './listing.js';

export function registerData(program: Command): void {
  const data = program
    .command('data')
    .description('datasets on the agent')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink data push ./pets --name pets\n  gpulink data ls -o wide\n  gpulink data rm pets',
    );
  data
    .command('push <DIR>')
    .description('upload a folder by content: only files the agent lacks are sent; a cut upload resumes')
    .option('--name <name>', 'a name for lists')
    .option('--json', 'the dataset as JSON')
    .addHelpText('after', '\nExample:\n  gpulink data push ./pets --name pets')
    .action(async (dir: string, o: GlobalOptions & { name?: string }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        const mode = outputMode(g);
        const ds = await uploadFolder(agent, dir, mode, g.name);
        if (mode === 'json') printJson(ds);
        else printLine(ds.id);
      });
    });

  withListingOptions(data.command('ls').description('list datasets, newest first'), 'dataset')
    .addHelpText('after', '\nExamples:\n  gpulink data ls\n  gpulink data ls -o wide\n  gpulink data ls -q')
    .action(async (o: ListingOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => printListing(await agent.datasets.list(), datasetListing, g));
    });

  data
    .command('rm <DATASET...>')
    .alias('delete')
    .description('delete datasets; files no other dataset holds are freed on the agent')
    .option('--json', 'one JSON object per dataset deleted')
    .addHelpText('after', '\nExamples:\n  gpulink data rm ds_3f2a9c\n  gpulink data rm $(gpulink data ls -q)')
    .action(async (ids: string[], o: GlobalOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        const all = await agent.datasets.list({ limit: Number.MAX_SAFE_INTEGER });
        let failed = 0;
        for (const arg of ids) {
          try {
            const ds = resolveDataset(all, arg);
            await agent.datasets.delete(ds.id);
            if (outputMode(g) === 'json') printJson({ id: ds.id, deleted: true });
            else printLine(`deleted ${ds.id}${ds.name ? ` (${ds.name})` : ''}`);
          } catch (error) {
            if (ids.length === 1) throw error;
            failed++;
            process.stderr.write(`gpulink: ${(error as Error).message}\n`);
          }
        }
        if (failed > 0) throw new CliError(`${failed} of ${ids.length} datasets were not deleted`);
      });
    });
}

/** The dataset an argument names: its id, any unique start of it, or its name when only one has it. */
function resolveDataset(all: DatasetInfo[], arg: string): DatasetInfo {
  const exact = all.find((d) => d.id === arg);
  if (exact) return exact;
  const byPrefix = all.filter((d) => arg && d.id.startsWith(arg));
  const matches = byPrefix.length > 0 ? byPrefix : all.filter((d) => d.name === arg);
  const [only, ...others] = matches;
  if (!only) throw new CliError(`NOT_FOUND: no dataset id or name "${arg}" (\`gpulink data ls\` lists them)`);
  if (others.length > 0)
    throw new CliError(
      `INVALID_ARGUMENT: "${arg}" names ${matches.length} datasets: ${matches.map((d) => d.id).join(', ')}; give more of the id`,
      EXIT.usage,
    );
  return only;
}
