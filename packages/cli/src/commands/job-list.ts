// `gpulink jobs [JOB]`, `jobs --watch`, `jobs rm JOB...` and `gpulink artifacts JOB`.
import { type AgentClient, isTerminalState, type JobState } from '@gpulink/sdk';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { jobDetailLines } from '../view/job-detail.js';
import { artifactListing, jobListing } from '../view/listings.js';
import {
  type GlobalOptions,
  interruptSignal,
  mergedOptions,
  outputMode,
  printJson,
  printLine,
  withAgent,
} from './context.js';
import { resolveJob } from './job-arg.js';
import { watchJobList } from './job-list-watch.js';
import { type ListingOptions, printListing, withListingOptions } from './listing.js';
import { wholeNumber } from './option-values.js';

type JobsOptions = ListingOptions & { state?: string; limit: number; watch?: boolean; interval: number };

export function registerJobList(program: Command): void {
  const jobs = withListingOptions(
    program
      .command('jobs [JOB]')
      .description('list jobs, newest first; with JOB, that one job: its spec, state, summary and artifacts')
      .option('--state <states>', 'comma-separated states to show, e.g. running,queued')
      .option('--limit <n>', 'how many', wholeNumber(1), 20)
      .option('-w, --watch', 'keep the list up to date (q or Ctrl-C quits); piped: a line per change')
      .option('--interval <ms>', 'milliseconds between refreshes with --watch', wholeNumber(100), 2000),
    'job',
  )
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink jobs --state running,queued\n  gpulink jobs -o wide\n  gpulink jobs job_0mb3k9x2     one job in full (any unique start of its id)\n  gpulink jobs --watch\n  gpulink jobs rm $(gpulink jobs -q --state failed)',
    )
    .action(async (jobArg: string | undefined, o: JobsOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        if (jobArg) return showJob(agent, jobArg, g);
        const list = () =>
          agent.jobs.list({ states: g.state?.split(',') as JobState[] | undefined, limit: g.limit });
        if (!g.watch) return printListing(await list(), jobListing, g);
        await watchJobList(list, g, interruptSignal());
      });
    });

  jobs
    .command('rm <JOB...>')
    .alias('delete')
    .description('delete finished jobs with their logs and artifacts (cancel a running one first)')
    .option('--json', 'one JSON object per job deleted')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink jobs rm job_0mb3k9x2\n  gpulink jobs rm $(gpulink jobs -q --state failed,cancelled)',
    )
    .action(async (ids: string[], o: GlobalOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        let failed = 0;
        for (const arg of ids) {
          try {
            const job = await resolveJob(agent, arg);
            if (!isTerminalState(job.info.state))
              throw new CliError(
                `job ${job.id} is ${job.info.state}: cancel it first (gpulink cancel ${job.id}), then delete it`,
              );
            await agent.jobs.delete(job.id);
            if (outputMode(g) === 'json') printJson({ id: job.id, deleted: true });
            else printLine(`deleted ${job.id}`);
          } catch (error) {
            if (ids.length === 1) throw error;
            failed++;
            process.stderr.write(`gpulink: ${(error as Error).message}\n`);
          }
        }
        if (failed > 0) throw new CliError(`${failed} of ${ids.length} jobs were not deleted`);
      });
    });

  withListingOptions(
    program
      .command('artifacts <JOB>')
      .description("list a job's artifacts with their sizes (gpulink pull downloads one)"),
    'artifact',
  )
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink artifacts job_0mb3k9x2\n  gpulink artifacts job_0mb3k9x2 -o wide     with exact bytes and sha256',
    )
    .action(async (jobArg: string, o: ListingOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        const job = await resolveJob(agent, jobArg);
        printListing(await job.artifacts.list(), artifactListing, g);
      });
    });
}

async function showJob(agent: AgentClient, arg: string, options: ListingOptions): Promise<void> {
  const job = await resolveJob(agent, arg);
  if (options.quiet) return printLine(job.id);
  if (options.output === 'json' || outputMode(options) === 'json') return printJson(job.info);
  for (const line of jobDetailLines(job.info, { wide: options.output === 'wide' })) printLine(line);
}
