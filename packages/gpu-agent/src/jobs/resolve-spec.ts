// A JobSpec with every default filled in from the contract's one statement of them
// (jobSpecDefaults in @gpulink/proto): what the worker runs and what Job.resolved_spec reports.
import {
  type CheckpointPolicy,
  jobSpecDefaults as d,
  defaultFitMethod,
  FitMethod,
  type JobSpec,
  type LrFindTask,
  type PredictTask,
  type TabularTask,
  type VisionTask,
} from '@gpulink/proto';

/**
 * `spec` with every unset field that has a default set to it; the spec itself is not changed.
 * `device` is where the agent placed the job ("cpu" or "cuda"; job-spec.ts): an unset gpu_count
 * is the default on an agent with GPUs, and 0 on the CPU.
 */
export function resolveSpec(spec: JobSpec, device: string): JobSpec {
  const task = spec.task;
  let resolved: JobSpec['task'];
  switch (task?.$case) {
    case 'vision':
      resolved = { $case: 'vision', value: resolveVision(task.value) };
      break;
    case 'tabular':
      resolved = { $case: 'tabular', value: resolveTabular(task.value) };
      break;
    case 'lrFind':
      resolved = { $case: 'lrFind', value: resolveLrFind(task.value) };
      break;
    case 'predict':
      resolved = { $case: 'predict', value: resolvePredict(task.value) };
      break;
    default:
      resolved = task;
  }
  return {
    ...spec,
    gpuCount: spec.gpuCount ?? (device === 'cpu' ? 0 : d.gpuCount),
    checkpoint: spec.checkpoint && resolveCheckpoint(spec.checkpoint),
    task: resolved,
  };
}

const resolveCheckpoint = (c: CheckpointPolicy): CheckpointPolicy => ({
  ...c,
  keepLast: c.keepLast || d.checkpointKeepLast,
});

function resolveVision(t: VisionTask): VisionTask {
  const pretrained = t.pretrained ?? d.vision.pretrained;
  return {
    ...t,
    labels: t.labels ?? { method: { $case: 'folder', value: { trainDir: '', validDir: '' } } },
    arch: t.arch || d.vision.arch,
    pretrained,
    imageSize: t.imageSize || d.vision.imageSize,
    batchSize: t.batchSize || d.fit.batchSize,
    validPct: t.validPct ?? d.fit.validPct,
    seed: t.seed ?? d.fit.seed,
    epochs: t.epochs ?? d.fit.epochs,
    fitMethod: resolveFitMethod(t.fitMethod, defaultFitMethod('vision', pretrained)),
    freezeEpochs: t.freezeEpochs || d.vision.freezeEpochs,
    metrics: t.metrics.length > 0 ? t.metrics : [...d.vision.metrics],
  };
}

function resolveTabular(t: TabularTask): TabularTask {
  const metrics = t.regression ? [] : [...d.tabular.metrics];
  return {
    ...t,
    procs: t.procs.length > 0 ? t.procs : [...d.tabular.procs],
    layers: t.layers.length > 0 ? t.layers : [...d.tabular.layers],
    batchSize: t.batchSize || d.fit.batchSize,
    validPct: t.validPct ?? d.fit.validPct,
    seed: t.seed ?? d.fit.seed,
    epochs: t.epochs ?? d.fit.epochs,
    fitMethod: resolveFitMethod(t.fitMethod, defaultFitMethod('tabular', false)),
    metrics: t.metrics.length > 0 ? t.metrics : metrics,
  };
}

function resolveLrFind(t: LrFindTask): LrFindTask {
  const setup: LrFindTask['setup'] =
    t.setup?.$case === 'vision'
      ? { $case: 'vision', value: resolveVision(t.setup.value) }
      : t.setup?.$case === 'tabular'
        ? { $case: 'tabular', value: resolveTabular(t.setup.value) }
        : undefined;
  return {
    setup,
    startLr: t.startLr || d.lrFind.startLr,
    endLr: t.endLr || d.lrFind.endLr,
    numIterations: t.numIterations || d.lrFind.numIterations,
  };
}

const resolvePredict = (t: PredictTask): PredictTask => ({
  ...t,
  modelArtifact: t.modelArtifact || d.predict.modelArtifact,
  topK: t.topK || d.predict.topK,
});

const resolveFitMethod = (given: FitMethod, fallback: FitMethod): FitMethod =>
  given === FitMethod.FIT_METHOD_UNSPECIFIED ? fallback : given;
