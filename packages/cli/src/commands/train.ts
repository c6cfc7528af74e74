import {
  type FitMethod,
  fitMethods,
  type JobOptions,
  jobSpecDefaults,
  type TabularTaskOptions,
  type VisionLabels,
} from '@gpulink/sdk';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type GlobalOptions, mergedOptions, outputMode, withAgent } from './context.js';
import { resolveDataArg } from './data-source.js';
import { decimal, wholeNumber, wholeNumberList } from './option-values.js';
import { followOrDetach } from './run-job.js';

interface CommonTrainOptions extends GlobalOptions {
  epochs?: number;
  lr?: number | 'find';
  fit?: FitMethod;
  bs?: number;
  validPct?: number;
  seed?: number;
  metrics?: string;
  name?: string;
  tag?: string[];
  cpu?: boolean;
  checkpoint?: boolean;
  detach?: boolean;
}

/** A learning rate, or "find" to run the lr finder first. */
const learningRate = (v: string): number | 'find' => (v === 'find' ? 'find' : decimal({ above: 0 })(v));
/** Help text for an option the agent defaults: the CLI sends only what is given, as the SDK does. */
const agentDefault = (value: unknown): string => `(default: ${String(value)})`;
const { fit, vision } = jobSpecDefaults;
/** Tabular models have no pretrained body to fine_tune. */
const tabularFitMethods = fitMethods.filter((m) => m !== 'fine_tune');

function jobOptions(o: CommonTrainOptions): JobOptions {
  return {
    name: o.name,
    tags: o.tag,
    gpuCount: o.cpu ? 0 : undefined,
    checkpoint: o.checkpoint ? { everyEpoch: true } : undefined,
  };
}

function labelsArg(v: string): VisionLabels | undefined {
  if (v === 'folder') return undefined;
  if (v.startsWith('regex:')) return { fileNameRegex: v.slice('regex:'.length) };
  if (v.startsWith('csv:')) return { csv: { path: v.slice('csv:'.length) } };
  if (v.startsWith('folder:')) {
    const [trainDir, validDir] = v.slice('folder:'.length).split(',');
    return { folder: { trainDir: trainDir || undefined, validDir: validDir || undefined } };
  }
  throw new InvalidArgumentError('Expected folder, folder:TRAIN[,VALID], regex:PATTERN or csv:FILE.');
}

/** One NAME=VALUE of --env, added to those before it. */
function envPair(pair: string, env: Record<string, string>): Record<string, string> {
  const i = pair.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError('Expected NAME=VALUE.');
  return { ...env, [pair.slice(0, i)]: pair.slice(i + 1) };
}

function addCommon(cmd: Command, methods: readonly FitMethod[]): Command {
  return cmd
    .option('--epochs <n>', `epochs to train ${agentDefault(fit.epochs)}`, wholeNumber(1))
    .option('--lr <rate|find>', 'learning rate, or "find" to run the lr finder first', learningRate)
    .addOption(
      new Option(
        '--fit <method>',
        'training schedule (default: fine_tune when pretrained, else fit_one_cycle)',
      ).choices(methods),
    )
    .option('--bs <n>', `batch size ${agentDefault(fit.batchSize)}`, wholeNumber(1))
    .option(
      '--valid-pct <p>',
      `fraction held out for validation ${agentDefault(fit.validPct)}`,
      decimal({ above: 0, below: 1 }),
    )
    .option('--seed <n>', `random seed ${agentDefault(fit.seed)}`, wholeNumber(0))
    .option('--metrics <list>', 'comma-separated fastai metrics, e.g. accuracy,error_rate')
    .option('--name <name>', 'a name for job lists')
    .option('--tag <tag...>', 'tags for filtering')
    .option('--cpu', 'train on the CPU even when the agent has a GPU')
    .option('--checkpoint', 'save a checkpoint every epoch (resumable after a recycled runtime)')
    .option('--detach', 'print the job id and return instead of following')
    .option('--json', 'NDJSON events on stdout');
}

