// The SDK's own view of the wire types: plain data with string literals instead of enums, `undefined`
// instead of empty strings, units in field names, and no grpc-js or generated classes. The CLI renders
// only these, so each carries everything the agent sends.
import type { JobTask } from './job-options.js';

/**
 * Where a job is in its life. `'succeeded'`, `'failed'`, `'cancelled'` and `'interrupted'` are terminal;
 * an interrupted job (the agent stopped while it ran) can be resumed.
 *
 * @example
 * ```ts
 * import type { JobState } from '@gpulink/sdk';
 * const done: JobState[] = ['succeeded', 'failed', 'cancelled', 'interrupted'];
 * ```
 */
export type JobState =
  | 'queued'
  | 'starting'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'interrupted';

/**
 * True for the states a job does not leave by itself.
 *
 * @example
 * ```ts
 * import { isTerminalState } from '@gpulink/sdk';
 * const info = await job.refresh();
 * if (isTerminalState(info.state)) console.log('finished');
 * ```
 */
export function isTerminalState(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled' || state === 'interrupted';
}

/**
 * A GPU the agent can schedule jobs on.
 *
 * @example
 * ```ts
 * const [gpu] = (await agent.getInfo()).gpus;
 * if (gpu) console.log(`${gpu.name}: ${gpu.memoryTotalBytes / 2 ** 30} GiB`);
 * ```
 */
export interface GpuDevice {
  /** The driver's index of the GPU. */
  index: number;
  /** Marketing name, e.g. "Tesla T4". */
  name: string;
  /** Stable identifier of the board, e.g. "GPU-5f2c...". */
  uuid: string;
  /** Total framebuffer memory, bytes. */
  memoryTotalBytes: number;
  /** CUDA compute capability, e.g. "7.5"; undefined when unknown. */
  computeCapability: string | undefined;
}

/**
 * The agent and the training environment it drives, as `GetInfo` reports it. Version fields are
 * undefined when the component is missing (e.g. `cudaVersion` on a CPU-only torch).
 *
 * @example
 * ```ts
 * const info = await agent.getInfo();
 * console.log(`${info.hostname}: fastai ${info.fastaiVersion ?? 'missing'}, ${info.gpus.length} GPU(s)`);
 * ```
 */
export interface AgentInfo {
  /** The agent's package version, e.g. "0.1.0". */
  agentVersion: string;
  /** Revision of the gpulink.v1 contract the agent speaks. */
  protocolRevision: number;
  /** Feature names the agent supports, e.g. "task.vision", "tunnel.wss". */
  capabilities: string[];
  /** Host name of the agent's machine. */
  hostname: string;
  /** Operating system and CPU architecture, e.g. "linux-x64". */
  platform: string;
  /** When the agent process started. */
  startedAt: Date | undefined;
  /** The Python interpreter jobs run in (absolute path). */
  pythonExecutable: string;
  /** Python version, e.g. "3.11.7". */
  pythonVersion: string | undefined;
  /** torch version, e.g. "2.11.0+cu128". */
  torchVersion: string | undefined;
  /** fastai version, e.g. "2.8.8". */
  fastaiVersion: string | undefined;
  /** CUDA runtime torch was built with, e.g. "12.8". */
  cudaVersion: string | undefined;
  /** cuDNN version as torch reports it, e.g. "91002". */
  cudnnVersion: string | undefined;
  /** torch.cuda.is_available(). */
  cudaAvailable: boolean;
  /** cuDNN is enabled and available. */
  cudnnEnabled: boolean;
  /** GPUs jobs can use; empty without one. */
  gpus: GpuDevice[];
  /** Why the Python environment could not be inspected, when it could not. */
  environmentError: string | undefined;
}

/**
 * Outcome of one doctor check: fine, degraded, or blocking.
 *
 * @example
 * ```ts
 * import type { CheckStatus } from '@gpulink/sdk';
 * const icon: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗' };
 * ```
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/**
 * One check of the doctor report, e.g. "fastai is importable".
 *
 * @example
 * ```ts
 * const report = await agent.checkEnvironment();
 * for (const c of report.checks) console.log(c.status, c.title, c.fixHint ?? '');
 * ```
 */
export interface EnvironmentCheck {
  /** Stable machine name, e.g. "python.fastai". */
  id: string;
  /** What was checked, in words. */
  title: string;
  /** Its outcome. */
  status: CheckStatus;
  /** What was found, e.g. "fastai 2.8.8". */
  detail: string;
  /** What to do when the status is not ok. */
  fixHint: string | undefined;
}

