import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '@gpulink/sdk';
import type { Command } from 'commander';
import { startLocalAgent } from '../config/local-agent.js';
import { localAgentDir } from '../config/profile.js';
import { loadTerminalUi } from '../terminal-ui.js';
import { exitCodeFor } from '../view/job-lines.js';
import { type GlobalOptions, mergedOptions, outputMode, printJson, printLine } from './context.js';
import { uploadFolder } from './data-source.js';
import { followJobPlain } from './follow.js';
import { wholeNumber } from './option-values.js';

/**
 * The README's main job: start the embedded agent, write scikit-learn's digits as an image folder,
 * upload it, train a real classifier live, and end with the accuracy and the model's location.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train a real digit classifier on the embedded local agent, live')
    .option('--epochs <n>', 'epochs to train', wholeNumber(1), 4)
    .option('--json', 'NDJSON events')
    .addHelpText('after', '\nExample:\n  gpulink demo')
    .action(async (o: GlobalOptions & { epochs: number }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      const mode = outputMode(g);
      const note = (m: string) => (mode === 'json' ? undefined : process.stderr.write(`${m}\n`));
      const profile = g.url ? { url: g.url } : await startLocalAgent({ onWait: note });
      await using agent = await connect(profile.url);
      const demoDir = join(localAgentDir(), '..', 'demo');
      const digits = join(demoDir, 'digits');
      note(`writing scikit-learn's 1,797 handwritten digits as PNG files to ${digits}`);
      await rm(digits, { recursive: true, force: true });
      await writeDigits(agent.info.pythonExecutable, digits);
      const dataset = await uploadFolder(agent, digits, mode, 'digits');
      const job = await agent.trainVision({
        name: 'demo-digits',
        tags: ['demo'],
        data: { datasetId: dataset.id },
        labels: { folder: { trainDir: 'train' } },
        // The agent's defaults for the rest (jobSpecDefaults): its architecture, batch size, split,
        // seed, accuracy as the metric, and fit_one_cycle for a model trained from scratch.
        pretrained: false,
        imageSize: 32,
        epochs: g.epochs,
        lr: 0.01,
      });
      note(`training ${job.id} on ${agent.info.cudaAvailable ? agent.info.gpus[0]?.name : 'the CPU'}`);
      let exitCode: number;
      if (mode === 'interactive') {
        const { followInTerminal } = await loadTerminalUi();
        exitCode = await followInTerminal(agent, job, { modelLine: false });
      } else {
        exitCode = exitCodeFor(await followJobPlain(job, mode, { modelLine: false }));
      }
      const info = await job.refresh();
      const accuracy = info.lastEpoch?.metrics.accuracy;
      const model = info.artifacts.find((a) => a.kind === 'model');
      if (info.state === 'succeeded' && model) {
        const saved = await job.artifacts.download(model.name, join(demoDir, 'export.pkl'));
        // The summary above gave the accuracy; this is the one line that names the model.
        if (mode === 'json') printJson({ jobId: job.id, state: info.state, accuracy, model: saved.path });
        else printLine(`model saved to ${saved.path} (open it with fastai's load_learner)`);
      }
      process.exitCode = exitCode;
    });
}

/** Runs the worker package's sample_data module with the agent's own Python (same machine). */
async function writeDigits(python: string, out: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const workerDir = join(dirname(require.resolve('@gpulink/gpu-agent/package.json')), 'python');
  await promisify(execFile)(python, ['-m', 'gpulink_worker.sample_data', 'digits', out, '--size', '32'], {
    env: { ...process.env, PYTHONPATH: workerDir },
  });
}
