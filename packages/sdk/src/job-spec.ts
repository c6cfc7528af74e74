// The task builders' option types and their one mapping to and from the generated JobSpec. Defaults
// the agent applies (image size, batch size, ...) are documented here with @default but not sent, so
// the agent stays their single source; the SDK fills in only what the contract leaves to the client.
import {
  type DatasetRef,
  FitMethod as FitMethodProto,
  type JobSpec,
  type LearningRate,
  type LrFindTask,
  type PredictTask,
  type ScriptTask,
  TabularProc as TabularProcProto,
  type TabularTask,
  type VisionLabels as VisionLabelsProto,
  type VisionTask,
} from '@gpulink/proto';
import { GpulinkError } from './errors.js';

/** Architecture sent when none is given: small enough for a CPU smoke test, good enough to be useful. */
export const defaultArch = 'resnet18';
/** Epochs sent when none are given; the contract requires at least one. */
export const defaultEpochs = 1;

type Only<T, K extends keyof T> = Pick<T, K> & { [P in Exclude<keyof T, K>]?: never };

interface DataSourceKeys {
  datasetId: string;
  agentPath: string;
  url: string;
  fastaiUrl: string;
}

/**
 * Where a task's files come from: exactly one of an uploaded dataset, a folder on the agent's machine,
 * an archive URL the agent downloads, or a fastai `URLs` name. `subdir` picks a folder inside it.
 *
 * @example
 * ```ts
 * import type { DataSource } from '@gpulink/sdk';
 * const uploaded: DataSource = { datasetId: 'ds_3f2a' };
 * const mnist: DataSource = { fastaiUrl: 'MNIST_SAMPLE' };
 * const pets: DataSource = { fastaiUrl: 'PETS', subdir: 'images' };
 * ```
 */
export type DataSource = (
  | Only<DataSourceKeys, 'datasetId'>
  | Only<DataSourceKeys, 'agentPath'>
  | Only<DataSourceKeys, 'url'>
  | Only<DataSourceKeys, 'fastaiUrl'>
) & {
  /** A folder inside the source to use as the root, e.g. "images". Relative, no "..". */
  subdir?: string;
};

interface LabelKeys {
  folder: FolderLabels;
  fileNameRegex: string;
  csv: CsvLabels;
}

/**
 * Labels from folder names: `root/<label>/<image>`, or `root/train/<label>/...` and `root/valid/<label>/...`.
 *
 * @example
 * ```ts
 * const labels = { folder: { trainDir: 'train', validDir: 'valid' } };
 * ```
 */
export interface FolderLabels {
  /** Folder holding the training images. @default the root (then `validPct` splits off validation) */
  trainDir?: string;
  /** Folder holding the validation images. @default split by `validPct` */
  validDir?: string;
}

/**
 * Labels from a CSV file inside the dataset.
 *
 * @example
 * ```ts
 * const labels = { csv: { path: 'labels.csv', fileColumn: 'name', labelColumn: 'label' } };
 * ```
 */
export interface CsvLabels {
  /** Path of the CSV inside the dataset, e.g. "labels.csv". */
  path: string;
  /** Column of image paths relative to `imageDir`. @default the first column */
  fileColumn?: string;
  /** Column holding the label. @default the second column */
  labelColumn?: string;
  /** Boolean column marking validation rows. @default split by `validPct` */
  validColumn?: string;
  /** Folder the file paths are relative to. @default the dataset root */
  imageDir?: string;
}

/**
 * How images get their labels: parent folder names, a regular expression on the file name whose first
 * group is the label, or a CSV file.
 *
 * @example
 * ```ts
 * import type { VisionLabels } from '@gpulink/sdk';
 * const byFolder: VisionLabels = { folder: {} };
 * const pets: VisionLabels = { fileNameRegex: '^(.*)_\\d+\\.jpg$' };
 * ```
 */
export type VisionLabels =
  | Only<LabelKeys, 'folder'>
  | Only<LabelKeys, 'fileNameRegex'>
  | Only<LabelKeys, 'csv'>;