export function registerTrain(program: Command): void {
  const train = program.command('train').description('train a fastai model on the agent');
  addCommon(
    train
      .command('vision <DATA>')
      .description('train an image classifier (labels from folder names by default)')
      .option('--arch <name>', `torchvision or timm architecture ${agentDefault(vision.arch)}`)
      .option('--size <px>', `image size in pixels ${agentDefault(vision.imageSize)}`, wholeNumber(1))
      .option('--no-pretrained', 'start from random weights (no download)')
      .option('--labels <how>', 'folder | folder:TRAIN[,VALID] | regex:PATTERN | csv:FILE', labelsArg)
      .option('--fp16', 'mixed precision on the GPU'),
    fitMethods,
  )
    .addHelpText(
      'after',
      '\nDATA: a local folder (uploaded), ds_<id>, agent:/path, fastai:NAME or an http(s) URL.\n\nExample:\n  gpulink train vision ./digits --labels folder:train --no-pretrained --size 32 --epochs 3',
    )
    .action(
      async (
        data: string,
        o: CommonTrainOptions & {
          arch?: string;
          size?: number;
          pretrained: boolean;
          labels?: VisionLabels;
          fp16?: boolean;
        },
        cmd: Command,
      ) => {
        const g = mergedOptions(o, cmd);
        process.exitCode = await withAgent(g, async (agent) => {
          const job = await agent.trainVision({
            ...jobOptions(g),
            data: await resolveDataArg(agent, data, outputMode(g)),
            labels: g.labels,
            arch: g.arch,
            pretrained: g.pretrained,
            imageSize: g.size,
            batchSize: g.bs,
            validPct: g.validPct,
            seed: g.seed,
            metrics: g.metrics?.split(','),
            fp16: g.fp16,
            epochs: g.epochs,
            lr: g.lr,
            fitMethod: g.fit,
          });
          return followOrDetach(agent, job, g);
        });
      },
    );

  addCommon(
    train
      .command('tabular <CSV>')
      .description('train a tabular model on a CSV file')
      .requiredOption('--target <column>', 'the column to predict')
      .option('--cat <cols>', 'comma-separated categorical columns')
      .option('--cont <cols>', 'comma-separated continuous columns')
      .option('--layers <sizes>', 'hidden layer sizes, e.g. 200,100', wholeNumberList(1))
      .option('--regression', 'predict a number rather than a class'),
    tabularFitMethods,
  )
    .addHelpText(
      'after',
      '\nExample:\n  gpulink train tabular ./breast_cancer.csv --target diagnosis --epochs 5',
    )
    .action(
      async (
        csv: string,
        o: CommonTrainOptions & {
          target: string;
          cat?: string;
          cont?: string;
          layers?: number[];
          regression?: boolean;
        },
        cmd: Command,
      ) => {
        const g = mergedOptions(o, cmd);
        const { dirname, basename } = await import('node:path');
        process.exitCode = await withAgent(g, async (agent) => {
          const data = await resolveDataArg(agent, dirname(csv), outputMode(g));
          const job = await agent.trainTabular({
            ...jobOptions(g),
            data,
            csvPath: basename(csv),
            target: g.target,
            categoricalColumns: g.cat?.split(','),
            continuousColumns: g.cont?.split(','),
            layers: g.layers,
            regression: g.regression,
            batchSize: g.bs,
            validPct: g.validPct,
            seed: g.seed,
            metrics: g.metrics?.split(','),
            epochs: g.epochs,
            lr: g.lr,
            fitMethod: g.fit as TabularTaskOptions['fitMethod'],
          });
          return followOrDetach(agent, job, g);
        });
      },
    );

  program
    .command('lr-find <DATA>')
    .description("run fastai's learning-rate finder on an image folder and show the curve")
    .option('--arch <name>', `architecture ${agentDefault(vision.arch)}`)
    .option('--size <px>', `image size in pixels ${agentDefault(vision.imageSize)}`, wholeNumber(1))
    .option('--bs <n>', `batch size ${agentDefault(fit.batchSize)}`, wholeNumber(1))
    .option('--no-pretrained', 'start from random weights (no download)')
    .option('--labels <how>', 'folder | folder:TRAIN[,VALID] | regex:PATTERN | csv:FILE', labelsArg)
    .option('--cpu', 'run on the CPU')
    .option('--detach', 'print the job id and return')
    .option('--json', 'NDJSON events on stdout')
    .addHelpText(
      'after',
      '\nExample:\n  gpulink lr-find ./digits --labels folder:train --no-pretrained --size 32',
    )
    .action(
      async (
        data: string,
        o: CommonTrainOptions & { arch?: string; size?: number; pretrained: boolean; labels?: VisionLabels },
        cmd: Command,
      ) => {
        const g = mergedOptions(o, cmd);
        process.exitCode = await withAgent(g, async (agent) => {
          const job = await agent.lrFind({
            ...jobOptions(g),
            vision: {
              data: await resolveDataArg(agent, data, outputMode(g)),
              labels: g.labels,
              arch: g.arch,
              pretrained: g.pretrained,
              imageSize: g.size,
              batchSize: g.bs,
            },
          });
          return followOrDetach(agent, job, g);
        });
      },
    );

  program
    .command('run <SCRIPT>')
    .description('run your own fastai script on the agent; its folder is uploaded as the workspace')
    .option('--data <DIR>', 'a dataset the script finds in $GPULINK_DATA')
    .option('--env <NAME=VALUE...>', 'environment variables for the script', envPair, {})
    .option('--cpu', 'run on the CPU')
    .option('--detach', 'print the job id and return')
    .option('--json', 'NDJSON events on stdout')
    .argument('[ARGS...]', 'arguments after --, passed to the script')
    .addHelpText('after', '\nExample:\n  gpulink run ./train_pets.py --data ./pets -- --epochs 4')
    .action(
      async (
        script: string,
        args: string[],
        o: GlobalOptions & { data?: string; env: Record<string, string>; cpu?: boolean; detach?: boolean },
        cmd: Command,
      ) => {
        const g = mergedOptions(o, cmd);
        const { dirname, basename, resolve } = await import('node:path');
        process.exitCode = await withAgent(g, async (agent) => {
          const mode = outputMode(g);
          const job = await agent.runScript({
            workspace: await resolveDataArg(agent, dirname(resolve(script)), mode),
            entrypoint: basename(script),
            args,
            env: g.env,
            data: g.data ? await resolveDataArg(agent, g.data, mode) : undefined,
            gpuCount: g.cpu ? 0 : undefined,
          });
          return followOrDetach(agent, job, g);
        });
      },
    );
}
