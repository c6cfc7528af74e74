// `gpulink predict JOB FILE...`: the files are staged in a temporary folder and uploaded as one
// dataset; each prediction names its file as the user gave it.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { jobSpecDefaults } from '@gpulink/sdk';
import type { Command } from 'commander';
import { type GlobalOptions, mergedOptions, outputMode, withAgent } from './context.js';
import { resolveDataArg } from './data-source.js';
import { resolveJob } from './job-arg.js';
import { wholeNumber } from './option-values.js';
import { followOrDetach } from './run-job.js';

export function registerPredict(program: Command): void {
  program
    .command('predict <JOB> <FILES...>')
    .description("label files with a finished job's exported model")
    .option(
      '--top <k>',
      `classes to show per file (default: ${jobSpecDefaults.predict.topK})`,
      wholeNumber(1),
    )
    .option('--json', 'NDJSON events on stdout')
    .addHelpText('after', '\nExample:\n  gpulink predict job_0mb3k9x2a1f0c4d2e ./holdout/3_1790.png')
    .action(async (jobId: string, files: string[], o: GlobalOptions & { top?: number }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      const staging = await mkdtemp(join(tmpdir(), 'gpulink-predict-'));
      try {
        const names = inputNames(files);
        for (const [i, file] of files.entries()) {
          const staged = join(staging, names[i] as string);
          await mkdir(dirname(staged), { recursive: true });
          await copyFile(file, staged);
        }
        process.exitCode = await withAgent(g, async (agent) => {
          const model = await resolveJob(agent, jobId);
          const inputs = await resolveDataArg(agent, staging, outputMode(g));
          const job = await agent.predict({ model: model.id, inputs, inputPaths: names, topK: g.top });
          return followOrDetach(agent, job, g);
        });
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    });
}

/**
 * What each input is called on the agent, and so in its prediction: its path from the current folder
 * (`holdout/3_1790.png`), or its file name when it lies outside; the same name twice gets a number.
 */
export function inputNames(files: readonly string[]): string[] {
  const seen = new Set<string>();
  return files.map((file, i) => {
    const path = relative(process.cwd(), resolve(file));
    const name = path.startsWith('..') || isAbsolute(path) ? basename(file) : path;
    const unique = seen.has(name) ? join(dirname(name), `${i}-${basename(name)}`) : name;
    seen.add(unique);
    return unique;
  });
}