/**
 * fastai's training schedule: `learn.fine_tune`, `learn.fit_one_cycle` or `learn.fit`.
 *
 * @example
 * ```ts
 * import type { FitMethod } from '@gpulink/sdk';
 * const method: FitMethod = 'fit_one_cycle';
 * ```
 */
export type FitMethod = 'fine_tune' | 'fit_one_cycle' | 'fit';

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
 * const options = { name: 'digits', tags: ['sweep-3'], gpuCount: 1, checkpoint: true };
 * ```
 */
export interface JobOptions {
  /** A short name for lists, e.g. "digits-resnet18". */
  name?: string;
  /** Free labels for filtering, e.g. `['sweep-3']`. */
  tags?: string[];
  /** GPUs the job needs; 0 runs it on the CPU. @default one GPU when the agent has one, else the CPU */
  gpuCount?: number;
  /** Fail the job when it runs longer than this, milliseconds. @default no limit */
  maxDurationMs?: number;
  /** Warn when no batch progress is seen for this long, milliseconds. @default 120000 */
  stallWarningMs?: number;
  /**
   * Save checkpoints so an interrupted job can be resumed: `true` saves after every epoch and keeps the
   * newest one. @default no checkpoints
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
  /** How images get their labels. @default `{ folder: {} }` */
  labels?: VisionLabels;
  /** A torchvision name ("resnet18", "resnet34", ...) or a timm name when timm is installed. @default 'resnet18' */
  arch?: string;
  /** Start from ImageNet weights. @default true */
  pretrained?: boolean;
  /** Images are resized to this many pixels square. @default 224 */
  imageSize?: number;
  /** Items per batch. @default 64 */
  batchSize?: number;
  /** Fraction held out for validation when the labels do not say, 0 < validPct < 1. @default 0.2 */
  validPct?: number;
  /** Random seed for the split and initialisation. @default 42 */
  seed?: number;
  /** fastai metric names: "accuracy", "error_rate", "top_k_accuracy", "f1_score", ... @default ['accuracy'] */
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
  /** Epochs to train (for fine_tune, the epochs after the frozen ones). @default 1 */
  epochs?: number;
  /** A learning rate, or `'find'` to run the finder first and use its "valley" suggestion. @default fastai's default */
  lr?: number | 'find';
  /** The training schedule. @default 'fine_tune' for a pretrained vision model, 'fit_one_cycle' otherwise */
  fitMethod?: M;
}

/**
 * Options of `agent.train.vision()` without the common job options.
 *
 * @example
 * ```ts
 * const task: VisionTaskOptions = { data: { datasetId }, epochs: 2, freezeEpochs: 1 };
 * ```
 */
export interface VisionTaskOptions extends VisionModelOptions, FitOptions {
  /** fine_tune only: epochs with the body frozen. @default 1 */
  freezeEpochs?: number;
}

/**
 * Options of `agent.train.vision()`: train an image classifier.
 *
 * @example
 * ```ts
 * const job = await agent.train.vision({
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
  /** Preprocessing. @default ['categorify', 'fillMissing', 'normalize'] */
  procs?: TabularProc[];
  /** Sizes of the hidden layers. @default [200, 100] */
  layers?: number[];
  /** Rows per batch. @default 64 */
  batchSize?: number;
  /** Fraction of rows held out for validation. @default 0.2 */
  validPct?: number;
  /** Random seed. @default 42 */
  seed?: number;
  /** fastai metric names. @default ['accuracy'] for classification, none for regression */
  metrics?: string[];
  /** Regress the target as a number instead of classifying it. @default false */
  regression?: boolean;
}

/**
 * Options of `agent.train.tabular()` without the common job options.
 *
 * @example
 * ```ts
 * const task: TabularTaskOptions = { data: { datasetId }, csvPath: 'adult.csv', target: 'salary', epochs: 3 };
 * ```
 */
export interface TabularTaskOptions extends TabularModelOptions, FitOptions<'fit_one_cycle' | 'fit'> {}

/**
 * Options of `agent.train.tabular()`: train a model on a CSV table.
 *
 * @example
 * ```ts
 * const job = await agent.train.tabular({
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
  /** Lowest learning rate tried. @default 1e-7 */
  startLr?: number;
  /** Highest learning rate tried. @default 10 */
  endLr?: number;
  /** Batches to try. @default 100 */
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
  /** Classes to report per input. @default 3 */
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

function invalid(field: string, problem: string): GpulinkError {
  return new GpulinkError('INVALID_ARGUMENT', `${field}: ${problem}`);
}

function exactlyOne<K extends string>(value: object | undefined, keys: readonly K[], field: string): K {
  if (typeof value !== 'object' || value === null) {
    throw invalid(field, `expected an object with one of ${keys.join(', ')}`);
  }
  const present = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
  const [only] = present;
  if (present.length !== 1 || only === undefined) {
    throw invalid(
      field,
      present.length === 0 ? `expected one of ${keys.join(', ')}` : `give only one of ${present.join(', ')}`,
    );
  }
  return only;
}

const sourceKeys = ['datasetId', 'agentPath', 'url', 'fastaiUrl'] as const;

function toDatasetRef(source: DataSource, field: string): DatasetRef {
  const key = exactlyOne(source, sourceKeys, field);
  const value = source[key];
  if (typeof value !== 'string' || value === '')
    throw invalid(`${field}.${key}`, 'expected a non-empty string');
  return { source: { $case: key, value }, subdir: source.subdir ?? '' };
}

function fromDatasetRef(ref: DatasetRef | undefined): DataSource {
  const subdir = ref?.subdir ? { subdir: ref.subdir } : {};
  switch (ref?.source?.$case) {
    case 'datasetId':
      return { datasetId: ref.source.value, ...subdir };
    case 'agentPath':
      return { agentPath: ref.source.value, ...subdir };
    case 'url':
      return { url: ref.source.value, ...subdir };
    case 'fastaiUrl':
      return { fastaiUrl: ref.source.value, ...subdir };
    default:
      // A ref from a newer agent with a source this SDK does not know: an empty agent path reads
      // truthfully as "not a source we can name" without inventing one.
      return { agentPath: '', ...subdir };
  }
}

function toLearningRate(lr: number | 'find' | undefined, field: string): LearningRate | undefined {
  if (lr === undefined) return undefined;
  if (lr === 'find') return { value: { $case: 'find', value: true } };
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) {
    throw invalid(field, `expected a positive number or 'find', got ${String(lr)}`);
  }
  return { value: { $case: 'fixed', value: lr } };
}

