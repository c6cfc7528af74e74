// The one mapping between the task builders' options (job-options.ts, data-source.ts) and the
// generated JobSpec, both ways: toJobSpec sends only what the caller set (the agent applies the
// contract's defaults), fromJobSpec gives back what was set, and jobSpecInfo is what JobInfo shows
// of a job's spec.
import {
  type Job,
  type JobSpec,
  jobSpecDefaults,
  type LrFindTask,
  type PredictTask,
  type ScriptTask,
  type TabularTask,
  type VisionTask,
} from '@gpulink/proto';
import type {
  JobOptions,
  JobTask,
  LrFindTaskOptions,
  PredictTaskOptions,
  ScriptTaskOptions,
  TabularModelOptions,
  TabularProc,
  TabularTaskOptions,
  VisionModelOptions,
  VisionTaskOptions,
} from './job-options.js';
import {
  defined,
  exactlyOne,
  fromDatasetRef,
  fromFitMethod,
  fromLabels,
  fromLearningRate,
  invalid,
  nonEmpty,
  tabularProcs,
  toDatasetRef,
  toFitMethod,
  toLabels,
  toLearningRate,
} from './spec-parts.js';

// toVision and toTabular send only what the caller set: an unset option goes as the field's proto3
// zero value (or unset), which the contract defines as "the agent's default".
function toVision(o: VisionModelOptions & Partial<VisionTaskOptions>, field: string): VisionTask {
  return {
    data: toDatasetRef(o.data, `${field}.data`),
    labels: toLabels(o.labels, `${field}.labels`),
    arch: o.arch ?? '',
    pretrained: o.pretrained,
    imageSize: o.imageSize ?? 0,
    batchSize: o.batchSize ?? 0,
    validPct: o.validPct,
    seed: o.seed,
    epochs: o.epochs,
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
    epochs: t.epochs,
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
    epochs: o.epochs,
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
    epochs: t.epochs,
    lr: fromLearningRate(t.lr),
    fitMethod: fromFitMethod(t.fitMethod) as TabularTaskOptions['fitMethod'],
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
    // 'all' is resolved against the agent before a spec is built (gpuCountFor in submitJob).
    gpuCount: typeof options.gpus === 'number' ? options.gpus : undefined,
    timeoutMs: options.maxDurationMs ?? 0,
    stallWarningMs: options.stallWarningMs ?? 0,
    checkpoint,
    task: specTask,
  };
}

/**
 * The task and job options a JobSpec was built from: the inverse of {@link toJobSpec} for every option
 * given explicitly.
 * @internal
 */
export function fromJobSpec(spec: JobSpec | undefined): { task: JobTask; options: JobOptions } {
  const options: JobOptions = defined({
    name: spec?.name || undefined,
    tags: spec && spec.tags.length > 0 ? spec.tags : undefined,
    gpus: spec?.gpuCount,
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

/**
 * What JobInfo shows of a job's spec: its name, tags, task and job options as submitted, and
 * its checkpoint policy as it runs.
 * @internal
 */
export function jobSpecInfo(spec: Job['spec']): {
  name: string;
  tags: string[];
  task: JobTask;
  gpuCount: number | undefined;
  maxDurationMs: number | undefined;
  checkpoint: { everyEpoch: boolean; keepLast: number } | undefined;
} {
  const { task, options } = fromJobSpec(spec);
  const checkpoint = spec?.checkpoint;
  return {
    name: spec?.name ?? '',
    tags: spec?.tags ?? [],
    task,
    gpuCount: typeof options.gpus === 'number' ? options.gpus : undefined,
    maxDurationMs: options.maxDurationMs,
    checkpoint: checkpoint
      ? {
          everyEpoch: checkpoint.everyEpoch,
          keepLast: checkpoint.keepLast || jobSpecDefaults.checkpointKeepLast,
        }
      : undefined,
  };
}
