/**
 * `@gpulink/sdk`: a typed client for a gpulink agent. Connect with {@link connect}, submit fastai jobs
 * with the task builders, follow them with `job.events()` (which survives dropped connections), move
 * data with `agent.datasets.upload()` and `job.artifacts.download()`. Every failure is a
 * {@link GpulinkError}.
 *
 * @example
 * ```ts
 * import { connect } from '@gpulink/sdk';
 * await using agent = await connect(process.env.GPULINK_URL);
 * const job = await agent.trainVision({ data: { fastaiUrl: 'MNIST_SAMPLE' }, epochs: 1 });
 * for await (const e of job.events()) if (e.type === 'epochEnded') console.log(e.metrics);
 * ```
 *
 * @packageDocumentation
 */
export { type AgentUrl, formatAgentUrl, type JupyterRoute, parseAgentUrl } from './agent-url.js';
export type { ArtifactsApi, DownloadOptions, DownloadResult } from './artifacts.js';
export {
  type AgentClient,
  type ConnectOptions,
  connect,
  type StatsOptions,
} from './client.js';
export type { CsvLabels, DataSource, FolderLabels, VisionLabels } from './data-source.js';
export type {
  DatasetsApi,
  ListDatasetsOptions,
  UploadOptions,
  UploadProgress,
  UploadResult,
} from './datasets.js';
export {
  GpulinkError,
  type GpulinkErrorOptions,
  hasStatus,
  isGpulinkError,
  type StatusName,
  statusName,
} from './errors.js';
export type { JobEventsOptions } from './job-events.js';
export { isJobFailed, JobFailedError } from './job-failed-error.js';
export { gpuCountFor } from './job-gpus.js';
export {
  type FitMethod,
  type FitOptions,
  fitMethods,
  type JobOptions,
  type JobTask,
  jobSpecDefaults,
  type LrFindOptions,
  type LrFindTaskOptions,
  type PredictOptions,
  type PredictTaskOptions,
  type ScriptOptions,
  type ScriptTaskOptions,
  type TabularModelOptions,
  type TabularProc,
  type TabularTaskOptions,
  type TabularTrainingOptions,
  type VisionModelOptions,
  type VisionTaskOptions,
  type VisionTrainingOptions,
} from './job-options.js';
export { emptyJobSummary, foldJobEvent, isTerminalState } from './job-summary.js';
export type { CancelOptions, Job, JobsApi, ListJobsOptions, WaitOptions } from './jobs.js';
export {
  type AttachOptions,
  type AttachResult,
  type AttachStep,
  attachJupyter,
  detachJupyter,
  type HostReport,
} from './jupyter/attach.js';
export { type JupyterAuth, type JupyterServer, parseJupyterUrl } from './jupyter/jupyter-server.js';
export type { CallOptions, RetryPolicy } from './rpc.js';
export type {
  AgentInfo,
  ArtifactInfo,
  CheckStatus,
  ConfusedPair,
  CudaMemory,
  DatasetInfo,
  EnvironmentCheck,
  EnvironmentReport,
  EpochMetrics,
  GpuDevice,
  GpuStats,
  HostStats,
  Interpretation,
  JobEvent,
  JobEventBase,
  JobEventOf,
  JobEventType,
  JobFailure,
  JobFailureKind,
  JobInfo,
  JobState,
  JobSummary,
  LogLine,
  LogStream,
  LrFindResult,
  LrSuggestion,
  Prediction,
  ProcessStats,
  StatsSample,
} from './types.js';