function fromLearningRate(lr: LearningRate | undefined): number | 'find' | undefined {
  if (lr?.value?.$case === 'fixed') return lr.value.value;
  if (lr?.value?.$case === 'find') return 'find';
  return undefined;
}

const fitMethods: Record<FitMethod, FitMethodProto> = {
  fine_tune: FitMethodProto.FIT_METHOD_FINE_TUNE,
  fit_one_cycle: FitMethodProto.FIT_METHOD_FIT_ONE_CYCLE,
  fit: FitMethodProto.FIT_METHOD_FIT,
};

function toFitMethod(method: FitMethod | undefined, field: string): FitMethodProto {
  if (method === undefined) return FitMethodProto.FIT_METHOD_UNSPECIFIED;
  const value = fitMethods[method];
  if (value === undefined) throw invalid(field, `expected one of ${Object.keys(fitMethods).join(', ')}`);
  return value;
}

function fromFitMethod(method: FitMethodProto): FitMethod | undefined {
  return (Object.keys(fitMethods) as FitMethod[]).find((k) => fitMethods[k] === method);
}

const tabularProcs: Record<TabularProc, TabularProcProto> = {
  categorify: TabularProcProto.TABULAR_PROC_CATEGORIFY,
  fillMissing: TabularProcProto.TABULAR_PROC_FILL_MISSING,
  normalize: TabularProcProto.TABULAR_PROC_NORMALIZE,
};

