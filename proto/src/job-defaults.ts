// What an unset JobSpec field means, stated once in code (job.proto's comments say the same in
// words). The agent fills these in before a job reaches its worker (Job.resolved_spec); the SDK and
// the CLI show them in their docs and --help but never send them, and the worker restates none.
import { FitMethod, TabularProc } from './gen/gpulink/v1/job.js';

/** The defaults of a JobSpec, grouped by the message whose fields they fill. */
export const jobSpecDefaults = {
  /** JobSpec.gpu_count on an agent that has a GPU (on one that has none, unset is the CPU). */
  gpuCount: 1,
  /** JobSpec.stall_warning_ms, and the agent's own default for it. */
  stallWarningMs: 120_000,
  /** CheckpointPolicy.keep_last. */
  checkpointKeepLast: 1,
  /** Fields VisionTask and TabularTask share. */
  fit: { epochs: 1, batchSize: 64, validPct: 0.2, seed: 42 },
  /** VisionTask. */
  vision: {
    arch: 'resnet18',
    pretrained: true,
    imageSize: 224,
    freezeEpochs: 1,
    metrics: ['accuracy'],
  },
  /** TabularTask; `metrics` is for classification (a regression has none). */
  tabular: {
    layers: [200, 100],
    procs: [
      TabularProc.TABULAR_PROC_CATEGORIFY,
      TabularProc.TABULAR_PROC_FILL_MISSING,
      TabularProc.TABULAR_PROC_NORMALIZE,
    ],
    metrics: ['accuracy'],
  },
  /** LrFindTask. */
  lrFind: { startLr: 1e-7, endLr: 10, numIterations: 100 },
  /** PredictTask. */
  predict: { modelArtifact: 'export.pkl', topK: 3 },
} as const;

/** The schedule of a fit whose fit_method is unset: fine_tune for a pretrained vision model. */
export function defaultFitMethod(task: 'vision' | 'tabular', pretrained: boolean): FitMethod {
  return task === 'vision' && pretrained
    ? FitMethod.FIT_METHOD_FINE_TUNE
    : FitMethod.FIT_METHOD_FIT_ONE_CYCLE;
}

/**
 * The members of a generated enum by their short names: the name less its prefix and lower-cased,
 * `FIT_METHOD_FIT_ONE_CYCLE` -> `fit_one_cycle`. UNSPECIFIED and UNRECOGNIZED are not members.
 */
export function enumMembers<E extends Record<string, string | number>, P extends string>(
  values: E,
  prefix: P,
): ReadonlyMap<EnumMemberName<keyof E, P>, E[keyof E]> {
  const members = new Map<EnumMemberName<keyof E, P>, E[keyof E]>();
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== 'number' || !key.startsWith(prefix) || key === `${prefix}UNSPECIFIED`) continue;
    members.set(key.slice(prefix.length).toLowerCase() as EnumMemberName<keyof E, P>, value as E[keyof E]);
  }
  return members;
}

/** `EnumMemberName<'FIT_METHOD_FIT' | 'FIT_METHOD_UNSPECIFIED', 'FIT_METHOD_'>` is `'fit'`. */
export type EnumMemberName<K, P extends string> = K extends `${P}${infer Rest}`
  ? Rest extends 'UNSPECIFIED'
    ? never
    : Lowercase<Rest>
  : never;
