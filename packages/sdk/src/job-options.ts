// The options of the task builders (agent.trainVision(), agent.lrFind(), ...): the SDK's public
// vocabulary for a job. Their defaults are the contract's (jobSpecDefaults in @gpulink/proto), which
// the agent applies; the SDK sends only what a caller sets, so the docs here name them, never copy them.
// The wire mapping is job-spec.ts.
import { enumMembers, FitMethod as FitMethodProto, jobSpecDefaults } from '@gpulink/proto';
import type { DataSource, VisionLabels } from './data-source.js';

/**
 * What the agent uses for every option a job leaves unset, from the contract: `vision.arch`,
 * `fit.epochs`, `fit.batchSize`, ... (JobSpec's comments in proto/gpulink/v1/job.proto say the same).
 *
 * @example
 * ```ts
 * import { jobSpecDefaults } from '@gpulink/sdk';
 * console.log(`trains ${jobSpecDefaults.vision.arch} for ${jobSpecDefaults.fit.epochs} epoch(s) by default`);
 * ```
 */
export { jobSpecDefaults };

const fitMethodMembers = enumMembers(FitMethodProto, 'FIT_METHOD_');

/**
 * fastai's training schedule, named after the Learner method it calls: `'fine_tune'`,
 * `'fit_one_cycle'` or `'fit'` (the contract's FitMethod enum, less its prefix).
 *
 * @example
 * ```ts
 * import type { FitMethod } from '@gpulink/sdk';
 * const method: FitMethod = 'fit_one_cycle';
 * ```
 */
export type FitMethod = typeof fitMethodMembers extends ReadonlyMap<infer K, unknown> ? K : never;

/**
 * Every {@link FitMethod}, in the contract's order: the choices of a `--fit` option.
 *
 * @example
 * ```ts
 * import { fitMethods } from '@gpulink/sdk';
 * console.log(fitMethods.join(' | ')); // fine_tune | fit_one_cycle | fit
 * ```
 */
export const fitMethods: readonly FitMethod[] = [...fitMethodMembers.keys()];

/** The contract's FitMethod value of a {@link FitMethod} name; undefined for a name it lacks. @internal */
export const fitMethodValue = (name: string): FitMethodProto | undefined =>
  fitMethodMembers.get(name as FitMethod);

/**
 * A preprocessing step of fastai's tabular pipeline.
 *
 * @example
 * ```ts
 * import type { TabularProc } from '@gpulink/sdk';
 * const procs: TabularProc[] = ['categorify', 'fillMissing', 'normalize'];
 * ```
 */
export type TabularProc = 'categorify' | 'fillMissing' | 'normalize';

/**
 * Options every job takes besides its task.
 *
 * @example
 * ```ts
 * const options = { name: 'digits', tags: ['sweep-3'], gpus: 2, checkpoint: true };
 * ```
 */
export interface JobOptions {
  /** A short name for lists, e.g. "digits-resnet18". */
  name?: string;
  /** Free labels for filtering, e.g. `['sweep-3']`. */
  tags?: string[];
  /**
   * GPUs the job runs on: 0 is the CPU; above 1 runs one process per GPU under `accelerate launch`
   * (vision and tabular training, and scripts that use `learn.distrib_ctx()`); `'all'` is every GPU
   * the agent has. Checked against the agent's GPUs before anything is sent (INVALID_ARGUMENT with
   * the count it has). @default one GPU when the agent has one, else the CPU
   */
  gpus?: number | 'all';
  /** Fail the job when it runs longer than this, milliseconds. @default no limit */
  maxDurationMs?: number;
  /** Warn when no batch progress is seen for this long, milliseconds. @default jobSpecDefaults.stallWarningMs */
  stallWarningMs?: number;
  /**
   * Save checkpoints so an interrupted job can be resumed: `true` saves after every epoch and keeps the
   * newest `jobSpecDefaults.checkpointKeepLast`. @default no checkpoints
   */
  checkpoint?: boolean | { everyEpoch?: boolean; keepLast?: number };
  /**
   * Makes a retried submit return the job the first try created. A fresh random key is used for each
   * call when absent, which already makes the SDK's own retries after a dropped connection safe; pass
   * your own to make retries across processes safe too.
   */
  idempotencyKey?: string;
}

/**
 * The data and model of an image classifier (fastai's `vision_learner`).
 *
 * @example
 * ```ts
 * const model = { data: { fastaiUrl: 'MNIST_SAMPLE' }, arch: 'resnet18', imageSize: 28 };
 * ```
 */