function toLabels(labels: VisionLabels | undefined, field: string): VisionLabelsProto {
  if (labels === undefined) return { method: { $case: 'folder', value: { trainDir: '', validDir: '' } } };
  const key = exactlyOne(labels, ['folder', 'fileNameRegex', 'csv'] as const, field);
  if (key === 'folder') {
    const f = labels.folder ?? {};
    return { method: { $case: 'folder', value: { trainDir: f.trainDir ?? '', validDir: f.validDir ?? '' } } };
  }
  if (key === 'fileNameRegex') {
    return { method: { $case: 'fileNameRegex', value: { pattern: labels.fileNameRegex ?? '' } } };
  }
  const c = labels.csv;
  if (!c?.path) throw invalid(`${field}.csv.path`, 'expected the CSV file inside the dataset');
  return {
    method: {
      $case: 'csv',
      value: {
        csvPath: c.path,
        fileColumn: c.fileColumn ?? '',
        labelColumn: c.labelColumn ?? '',
        validColumn: c.validColumn ?? '',
        imageDir: c.imageDir ?? '',
      },
    },
  };
}

function fromLabels(labels: VisionLabelsProto | undefined): VisionLabels | undefined {
  const m = labels?.method;
  if (m?.$case === 'folder') {
    return {
      folder: defined({ trainDir: m.value.trainDir || undefined, validDir: m.value.validDir || undefined }),
    };
  }
  if (m?.$case === 'fileNameRegex') return { fileNameRegex: m.value.pattern };
  if (m?.$case === 'csv') {
    return {
      csv: defined({
        path: m.value.csvPath,
        fileColumn: m.value.fileColumn || undefined,
        labelColumn: m.value.labelColumn || undefined,
        validColumn: m.value.validColumn || undefined,
        imageDir: m.value.imageDir || undefined,
      }),
    };
  }
  return undefined;
}

/** Drops keys whose value is undefined, so reverse-mapped options compare equal to what was given. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

function toVision(o: VisionModelOptions & Partial<VisionTaskOptions>, field: string): VisionTask {
  return {
    data: toDatasetRef(o.data, `${field}.data`),
    labels: toLabels(o.labels, `${field}.labels`),
    arch: o.arch ?? defaultArch,
    pretrained: o.pretrained,
    imageSize: o.imageSize ?? 0,
    batchSize: o.batchSize ?? 0,
    validPct: o.validPct,
    seed: o.seed,
    epochs: o.epochs ?? defaultEpochs,
    lr: toLearningRate(o.lr, `${field}.lr`),
    fitMethod: toFitMethod(o.fitMethod, `${field}.fitMethod`),
    freezeEpochs: o.freezeEpochs ?? 0,
    metrics: o.metrics ?? [],
    fp16: o.fp16 ?? false,
  };
}

function fromVision(t: VisionTask): VisionTaskOptions {
  return defined({
    data: fromDatasetRef(t.data),
    labels: fromLabels(t.labels),
    arch: t.arch || undefined,
    pretrained: t.pretrained,
    imageSize: t.imageSize || undefined,
    batchSize: t.batchSize || undefined,
    validPct: t.validPct,
    seed: t.seed,
    epochs: t.epochs || undefined,
    lr: fromLearningRate(t.lr),
    fitMethod: fromFitMethod(t.fitMethod),
    freezeEpochs: t.freezeEpochs || undefined,
    metrics: nonEmpty(t.metrics),
    fp16: t.fp16 || undefined,
  });
}

function toTabular(o: TabularModelOptions & Partial<TabularTaskOptions>, field: string): TabularTask {
  if (!o.csvPath) throw invalid(`${field}.csvPath`, 'expected the CSV file inside the dataset');
  if (!o.target) throw invalid(`${field}.target`, 'expected the column to predict');
  if (o.fitMethod === ('fine_tune' as string)) {
    throw invalid(`${field}.fitMethod`, "fine_tune needs a pretrained model; use 'fit_one_cycle' or 'fit'");
  }
  return {
    data: toDatasetRef(o.data, `${field}.data`),
    csvPath: o.csvPath,
    target: o.target,
    categoricalColumns: o.categoricalColumns ?? [],
    continuousColumns: o.continuousColumns ?? [],
    procs: (o.procs ?? []).map((p, i) => {
      const proc = tabularProcs[p];
      if (proc === undefined) {
        throw invalid(`${field}.procs[${i}]`, `expected one of ${Object.keys(tabularProcs).join(', ')}`);
      }
      return proc;
    }),
    layers: o.layers ?? [],
    batchSize: o.batchSize ?? 0,
    validPct: o.validPct,
    seed: o.seed,
    epochs: o.epochs ?? defaultEpochs,
    lr: toLearningRate(o.lr, `${field}.lr`),
    fitMethod: toFitMethod(o.fitMethod, `${field}.fitMethod`),
    metrics: o.metrics ?? [],
    regression: o.regression ?? false,
  };
}

function fromTabular(t: TabularTask): TabularTaskOptions {
  const procNames = t.procs
    .map((p) => (Object.keys(tabularProcs) as TabularProc[]).find((k) => tabularProcs[k] === p))
    .filter((p): p is TabularProc => p !== undefined);
  return defined({
    data: fromDatasetRef(t.data),
    csvPath: t.csvPath,
    target: t.target,
    categoricalColumns: nonEmpty(t.categoricalColumns),
    continuousColumns: nonEmpty(t.continuousColumns),
    procs: nonEmpty(procNames),
    layers: nonEmpty(t.layers),
    batchSize: t.batchSize || undefined,
    validPct: t.validPct,
    seed: t.seed,
    epochs: t.epochs || undefined,
    lr: fromLearningRate(t.lr),
    fitMethod: fromFitMethod(t.fitMethod) as 'fit_one_cycle' | 'fit' | undefined,
    metrics: nonEmpty(t.metrics),
    regression: t.regression || undefined,
  });
}

function toLrFind(o: LrFindTaskOptions): LrFindTask {
  const key = exactlyOne(o, ['vision', 'tabular'] as const, 'lrFind');
  const setup: LrFindTask['setup'] =
    key === 'vision' && o.vision
      ? { $case: 'vision', value: toVision(o.vision, 'lrFind.vision') }
      : { $case: 'tabular', value: toTabular(o.tabular as TabularModelOptions, 'lrFind.tabular') };
  return { setup, startLr: o.startLr ?? 0, endLr: o.endLr ?? 0, numIterations: o.iterations ?? 0 };
}

/** Strips the fit fields the finder ignores, so the reverse mapping shows only what matters. */
function modelOnly<T extends object>(options: T): T {
  const { epochs: _e, lr: _l, fitMethod: _f, freezeEpochs: _z, ...rest } = options as T & VisionTaskOptions;
  return rest as T;
}

