// What a job reports as it runs: log lines, epoch metrics, the results of its task, and why it failed.
import type { StatsSample } from './stats.js';

/**
 * Which output a log line came from: the worker's stdout/stderr, or a note by the agent itself.
 *
 * @example
 * ```ts
 * import type { LogStream } from '@gpulink/sdk';
 * const colour: Record<LogStream, string> = { stdout: 'white', stderr: 'red', agent: 'gray' };
 * ```
 */
export type LogStream = 'stdout' | 'stderr' | 'agent';

/**
 * One line of output, without its newline.
 *
 * @example
 * ```ts
 * const print = (l: LogLine) => (l.stream === 'stderr' ? console.error : console.log)(l.text);
 * ```
 */
export interface LogLine {
  /** Where it came from. */
  stream: LogStream;
  /** The text. */
  text: string;
}

/**
 * CUDA memory as torch's caching allocator saw it in the worker.
 *
 * @example
 * ```ts
 * if (e.type === 'epochEnded' && e.cudaMemory) console.log(e.cudaMemory.peakAllocatedBytes);
 * ```
 */
export interface CudaMemory {
  /** torch.cuda.memory_allocated(), bytes. */
  allocatedBytes: number;
  /** torch.cuda.memory_reserved(), bytes. */
  reservedBytes: number;
  /** torch.cuda.max_memory_allocated() since the job began, bytes. */
  peakAllocatedBytes: number;
}

/**
 * The losses and metrics of one finished epoch.
 *
 * @example
 * ```ts
 * const summary = await job.wait();
 * for (const e of summary.epochs) console.log(e.epoch, e.trainLoss, e.validLoss, e.metrics.accuracy);
 * ```
 */
export interface EpochMetrics {
  /** Which fit of the job (fine_tune runs two: 0 frozen, 1 unfrozen). */
  fitIndex: number;
  /** 0-based epoch within the fit. */
  epoch: number;
  /** Epochs in the fit. */
  epochs: number;
  /** Mean training loss; undefined when the epoch did not train. */
  trainLoss: number | undefined;
  /** Validation loss; undefined without a validation set. */
  validLoss: number | undefined;
  /** Metrics by name, in the order fastai reports them, e.g. `{ accuracy: 0.97 }`. */
  metrics: Record<string, number>;
  /** Wall time of the epoch, milliseconds. */
  durationMs: number;
  /** CUDA memory at the end of the epoch; undefined on the CPU. */
  cudaMemory: CudaMemory | undefined;
  /** Epochs the whole job has completed, counting every fit. */
  completedEpochs: number;
}

/**
 * One learning rate the finder suggests, by fastai's method name ("valley", "slide", "minimum", "steep").
 *
 * @example
 * ```ts
 * const valley = result.suggestions.find((s) => s.method === 'valley')?.lr;
 * ```
 */
export interface LrSuggestion {
  /** fastai's suggestion function. */
  method: string;
  /** The suggested learning rate. */
  lr: number;
}

/**
 * The learning-rate finder's curve.
 *
 * @example
 * ```ts
 * const { lrFind } = await (await agent.lrFind({ vision: { data: { datasetId } } })).wait();
 * console.log(lrFind?.suggestions);
 * ```
 */
export interface LrFindResult {
  /** Learning rates tried, in order. */
  lrs: number[];
  /** Smoothed loss at each learning rate. */
  losses: number[];
  /** Suggested learning rates. */
  suggestions: LrSuggestion[];
}

/**
 * A frequent mistake of a classifier.
 *
 * @example
 * ```ts
 * for (const m of interpretation.mostConfused) console.log(`${m.actual} -> ${m.predicted}: ${m.count}`);
 * ```
 */
export interface ConfusedPair {
  /** The true class. */
  actual: string;
  /** What the model said. */
  predicted: string;
  /** How many validation items had this mistake. */
  count: number;
}

/**
 * How a classifier did on its validation set.
 *
 * @example
 * ```ts
 * const { interpretation } = await job.wait();
 * console.table(interpretation?.confusionMatrix);
 * ```
 */
export interface Interpretation {
  /** Class names, in confusion-matrix order. */
  classes: string[];
  /** `confusionMatrix[actual][predicted]` counts, one row per class. */
  confusionMatrix: number[][];
  /** The most frequent mistakes, largest first. */
  mostConfused: ConfusedPair[];
}

/**
 * The model's answer for one input of a predict job.
 *
 * @example
 * ```ts
 * const { predictions } = await (await agent.predict({ model: trainJob.id, inputs: { datasetId } })).wait();
 * for (const p of predictions ?? []) console.log(p.input, p.label, p.probability);
 * ```
 */
export interface Prediction {
  /** The input's path within the inputs dataset. */
  input: string;
  /** The decoded label (for a regressor, the value as text). */
  label: string;
  /** Probability of that label (0 for a regressor). */
  probability: number;
  /** The most likely classes, most likely first. */
  top: { label: string; probability: number }[];
}

/**
 * Why a job failed, as the agent's worker saw it.
 *
 * @example
 * ```ts
 * import type { JobFailureKind } from '@gpulink/sdk';
 * const hint: Partial<Record<JobFailureKind, string>> = { cudaOutOfMemory: 'lower batchSize' };
 * ```
 */
export type JobFailureKind =
  | 'exception'
  | 'cudaOutOfMemory'
  | 'killed'
  | 'timeout'
  | 'workerStart'
  | 'workerExit'
  | 'data'
  | 'unknown';

/**
 * Why a job failed, with what the agent saw just before.
 *
 * @example
 * ```ts
 * for await (const e of job.events()) {
 *   if (e.type === 'error') console.error(e.error.message, e.error.traceback ?? '');
 * }
 * ```
 */
export interface JobFailure {
  /** Category of the failure. */
  kind: JobFailureKind;
  /** One line a person can act on. */
  message: string;
  /** Python exception class, e.g. "RuntimeError". */
  exceptionType: string | undefined;
  /** The Python traceback. */
  traceback: string | undefined;
  /** Signal that killed the worker, e.g. "SIGKILL". */
  signal: string | undefined;
  /** Worker exit code, when it exited by itself. */
  exitCode: number | undefined;
  /** Highest CUDA memory the job allocated, bytes (0 on the CPU). */
  peakCudaMemoryBytes: number;
  /** Stats samples (last 60 s) and log lines (last 200) before the failure, oldest first. */
  postMortem: { stats: StatsSample[]; logs: LogLine[] };
}