/**
 * The agent's doctor report.
 *
 * @example
 * ```ts
 * const report = await agent.checkEnvironment();
 * if (report.overall === 'fail') process.exitCode = 1;
 * ```
 */
export interface EnvironmentReport {
  /** The worst status among the checks. */
  overall: CheckStatus;
  /** Each check, in reading order. */
  checks: EnvironmentCheck[];
}

/**
 * One GPU at one instant. Readings the driver does not support are undefined, never zero.
 *
 * @example
 * ```ts
 * for await (const s of agent.stats()) for (const g of s.gpus) console.log(g.utilizationGpuPercent);
 * ```
 */
export interface GpuStats {
  /** The driver's index of the GPU. */
  index: number;
  /** Stable identifier of the board; use it to match GPUs across samples. */
  uuid: string;
  /** Marketing name, e.g. "Tesla T4". */
  name: string;
  /** Total framebuffer memory, bytes. */
  memoryTotalBytes: number;
  /** Framebuffer memory in use by all processes, bytes. */
  memoryUsedBytes: number;
  /** Framebuffer memory free, bytes. */
  memoryFreeBytes: number;
  /** Percent of the last period a kernel ran, 0-100. */
  utilizationGpuPercent: number | undefined;
  /** Percent of the last period memory was read or written, 0-100. */
  utilizationMemoryPercent: number | undefined;
  /** Core temperature, degrees Celsius. */
  temperatureCelsius: number | undefined;
  /** Power drawn by the board, watts. */
  powerDrawWatts: number | undefined;
  /** Power cap enforced by the driver, watts. */
  powerLimitWatts: number | undefined;
  /** Streaming-multiprocessor clock, MHz. */
  clockSmMhz: number | undefined;
  /** Memory clock, MHz. */
  clockMemoryMhz: number | undefined;
}

/**
 * The agent's host at one instant.
 *
 * @example
 * ```ts
 * const free = (s: StatsSample) => s.host.memoryAvailableBytes / s.host.memoryTotalBytes;
 * ```
 */
export interface HostStats {
  /** Physical memory, bytes. */
  memoryTotalBytes: number;
  /** Memory available without swapping, bytes. */
  memoryAvailableBytes: number;
  /** CPU use across all cores since the previous sample, 0-100. */
  cpuPercent: number;
  /** Logical CPUs. */
  cpuCount: number;
}

/**
 * One running job's worker process tree at one instant.
 *
 * @example
 * ```ts
 * const rss = (s: StatsSample, jobId: string) => s.processes.find((p) => p.jobId === jobId)?.rssBytes;
 * ```
 */
export interface ProcessStats {
  /** The job the worker runs. */
  jobId: string;
  /** Process id of the worker. */
  pid: number;
  /** Resident memory of the worker and its children, bytes. */
  rssBytes: number;
  /** GPU memory held by the worker's processes, bytes. */
  gpuMemoryBytes: number;
}

/**
 * One reading of the agent's machine: every GPU, the host, and the processes of running jobs.
 *
 * @example
 * ```ts
 * for await (const sample of agent.stats({ intervalMs: 500 })) {
 *   console.log(sample.time.toISOString(), sample.gpus.map((g) => g.memoryUsedBytes));
 * }
 * ```
 */
export interface StatsSample {
  /** When the agent took the reading. */
  time: Date;
  /** One entry per GPU; empty on a machine without an NVIDIA GPU. */
  gpus: GpuStats[];
  /** Memory and CPU of the agent's machine. */
  host: HostStats;
  /** Each running job's worker. */
  processes: ProcessStats[];
}

/**
 * A file a job produced (a model export, a checkpoint, predictions).
 *
 * @example
 * ```ts
 * const model = (await job.artifacts.list()).find((a) => a.kind === 'model');
 * ```
 */
export interface ArtifactInfo {
  /** File name, unique within the job, e.g. "export.pkl", "checkpoints/epoch-2.pth". */
  name: string;
  /** Size, bytes. */
  sizeBytes: number;
  /** SHA-256 of the content, lowercase hex. */
  sha256: string;
  /** "model", "checkpoint", "predictions" or "file" (agents may add kinds). */
  kind: string;
  /** When it was written. */
  createdAt: Date | undefined;
}

/**
 * A committed dataset on the agent.
 *
 * @example
 * ```ts
 * for (const d of await agent.datasets.list()) console.log(d.id, d.name, d.fileCount);
 * ```
 */