function fromLrFind(t: LrFindTask): LrFindTaskOptions {
  const tuning = defined({
    startLr: t.startLr || undefined,
    endLr: t.endLr || undefined,
    iterations: t.numIterations || undefined,
  });
  if (t.setup?.$case === 'tabular') return { tabular: modelOnly(fromTabular(t.setup.value)), ...tuning };
  const vision = t.setup?.$case === 'vision' ? t.setup.value : undefined;
  return { vision: modelOnly(vision ? fromVision(vision) : { data: fromDatasetRef(undefined) }), ...tuning };
}

function toScript(o: ScriptTaskOptions): ScriptTask {
  if (!o.entrypoint) throw invalid('runScript.entrypoint', "expected the script's path inside the workspace");
  return {
    workspace: toDatasetRef(o.workspace, 'runScript.workspace'),
    entrypoint: o.entrypoint,
    args: o.args ?? [],
    env: { ...(o.env ?? {}) },
    data: o.data === undefined ? undefined : toDatasetRef(o.data, 'runScript.data'),
  };
}

function fromScript(t: ScriptTask): ScriptTaskOptions {
  return defined({
    workspace: fromDatasetRef(t.workspace),
    entrypoint: t.entrypoint,
    args: nonEmpty(t.args),
    env: Object.keys(t.env).length > 0 ? t.env : undefined,
    data: t.data ? fromDatasetRef(t.data) : undefined,
  });
}

function toPredict(o: PredictTaskOptions): PredictTask {
  const model = typeof o.model === 'string' ? { jobId: o.model } : o.model;
  if (!model?.jobId) throw invalid('predict.model', 'expected the id of a succeeded training job');
  return {
    modelJobId: model.jobId,
    modelArtifact: model.artifact ?? '',
    inputs: toDatasetRef(o.inputs, 'predict.inputs'),
    inputPaths: o.inputPaths ?? [],
    topK: o.topK ?? 0,
  };
}

