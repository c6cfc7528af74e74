import { hasStatus, isTerminalState, type Job, type JobInfo } from '@gpulink/sdk';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { loadTerminalUi } from '../terminal-ui.js';
import { formatBytes } from '../view/format.js';
import { exitCodeFor } from '../view/job-lines.js';
import { type GlobalOptions, mergedOptions, outputMode, printJson, printLine, withAgent } from './context.js';
import { downloadWithProgress } from './download.js';
import { followJobPlain } from './follow.js';
import { resolveJob } from './job-arg.js';
import { pastTime, wholeNumber } from './option-values.js';
import { followOrDetach } from './run-job.js';

export function registerJobs(program: Command): void {
  program
    .command('watch <JOB>')
    .description('follow a job live (from its first event, or after --after-seq)')
    .option('--after-seq <n>', 'skip events up to this seq', wholeNumber(0), 0)
    .option('--json', 'NDJSON events')
    .addHelpText('after', '\nExample:\n  gpulink watch job_0mb3k9x2a1f0c4d2e')
    .action(async (jobId: string, o: GlobalOptions & { afterSeq: number }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      process.exitCode = await withAgent(g, async (agent) => {
        const job = await resolveJob(agent, jobId);
        const mode = outputMode(g);
        if (mode === 'interactive') {
          const { followInTerminal } = await loadTerminalUi();
          return followInTerminal(agent, job);
        }
        return exitCodeFor(await followJobPlain(job, mode, { afterSeq: g.afterSeq }));
      });
    });

  program
    .command('logs <JOB>')
    .description("print a job's output; -f keeps following it")
    .option('-f, --follow', 'keep printing until the job ends')
    .option('--tail <n>', 'only the last n lines (then, with -f, what follows)', wholeNumber(0))
    .option(
      '--since <when>',
      'only lines from this long ago (30s, 10m, 2h, 1d) or since this time (2026-12-01T14:00)',
      pastTime(),
    )
    .option('--json', 'NDJSON log events')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink logs job_0mb3k9x2a1f0c4d2e -f\n  gpulink logs job_0mb3k9x2 --tail 20\n  gpulink logs job_0mb3k9x2 --since 10m -f',
    )
    .action(
      async (
        jobId: string,
        o: GlobalOptions & { follow?: boolean; tail?: number; since?: Date },
        cmd: Command,
      ) => {
        const g = mergedOptions(o, cmd);
        await withAgent(g, async (agent) => {
          const job = await resolveJob(agent, jobId);
          const mode = outputMode(g) === 'json' ? 'json' : 'plain';
          await followJobPlain(job, mode, {
            replayOnly: !g.follow,
            logsOnly: true,
            select: { tail: g.tail, since: g.since },
          });
        });
      },
    );

  program
    .command('resume <JOB>')
    .description('continue an interrupted job from its last checkpoint, and follow it as train does')
    .option('--detach', 'print the job id and return instead of following')
    .option('--json', 'NDJSON events (with --detach: the job id as JSON)')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink resume job_0mb3k9x2\n  gpulink resume job_0mb3k9x2 --detach\n\nA job is interrupted when its agent stopped under it (gpulink down, a recycled Colab runtime).',
    )
    .action(async (jobId: string, o: GlobalOptions & { detach?: boolean }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      process.exitCode = await withAgent(g, async (agent) => {
        const job = await resolveJob(agent, jobId);
        if (job.info.state !== 'interrupted')
          throw new CliError(
            `job ${job.id} is ${job.info.state}: only an interrupted job can be resumed${isTerminalState(job.info.state) ? '' : ' (it has not stopped)'}`,
          );
        return followOrDetach(agent, await agent.jobs.resume(job.id), g);
      });
    });

  program
    .command('cancel <JOB>')
    .description('stop a job (queued: at once; running: within about one batch)')
    .option('--json', 'the job as JSON')
    .addHelpText('after', '\nExample:\n  gpulink cancel job_0mb3k9x2a1f0c4d2e')
    .action(async (jobId: string, o: GlobalOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        const { info, already } = await cancelOnce(await resolveJob(agent, jobId));
        if (already && info.state !== 'cancelled')
          throw new CliError(`job ${info.id} already ${info.state}: there is nothing to cancel`);
        if (outputMode(g) === 'json') printJson(info);
        else if (already) printLine(`job ${info.id} is already cancelled`);
        else printLine(`job ${info.id} ${info.state === 'cancelled' ? 'cancelled' : 'is stopping'}`);
      });
    });

  program
    .command('pull <JOB> [ARTIFACT]')
    .description("download a job's artifact (default: its model, export.pkl); resumes a cut download")
    .option('-o, --output <path>', 'where to write it (default: the artifact name in the current folder)')
    .option('--json', 'the result as JSON')
    .addHelpText('after', '\nExample:\n  gpulink pull job_0mb3k9x2a1f0c4d2e export.pkl -o model.pkl')
    .action(
      async (
        jobId: string,
        artifact: string | undefined,
        o: GlobalOptions & { output?: string },
        cmd: Command,
      ) => {
        const g = mergedOptions(o, cmd);
        await withAgent(g, async (agent) => {
          const job = await resolveJob(agent, jobId);
          const artifacts = await job.artifacts.list();
          const name = artifact ?? artifacts.find((a) => a.kind === 'model')?.name;
          if (!name || !artifacts.some((a) => a.name === name)) {
            const has = artifacts.length ? `: ${artifacts.map((a) => a.name).join(', ')}` : ' none';
            throw new CliError(
              `NOT_FOUND: job ${job.id} has no ${artifact ? `artifact '${artifact}'` : 'model artifact'}; it has${has}`,
            );
          }
          const { basename } = await import('node:path');
          const result = await downloadWithProgress(job, name, g.output ?? basename(name), outputMode(g));
          if (outputMode(g) === 'json') printJson(result);
          else
            printLine(`${result.path}: ${formatBytes(result.sizeBytes)}, sha256 ${result.sha256} verified`);
        });
      },
    );
}

/**
 * Cancels a job; `already` when it had finished before. The agent refuses to cancel a finished job
 * (FAILED_PRECONDITION), so one that finished just now is looked at again rather than reported raw.
 */
async function cancelOnce(job: Job): Promise<{ info: JobInfo; already: boolean }> {
  if (isTerminalState(job.info.state)) return { info: job.info, already: true };
  try {
    return { info: await job.cancel({ reason: 'cancelled with gpulink cancel' }), already: false };
  } catch (error) {
    if (!hasStatus(error, 'FAILED_PRECONDITION')) throw error;
    const info = await job.refresh();
    if (!isTerminalState(info.state)) throw error;
    return { info, already: true };
  }
}