export interface DatasetInfo {
  /** Content-derived id, e.g. "ds_3f2a..."; pass it as `data: { datasetId }`. */
  id: string;
  /** The name given at upload. */
  name: string;
  /** Number of files. */
  fileCount: number;
  /** Total size of its files, bytes. */
  sizeBytes: number;
  /** When it was first committed. */
  createdAt: Date | undefined;
}

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

/**
 * Fields every {@link JobEvent} carries.
 *
 * @example
 * ```ts
 * const line = (e: JobEventBase) => `#${e.seq} ${e.time.toISOString()} attempt ${e.attempt}`;
 * ```
 */
export interface JobEventBase {
  /** Position in the job's log: dense, from 1. Pass the last one you handled as `afterSeq` to resume. */
  seq: number;
  /** When the agent recorded it. */
  time: Date;
  /** The job it belongs to. */
  jobId: string;
  /** Which run of the job produced it: 1, then +1 for each resume. */
  attempt: number;
}

/**
 * One entry of a job's event log, discriminated by `type`.
 *
 * @example
 * ```ts
 * for await (const e of job.events()) {
 *   switch (e.type) {
 *     case 'batch': bar.update(e.iter / e.iters); break;
 *     case 'epochEnded': console.log(e.epoch, e.validLoss, e.metrics); break;
 *     case 'log': console.log(e.text); break;
 *   }
 * }
 * ```
 */
export type JobEvent =
  | (JobEventBase & {
      /** The job moved to another state. */
      type: 'state';
      /** The new state. */
      state: JobState;
      /** The state before; undefined for the first event. */
      previous: JobState | undefined;
      /** Why, in words (e.g. "cancelled by client"). */
      reason: string | undefined;
    })
  | (JobEventBase & { type: 'log' } & LogLine)
  | (JobEventBase & {
      /** A fastai fit began (fine_tune runs two). */
      type: 'fitStarted';
      /** 0 for the job's first fit, then 1, ... */
      fitIndex: number;
      /** Epochs in this fit. */
      epochs: number;
      /** First epoch it runs (non-zero when resumed from a checkpoint). */
      startEpoch: number;
      /** Batches per training epoch. */
      trainBatches: number;
      /** Batches per validation pass. */
      validBatches: number;
      /** Names of the metrics each epochEnded carries, in order. */
      metricNames: string[];
      /** Items in the training set. */
      trainItems: number;
      /** Items in the validation set. */
      validItems: number;
    })
  | (JobEventBase & {
      /** Progress inside an epoch (about 10 per second). */
      type: 'batch';
      /** Which fit it belongs to. */
      fitIndex: number;
      /** 0-based epoch within the fit. */
      epoch: number;
      /** Batches done in this phase, 1..iters. */
      iter: number;
      /** Batches in this phase. */
      iters: number;
      /** Training or validation. */
      phase: 'train' | 'valid';
      /** fastai's smoothed training loss (training batches only). */
      smoothLoss: number | undefined;
      /** Learning rate of the last parameter group. */
      lr: number | undefined;
      /** Throughput over the last interval, items per second. */
      itemsPerSecond: number;
    })
  | (JobEventBase & { type: 'epochEnded' } & EpochMetrics)
  | (JobEventBase & {
      /** The learning-rate finder is running (about 10 per second); it runs no epochs. */
      type: 'lrFindProgress';
      /** Iterations done, 1..iters. */
      iter: number;
      /** Iterations it runs at most (it stops early once the loss diverges). */
      iters: number;
      /** Learning rate of the last iteration. */
      lr: number;
      /** fastai's smoothed training loss after the last iteration. */
      smoothLoss: number | undefined;
    })
  | (JobEventBase & { type: 'lrFind' } & LrFindResult)
  | (JobEventBase & {
      /** GPU and host figures taken while the job ran. */
      type: 'stats';
      /** The reading. */
      sample: StatsSample;
    })
  | (JobEventBase & {
      /** The job wrote an artifact. */
      type: 'artifact';
      /** What it wrote. */
      artifact: ArtifactInfo;
    })
  | (JobEventBase & { type: 'interpretation' } & Interpretation)
  | (JobEventBase & {
      /** Something looks wrong but the job goes on. */
      type: 'warning';
      /** Stable machine name: "stalled", "bad_worker_output", "fp16_on_cpu", ... */
      code: string;
      /** What happened and what to do. */
      message: string;
      /** Figures when the warning was raised, if the agent had them. */
      stats: StatsSample | undefined;
    })
  | (JobEventBase & {
      /** Why the job failed; a `'failed'` state event follows. */
      type: 'error';
      /** The failure. */
      error: JobFailure;
    })
  | (JobEventBase & {
      /** Labels a predict job gave its inputs. */
      type: 'predictions';
      /** One per input, in input order. */
      predictions: Prediction[];
    });

