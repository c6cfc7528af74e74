// The SDK's own view of the wire types: plain data with string literals instead of enums, `undefined`
// instead of empty strings, units in field names, and no grpc-js or generated classes. The CLI renders
// only these, so each carries everything the agent sends. One file per concept, under types/.
export type {
  AgentInfo,
  CheckStatus,
  EnvironmentCheck,
  EnvironmentReport,
  GpuDevice,
} from './types/agent.js';
export type {
  JobInfo,
  JobState,
  JobSummary,
} from './types/job.js';
export type {
  JobEvent,
  JobEventBase,
  JobEventOf,
  JobEventType,
} from './types/job-event.js';
export type {
  ConfusedPair,
  CudaMemory,
  EpochMetrics,
  Interpretation,
  JobFailure,
  JobFailureKind,
  LogLine,
  LogStream,
  LrFindResult,
  LrSuggestion,
  Prediction,
} from './types/job-results.js';
export type {
  GpuStats,
  HostStats,
  ProcessStats,
  StatsSample,
} from './types/stats.js';
export type {
  ArtifactInfo,
  DatasetInfo,
} from './types/stored-files.js';
