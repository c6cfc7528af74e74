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
 * const job = await agent.train.vision({ data: { fastaiUrl: 'MNIST_SAMPLE' }, epochs: 1 });
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
  type TrainApi,
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
  isCancelled,
  isDataLoss,
  isDeadlineExceeded,
  isFailedPrecondition,
  isGpulinkError,
  isInvalidArgument,
  isNotFound,
  isPermissionDenied,
  isResourceExhausted,
  isUnauthenticated,
  isUnavailable,
  isUnimplemented,
  type StatusName,
  statusName,
} from './errors.js';
export { isJobFailed, JobFailedError } from './job-failed-error.js';
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
export type {
  CancelOptions,
  Job,
  JobEventsOptions,
  JobsApi,
  ListJobsOptions,
  WaitOptions,
} from './jobs.js';
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
export {
  type AgentInfo,
  type ArtifactInfo,
  type CheckStatus,
  type ConfusedPair,
  type CudaMemory,
  type DatasetInfo,
  type EnvironmentCheck,
  type EnvironmentReport,
  type EpochMetrics,
  type GpuDevice,
  type GpuStats,
  type HostStats,
  type Interpretation,
  isTerminalState,
  type JobEvent,
  type JobEventBase,
  type JobEventOf,
  type JobEventType,
  type JobFailure,
  type JobFailureKind,
  type JobInfo,
  type JobState,
  type JobSummary,
  type LogLine,
  type LogStream,
  type LrFindResult,
  type LrSuggestion,
  type Prediction,
  type ProcessStats,
  type StatsSample,
} from './types.js';