/**
 * The `type` names of {@link JobEvent}.
 *
 * @example
 * ```ts
 * import type { JobEventType } from '@gpulink/sdk';
 * const quiet: JobEventType[] = ['batch', 'stats'];
 * ```
 */
export type JobEventType = JobEvent['type'];

/**
 * The {@link JobEvent} variant with a given `type`.
 *
 * @example
 * ```ts
 * import type { JobEventOf } from '@gpulink/sdk';
 * const onEpoch = (e: JobEventOf<'epochEnded'>) => console.log(e.metrics);
 * ```
 */
export type JobEventOf<T extends JobEventType> = Extract<JobEvent, { type: T }>;

/**
 * A job and what it has done so far, as the agent reports it.
 *
 * @example
 * ```ts
 * for (const j of await agent.jobs.list({ states: ['running'] })) {
 *   console.log(j.id, j.task.type, `${j.completedEpochs}/${j.totalEpochs}`);
 * }
 * ```
 */
export interface JobInfo {
  /** Agent-assigned id, e.g. "job_01JD3..."; ids sort by creation time. */
  id: string;
  /** The name given at submit (empty when none). */
  name: string;
  /** Labels given at submit. */
  tags: string[];
  /** What it runs, with the options it was submitted with. */
  task: JobTask;
  /** GPUs it asked for; undefined: one when the agent has any, 0: the CPU. */
  gpuCount: number | undefined;
  /** Its run-time limit, milliseconds; undefined: none. */
  maxDurationMs: number | undefined;
  /** Its checkpoint policy; undefined: no checkpoints (it cannot be resumed from one). */
  checkpoint: { everyEpoch: boolean; keepLast: number } | undefined;
  /** Where it is in its life. */
  state: JobState;
  /** Why it was cancelled or interrupted, in words. */
  stateReason: string | undefined;
  /** When it was accepted. */
  createdAt: Date | undefined;
  /** When its current attempt's worker started. */
  startedAt: Date | undefined;
  /** When it reached a terminal state. */
  finishedAt: Date | undefined;
  /** Where it runs: "cpu" or "cuda:0" (empty while unassigned). */
  device: string;
  /** Jobs ahead of it in its device's queue. */
  queuePosition: number;
  /** seq of the newest event in its log. */
  lastSeq: number;
  /** Run number: 1, then +1 for each resume. */
  attempt: number;
  /** Epochs completed, counting every fit. */
  completedEpochs: number;
  /** Epochs planned, counting every fit (0 until known). */
  totalEpochs: number;
  /** The latest losses and metrics. */
  lastEpoch: EpochMetrics | undefined;
  /** Artifacts written so far. */
  artifacts: ArtifactInfo[];
  /** Why it failed; only for failed jobs. */
  error: JobFailure | undefined;
}

/**
 * What a finished job did, gathered from its whole event log by {@link Job.wait}.
 *
 * @example
 * ```ts
 * const s = await job.wait();
 * console.log(s.state, s.epochs.at(-1)?.metrics, s.artifacts.map((a) => a.name));
 * ```
 */
export interface JobSummary {
  /** The job's id. */
  jobId: string;
  /** Its terminal state. */
  state: JobState;
  /** Why it ended that way, in words, when the agent said. */
  stateReason: string | undefined;
  /** The attempt that ended. */
  attempt: number;
  /** When it first started running. */
  startedAt: Date | undefined;
  /** When it reached its terminal state. */
  finishedAt: Date | undefined;
  /** Every finished epoch of every fit and attempt, in order. */
  epochs: EpochMetrics[];
  /** Every artifact it wrote (a rewritten name keeps its newest version). */
  artifacts: ArtifactInfo[];
  /** The learning-rate finder's result, for lrFind jobs (or training with `lr: 'find'`). */
  lrFind: LrFindResult | undefined;
  /** Validation results of a classifier. */
  interpretation: Interpretation | undefined;
  /** The labels of a predict job. */
  predictions: Prediction[] | undefined;
  /** Warnings raised while it ran. */
  warnings: { code: string; message: string }[];
  /** Why it failed; only for failed jobs. */
  error: JobFailure | undefined;
  /** seq of the last event read. */
  lastSeq: number;
}