export interface VisionModelOptions {
  /** The images. */
  data: DataSource;
  /** How images get their labels. @default folder names (`{ folder: {} }`) */
  labels?: VisionLabels;
  /** A torchvision name ("resnet34", "resnet50", ...) or a timm name when timm is installed. @default jobSpecDefaults.vision.arch */
  arch?: string;
  /** Start from ImageNet weights. @default jobSpecDefaults.vision.pretrained */
  pretrained?: boolean;
  /** Images are resized to this many pixels square. @default jobSpecDefaults.vision.imageSize */
  imageSize?: number;
  /** Items per batch. @default jobSpecDefaults.fit.batchSize */
  batchSize?: number;
  /** Fraction held out for validation when the labels do not say, 0 < validPct < 1. @default jobSpecDefaults.fit.validPct */
  validPct?: number;
  /** Random seed for the split and initialisation. @default jobSpecDefaults.fit.seed */
  seed?: number;
  /** fastai metric names: "accuracy", "error_rate", "top_k_accuracy", "f1_score", ... @default jobSpecDefaults.vision.metrics */
  metrics?: string[];
  /** Mixed precision (`learn.to_fp16()`); ignored with a warning on the CPU. @default false */
  fp16?: boolean;
}

/**
 * How long and how fast to train.
 *
 * @example
 * ```ts
 * const fit = { epochs: 3, lr: 'find', fitMethod: 'fine_tune' } as const;
 * ```
 */
export interface FitOptions<M extends FitMethod = FitMethod> {
  /** Epochs to train (for fine_tune, the epochs after the frozen ones). @default jobSpecDefaults.fit.epochs */
  epochs?: number;
  /** A learning rate, or `'find'` to run the finder first and use its "valley" suggestion. @default fastai's default */
  lr?: number | 'find';
  /** The training schedule. @default 'fine_tune' for a pretrained vision model, 'fit_one_cycle' otherwise */
  fitMethod?: M;
}

/**
 * Options of `agent.trainVision()` without the common job options.
 *
 * @example
 * ```ts
 * const task: VisionTaskOptions = { data: { datasetId }, epochs: 2, freezeEpochs: 1 };
 * ```
 */
export interface VisionTaskOptions extends VisionModelOptions, FitOptions {
  /** fine_tune only: epochs with the body frozen. @default jobSpecDefaults.vision.freezeEpochs */
  freezeEpochs?: number;
}

/**
 * Options of `agent.trainVision()`: train an image classifier.
 *
 * @example
 * ```ts
 * const job = await agent.trainVision({
 *   data: { fastaiUrl: 'MNIST_SAMPLE' },
 *   arch: 'resnet18',
 *   epochs: 1,
 *   lr: 'find',
 * });
 * ```
 */
export interface VisionTrainingOptions extends VisionTaskOptions, JobOptions {}

/**
 * The data and model of a tabular model (fastai's `tabular_learner`).
 *
 * @example
 * ```ts
 * const model = { data: { datasetId }, csvPath: 'adult.csv', target: 'salary' };
 * ```
 */
export interface TabularModelOptions {
  /** The dataset holding the CSV. */
  data: DataSource;
  /** Path of the CSV inside the dataset, e.g. "train.csv". */
  csvPath: string;
  /** The column to predict. */
  target: string;
  /** Columns treated as categories. @default inferred together with `continuousColumns` */
  categoricalColumns?: string[];
  /**
   * Columns treated as numbers. When both lists are empty, every other column is used: numeric ones as
   * continuous, the rest as categorical.
   */
  continuousColumns?: string[];
  /** Preprocessing. @default jobSpecDefaults.tabular.procs: all three */
  procs?: TabularProc[];
  /** Sizes of the hidden layers. @default jobSpecDefaults.tabular.layers */
  layers?: number[];
  /** Rows per batch. @default jobSpecDefaults.fit.batchSize */
  batchSize?: number;
  /** Fraction of rows held out for validation. @default jobSpecDefaults.fit.validPct */
  validPct?: number;
  /** Random seed. @default jobSpecDefaults.fit.seed */
  seed?: number;
  /** fastai metric names. @default jobSpecDefaults.tabular.metrics for classification, none for regression */
  metrics?: string[];
  /** Regress the target as a number instead of classifying it. @default false */
  regression?: boolean;
}

/**
 * Options of `agent.trainTabular()` without the common job options.
 *
 * @example
 * ```ts
 * const task: TabularTaskOptions = { data: { datasetId }, csvPath: 'adult.csv', target: 'salary', epochs: 3 };
 * ```
 */
export interface TabularTaskOptions
  extends TabularModelOptions,
    FitOptions<Exclude<FitMethod, 'fine_tune'>> {}

/**
 * Options of `agent.trainTabular()`: train a model on a CSV table.
 *
 * @example
 * ```ts
 * const job = await agent.trainTabular({
 *   data: { datasetId },
 *   csvPath: 'adult.csv',
 *   target: 'salary',
 *   categoricalColumns: ['workclass', 'education'],
 *   continuousColumns: ['age', 'fnlwgt'],
 * });
 * ```
 */