function fromPredict(t: PredictTask): PredictTaskOptions {
  return defined({
    model: t.modelArtifact ? { jobId: t.modelJobId, artifact: t.modelArtifact } : t.modelJobId,
    inputs: fromDatasetRef(t.inputs),
    inputPaths: nonEmpty(t.inputPaths),
    topK: t.topK || undefined,
  });
}

/**
 * Maps a task and the common job options to the generated JobSpec; the SDK's only path to the wire.
 * Throws an INVALID_ARGUMENT {@link GpulinkError} for options that cannot be expressed (two data sources,
 * a non-positive learning rate, ...); the agent checks the rest.
 * @internal
 */
export function toJobSpec(task: Exclude<JobTask, { type: 'unknown' }>, options: JobOptions): JobSpec {
  const checkpoint =
    options.checkpoint === undefined || options.checkpoint === false
      ? undefined
      : options.checkpoint === true
        ? { everyEpoch: true, keepLast: 0 }
        : { everyEpoch: options.checkpoint.everyEpoch ?? true, keepLast: options.checkpoint.keepLast ?? 0 };
  let specTask: JobSpec['task'];
  switch (task.type) {
    case 'vision':
      specTask = { $case: 'vision', value: toVision(task, 'vision') };
      break;
    case 'tabular':
      specTask = { $case: 'tabular', value: toTabular(task, 'tabular') };
      break;
    case 'lrFind':
      specTask = { $case: 'lrFind', value: toLrFind(task) };
      break;
    case 'script':
      specTask = { $case: 'script', value: toScript(task) };
      break;
    case 'predict':
      specTask = { $case: 'predict', value: toPredict(task) };
      break;
  }
  return {
    name: options.name ?? '',
    tags: options.tags ?? [],
    gpuCount: options.gpuCount,
    timeoutMs: options.maxDurationMs ?? 0,
    stallWarningMs: options.stallWarningMs ?? 0,
    checkpoint,
    task: specTask,
  };
}

/**
 * Splits a full builder option object into the task's own options and the common job options.
 * @internal
 */
export function splitJobOptions<T extends JobOptions>(
  options: T,
): { task: DistributiveOmit<T, keyof JobOptions>; job: JobOptions } {
  const { name, tags, gpuCount, maxDurationMs, stallWarningMs, checkpoint, idempotencyKey, ...task } =
    options;
  return {
    task: task as DistributiveOmit<T, keyof JobOptions>,
    job: { name, tags, gpuCount, maxDurationMs, stallWarningMs, checkpoint, idempotencyKey },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The task and job options a JobSpec was built from: the inverse of {@link toJobSpec} for every option
 * given explicitly.
 * @internal
 */
export function fromJobSpec(spec: JobSpec | undefined): { task: JobTask; options: JobOptions } {
  const options: JobOptions = defined({
    name: spec?.name || undefined,
    tags: spec && spec.tags.length > 0 ? spec.tags : undefined,
    gpuCount: spec?.gpuCount,
    maxDurationMs: spec?.timeoutMs || undefined,
    stallWarningMs: spec?.stallWarningMs || undefined,
    checkpoint: spec?.checkpoint
      ? defined({ everyEpoch: spec.checkpoint.everyEpoch, keepLast: spec.checkpoint.keepLast || undefined })
      : undefined,
  });
  const t = spec?.task;
  switch (t?.$case) {
    case 'vision':
      return { task: { type: 'vision', ...fromVision(t.value) }, options };
    case 'tabular':
      return { task: { type: 'tabular', ...fromTabular(t.value) }, options };
    case 'lrFind':
      return { task: { type: 'lrFind', ...fromLrFind(t.value) }, options };
    case 'script':
      return { task: { type: 'script', ...fromScript(t.value) }, options };
    case 'predict':
      return { task: { type: 'predict', ...fromPredict(t.value) }, options };
    default:
      return { task: { type: 'unknown' }, options };
  }
}
