import {
  type AgentClient,
  type FitMethod,
  fitMethods,
  gpuCountFor,
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
  gpus?: number | 'all';
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

/** A GPU count, or "all". */
const gpusArg = (v: string): number | 'all' => (v === 'all' ? 'all' : wholeNumber(0)(v));
const gpusOption = () =>
  new Option(
    '--gpus <n|all>',
    'GPUs to train on; above 1 runs one process per GPU (accelerate launch) (default: 1 when the agent has a GPU)',
  )
    .argParser(gpusArg)
    .conflicts('cpu');

/**
 * The job's options, its GPUs checked against the agent's (GetInfo at connect): call it before
 * anything is uploaded, so `--gpus 2` on an agent with fewer is refused at once, with the count.
 */
function jobOptions(o: CommonTrainOptions, agent: AgentClient): JobOptions {
  return {
    name: o.name,
    tags: o.tag,
    gpus: gpuCountFor(o.cpu ? 0 : o.gpus, agent.info),
    checkpoint: o.checkpoint ? { everyEpoch: true } : undefined,
  };
}

function labelsArg(v: string): VisionLabels {
  // Not undefined for the default: commander stores '' for a parser's undefined.
  if (v === 'folder') return { folder: {} };
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
    .addOption(gpusOption())
    .option('--checkpoint', 'save a checkpoint every epoch (resumable after a recycled runtime)')
    .option('--detach', 'print the job id and return instead of following')
    .option('--json', 'NDJSON events on stdout');
}

export function registerTrain(program: Command): void {
  const train = program
    .command('train')
    .description('train a fastai model on the agent')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink train vision ./digits --labels folder:train --no-pretrained --epochs 3\n  gpulink train tabular ./adult.csv --target salary --epochs 2\n  gpulink train vision --help      # every flag, with the defaults',
    );
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
      '\nDATA: a local folder (uploaded), ds_<id>, agent:/path, fastai:NAME or an http(s) URL.\n\nExamples:\n  gpulink train vision ./digits --labels folder:train --no-pretrained --size 32 --epochs 3\n  gpulink train vision ./pets --gpus 2      # one process per GPU; refused at once on an agent with fewer',
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
          const options = jobOptions(g, agent);
          const job = await agent.trainVision({
            ...options,
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
          const options = jobOptions(g, agent);
          const data = await resolveDataArg(agent, dirname(csv), outputMode(g));
          const job = await agent.trainTabular({
            ...options,
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
            ...jobOptions(g, agent),
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
    .addOption(gpusOption())
    .option('--detach', 'print the job id and return')
    .option('--json', 'NDJSON events on stdout')
    .argument('[ARGS...]', 'arguments after --, passed to the script')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink run ./train_pets.py --data ./pets -- --epochs 4\n  gpulink run ./train_pets.py --gpus all   # the script trains in `with learn.distrib_ctx():`',
    )
    .action(
      async (
        script: string,
        args: string[],
        o: GlobalOptions & {
          data?: string;
          env: Record<string, string>;
          cpu?: boolean;
          gpus?: number | 'all';
          detach?: boolean;
        },
        cmd: Command,
      ) => {
        const g = mergedOptions(o, cmd);
        const { dirname, basename, resolve } = await import('node:path');
        process.exitCode = await withAgent(g, async (agent) => {
          const mode = outputMode(g);
          const gpus = gpuCountFor(g.cpu ? 0 : g.gpus, agent.info);
          const job = await agent.runScript({
            workspace: await resolveDataArg(agent, dirname(resolve(script)), mode),
            entrypoint: basename(script),
            args,
            env: g.env,
            data: g.data ? await resolveDataArg(agent, g.data, mode) : undefined,
            gpus,
          });
          return followOrDetach(agent, job, g);
        });
      },
    );
}