export interface TabularTrainingOptions extends TabularTaskOptions, JobOptions {}

/**
 * Options of `agent.lrFind()` without the common job options.
 *
 * @example
 * ```ts
 * const task: LrFindTaskOptions = { tabular: { data: { datasetId }, csvPath: 't.csv', target: 'y' } };
 * ```
 */
export type LrFindTaskOptions = (
  | { vision: VisionModelOptions; tabular?: never }
  | { tabular: TabularModelOptions; vision?: never }
) & {
  /** Lowest learning rate tried. @default jobSpecDefaults.lrFind.startLr */
  startLr?: number;
  /** Highest learning rate tried. @default jobSpecDefaults.lrFind.endLr */
  endLr?: number;
  /** Batches to try. @default jobSpecDefaults.lrFind.numIterations */
  iterations?: number;
};

/**
 * Options of `agent.lrFind()`: run fastai's learning-rate finder and report its curve.
 *
 * @example
 * ```ts
 * const job = await agent.lrFind({ vision: { data: { fastaiUrl: 'MNIST_SAMPLE' } } });
 * const { lrFind } = await job.wait();
 * ```
 */
export type LrFindOptions = LrFindTaskOptions & JobOptions;

/**
 * Options of `agent.runScript()` without the common job options.
 *
 * @example
 * ```ts
 * const task: ScriptTaskOptions = { workspace: { datasetId }, entrypoint: 'train.py' };
 * ```
 */
export interface ScriptTaskOptions {
  /** The uploaded folder (or agent path) holding the script; it becomes the working directory. */
  workspace: DataSource;
  /** The script's path inside the workspace, e.g. "train.py". */
  entrypoint: string;
  /** Command-line arguments (`sys.argv[1:]`). @default [] */
  args?: string[];
  /** Extra environment variables; names must match `[A-Za-z_][A-Za-z0-9_]*`. @default {} */
  env?: Record<string, string>;
  /** A dataset whose root the script finds in `GPULINK_DATA`. */
  data?: DataSource;
}

/**
 * Options of `agent.runScript()`: run your own fastai script, unmodified; every Learner it builds streams
 * its events.
 *
 * @example
 * ```ts
 * const { dataset } = await agent.datasets.upload('./my-project', { name: 'my-project' });
 * const job = await agent.runScript({ workspace: { datasetId: dataset.id }, entrypoint: 'train.py', args: ['--epochs', '3'] });
 * ```
 */
export interface ScriptOptions extends ScriptTaskOptions, JobOptions {}

/**
 * Options of `agent.predict()` without the common job options.
 *
 * @example
 * ```ts
 * const task: PredictTaskOptions = { model: 'job_01JD3', inputs: { datasetId } };
 * ```
 */
export interface PredictTaskOptions {
  /** The succeeded job whose exported model to use: its id, or its id and the artifact name. */
  model: string | { jobId: string; artifact?: string };
  /** The inputs. */
  inputs: DataSource;
  /** Paths inside `inputs` to label. @default every file */
  inputPaths?: string[];
  /** Classes to report per input. @default jobSpecDefaults.predict.topK */
  topK?: number;
}

/**
 * Options of `agent.predict()`: label inputs with a finished job's exported model.
 *
 * @example
 * ```ts
 * const job = await agent.predict({ model: trained.id, inputs: { datasetId: images.id }, topK: 1 });
 * const { predictions } = await job.wait();
 * ```
 */
export interface PredictOptions extends PredictTaskOptions, JobOptions {}

/**
 * What a job runs, as {@link JobInfo.task} reports it: the task's `type` and the options it was
 * submitted with (options left to the agent's defaults are absent). `'unknown'` stands for a task
 * this SDK version does not know.
 *
 * @example
 * ```ts
 * const info = await job.refresh();
 * if (info.task.type === 'vision') console.log(info.task.arch, info.task.epochs);
 * ```
 */
export type JobTask =
  | ({ type: 'vision' } & VisionTaskOptions)
  | ({ type: 'tabular' } & TabularTaskOptions)
  | ({ type: 'lrFind' } & LrFindTaskOptions)
  | ({ type: 'script' } & ScriptTaskOptions)
  | ({ type: 'predict' } & PredictTaskOptions)
  | { type: 'unknown' };

/**
 * Splits a full builder option object into the task's own options and the common job options.
 * @internal
 */
export function splitJobOptions<T extends JobOptions>(
  options: T,
): { task: DistributiveOmit<T, keyof JobOptions>; job: JobOptions } {
  const { name, tags, gpus, maxDurationMs, stallWarningMs, checkpoint, idempotencyKey, ...task } = options;
  return {
    task: task as DistributiveOmit<T, keyof JobOptions>,
    job: { name, tags, gpus, maxDurationMs, stallWarningMs, checkpoint, idempotencyKey },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
