// Generated wire types -> the SDK's types (types.ts). Every mapping from the contract lives here once.
import {
  type AgentInfo as AgentInfoProto,
  type Artifact,
  type CheckEnvironmentResponse,
  CheckStatus as CheckStatusProto,
  type Dataset,
  type EpochEnded,
  ErrorKind,
  type Job,
  type JobError,
  type JobEvent as JobEventProto,
  JobState as JobStateProto,
  type LogLine as LogLineProto,
  LogStream as LogStreamProto,
  type StatsSample as StatsSampleProto,
} from '@gpulink/proto';
import { GpulinkError } from './errors.js';
import { jobSpecInfo } from './job-spec.js';
import type {
  AgentInfo,
  ArtifactInfo,
  CheckStatus,
  DatasetInfo,
  EnvironmentReport,
  EpochMetrics,
  JobEvent,
  JobEventBase,
  JobFailure,
  JobFailureKind,
  JobInfo,
  JobState,
  LogLine,
  StatsSample,
} from './types.js';

const jobStates: Partial<Record<JobStateProto, JobState>> = {
  [JobStateProto.JOB_STATE_QUEUED]: 'queued',
  [JobStateProto.JOB_STATE_STARTING]: 'starting',
  [JobStateProto.JOB_STATE_RUNNING]: 'running',
  [JobStateProto.JOB_STATE_SUCCEEDED]: 'succeeded',
  [JobStateProto.JOB_STATE_FAILED]: 'failed',
  [JobStateProto.JOB_STATE_CANCELLED]: 'cancelled',
  [JobStateProto.JOB_STATE_INTERRUPTED]: 'interrupted',
};

/** @internal */
export function optionalJobState(state: JobStateProto): JobState | undefined {
  return jobStates[state];
}

/** @internal */
export function jobState(state: JobStateProto): JobState {
  const mapped = jobStates[state];
  if (mapped === undefined) {
    throw new GpulinkError(
      'INTERNAL',
      `the agent sent job state ${state}, which this version of @gpulink/sdk does not know; upgrade it`,
    );
  }
  return mapped;
}

/** @internal */
export function jobStateToProto(state: JobState): JobStateProto {
  for (const [proto, name] of Object.entries(jobStates)) {
    if (name === state) return Number(proto) as JobStateProto;
  }
  throw new GpulinkError('INVALID_ARGUMENT', `unknown job state '${String(state)}'`);
}

function text(value: string): string | undefined {
  return value === '' ? undefined : value;
}

/** @internal */
export function agentInfo(info: AgentInfoProto | undefined): AgentInfo {
  if (!info) throw new GpulinkError('INTERNAL', 'the agent answered GetInfo without an info message');
  return {
    agentVersion: info.agentVersion,
    protocolRevision: info.protocolRevision,
    capabilities: info.capabilities,
    hostname: info.hostname,
    platform: info.platform,
    startedAt: info.startedAt,
    pythonExecutable: info.pythonExecutable,
    pythonVersion: text(info.pythonVersion),
    torchVersion: text(info.torchVersion),
    fastaiVersion: text(info.fastaiVersion),
    cudaVersion: text(info.cudaVersion),
    cudnnVersion: text(info.cudnnVersion),
    cudaAvailable: info.cudaAvailable,
    cudnnEnabled: info.cudnnEnabled,
    gpus: info.gpus.map((g) => ({
      index: g.index,
      name: g.name,
      uuid: g.uuid,
      memoryTotalBytes: g.memoryTotalBytes,
      computeCapability: text(g.computeCapability),
    })),
    environmentError: text(info.environmentError),
  };
}

function checkStatus(status: CheckStatusProto): CheckStatus {
  if (status === CheckStatusProto.CHECK_STATUS_OK) return 'ok';
  if (status === CheckStatusProto.CHECK_STATUS_WARN) return 'warn';
  // An unspecified or unknown status is treated as the worst so that nothing broken reads as fine.
  return 'fail';
}

/** @internal */
export function environmentReport(report: CheckEnvironmentResponse): EnvironmentReport {
  return {
    overall: checkStatus(report.overall),
    checks: report.checks.map((c) => ({
      id: c.id,
      title: c.title,
      status: checkStatus(c.status),
      detail: c.detail,
      fixHint: text(c.fixHint),
    })),
  };
}

const epoch0 = new Date(0);

/** @internal */
export function statsSample(sample: StatsSampleProto | undefined): StatsSample {
  return {
    time: sample?.time ?? epoch0,
    gpus: (sample?.gpus ?? []).map((g) => ({
      index: g.index,
      uuid: g.uuid,
      name: g.name,
      memoryTotalBytes: g.memoryTotalBytes,
      memoryUsedBytes: g.memoryUsedBytes,
      memoryFreeBytes: g.memoryFreeBytes,
      utilizationGpuPercent: g.utilizationGpuPercent,
      utilizationMemoryPercent: g.utilizationMemoryPercent,
      temperatureCelsius: g.temperatureCelsius,
      powerDrawWatts: g.powerDrawWatts,
      powerLimitWatts: g.powerLimitWatts,
      clockSmMhz: g.clockSmMhz,
      clockMemoryMhz: g.clockMemoryMhz,
    })),
    host: {
      memoryTotalBytes: sample?.host?.memoryTotalBytes ?? 0,
      memoryAvailableBytes: sample?.host?.memoryAvailableBytes ?? 0,
      cpuPercent: sample?.host?.cpuPercent ?? 0,
      cpuCount: sample?.host?.cpuCount ?? 0,
    },
    processes: (sample?.processes ?? []).map((p) => ({
      jobId: p.jobId,
      pid: p.pid,
      rssBytes: p.rssBytes,
      gpuMemoryBytes: p.gpuMemoryBytes,
    })),
  };
}

/** @internal */
export function artifactInfo(artifact: Artifact): ArtifactInfo {
  return {
    name: artifact.name,
    sizeBytes: artifact.sizeBytes,
    sha256: artifact.sha256,
    kind: artifact.kind || 'file',
    createdAt: artifact.createdAt,
  };
}

/** @internal */
export function datasetInfo(dataset: Dataset | undefined): DatasetInfo {
  if (!dataset) throw new GpulinkError('INTERNAL', 'the agent answered without the dataset');
  return {
    id: dataset.id,
    name: dataset.name,
    fileCount: dataset.fileCount,
    sizeBytes: dataset.sizeBytes,
    createdAt: dataset.createdAt,
  };
}

/** @internal */
export function epochMetrics(e: EpochEnded): EpochMetrics {
  const metrics: Record<string, number> = {};
  for (const m of e.metrics) metrics[m.name] = m.value;
  return {
    fitIndex: e.fitIndex,
    epoch: e.epoch,
    epochs: e.nEpoch,
    trainLoss: e.trainLoss,
    validLoss: e.validLoss,
    metrics,
    durationMs: e.durationMs,
    cudaMemory: e.cudaMemory
      ? {
          allocatedBytes: e.cudaMemory.allocatedBytes,
          reservedBytes: e.cudaMemory.reservedBytes,
          peakAllocatedBytes: e.cudaMemory.peakAllocatedBytes,
        }
      : undefined,
    completedEpochs: e.completedEpochs,
  };
}

function logLine(line: LogLineProto): LogLine {
  const stream =
    line.stream === LogStreamProto.LOG_STREAM_STDERR
      ? 'stderr'
      : line.stream === LogStreamProto.LOG_STREAM_AGENT
        ? 'agent'
        : 'stdout';
  return { stream, text: line.text };
}

const failureKinds: Partial<Record<ErrorKind, JobFailureKind>> = {
  [ErrorKind.ERROR_KIND_EXCEPTION]: 'exception',
  [ErrorKind.ERROR_KIND_CUDA_OUT_OF_MEMORY]: 'cudaOutOfMemory',
  [ErrorKind.ERROR_KIND_KILLED]: 'killed',
  [ErrorKind.ERROR_KIND_TIMEOUT]: 'timeout',
  [ErrorKind.ERROR_KIND_WORKER_START]: 'workerStart',
  [ErrorKind.ERROR_KIND_WORKER_EXIT]: 'workerExit',
  [ErrorKind.ERROR_KIND_DATA]: 'data',
};

/** @internal */
export function jobFailure(error: JobError): JobFailure {
  return {
    kind: failureKinds[error.kind] ?? 'unknown',
    message: error.message,
    exceptionType: text(error.exceptionType),
    traceback: text(error.traceback),
    signal: text(error.signal),
    exitCode: error.exitCode,
    peakCudaMemoryBytes: error.peakCudaMemoryBytes,
    postMortem: {
      stats: (error.postMortem?.stats ?? []).map(statsSample),
      logs: (error.postMortem?.logs ?? []).map(logLine),
    },
  };
}

/**
 * The SDK's view of one log entry, or undefined for a kind this SDK version does not know (its seq
 * still counts as delivered, so resuming never asks for it again).
 * @internal
 */
export function jobEvent(event: JobEventProto): JobEvent | undefined {
  const base: JobEventBase = {
    seq: event.seq,
    time: event.time ?? epoch0,
    jobId: event.jobId,
    attempt: event.attempt,
  };
  const kind = event.kind;
  switch (kind?.$case) {
    case 'stateChanged': {
      const state = optionalJobState(kind.value.state);
      if (state === undefined) return undefined;
      return {
        ...base,
        type: 'state',
        state,
        previous: optionalJobState(kind.value.previous),
        reason: text(kind.value.reason),
      };
    }
    case 'log':
      return { ...base, type: 'log', ...logLine(kind.value) };
    case 'fitStarted': {
      const f = kind.value;
      return {
        ...base,
        type: 'fitStarted',
        fitIndex: f.fitIndex,
        epochs: f.nEpoch,
        startEpoch: f.startEpoch,
        trainBatches: f.trainBatches,
        validBatches: f.validBatches,
        metricNames: f.metricNames,
        trainItems: f.trainItems,
        validItems: f.validItems,
      };
    }
    case 'batch': {
      const b = kind.value;
      return {
        ...base,
        type: 'batch',
        fitIndex: b.fitIndex,
        epoch: b.epoch,
        iter: b.iter,
        iters: b.nIter,
        phase: b.training ? 'train' : 'valid',
        smoothLoss: b.smoothLoss,
        lr: b.lr,
        itemsPerSecond: b.itemsPerSecond,
      };
    }
    case 'epochEnded':
      return { ...base, type: 'epochEnded', ...epochMetrics(kind.value) };
    case 'lrFindProgress': {
      const p = kind.value;
      return {
        ...base,
        type: 'lrFindProgress',
        iter: p.iter,
        iters: p.nIter,
        lr: p.lr,
        smoothLoss: p.smoothLoss,
      };
    }
    case 'lrFindResult':
      return {
        ...base,
        type: 'lrFind',
        lrs: kind.value.lrs,
        losses: kind.value.losses,
        suggestions: kind.value.suggestions.map((s) => ({ method: s.method, lr: s.lr })),
      };
    case 'stats':
      return { ...base, type: 'stats', sample: statsSample(kind.value) };
    case 'artifact':
      return { ...base, type: 'artifact', artifact: artifactInfo(kind.value) };
    case 'interpretation': {
      const { classes, confusionMatrix, mostConfused } = kind.value;
      const n = classes.length;
      return {
        ...base,
        type: 'interpretation',
        classes,
        confusionMatrix: Array.from({ length: n }, (_, row) => confusionMatrix.slice(row * n, row * n + n)),
        mostConfused: mostConfused.map((m) => ({ actual: m.actual, predicted: m.predicted, count: m.count })),
      };
    }
    case 'warning':
      return {
        ...base,
        type: 'warning',
        code: kind.value.code,
        message: kind.value.message,
        stats: kind.value.stats ? statsSample(kind.value.stats) : undefined,
      };
    case 'error':
      return { ...base, type: 'error', error: jobFailure(kind.value) };
    case 'predictions':
      return {
        ...base,
        type: 'predictions',
        predictions: kind.value.items.map((p) => ({
          input: p.input,
          label: p.label,
          probability: p.probability,
          top: p.top.map((m) => ({ label: m.name, probability: m.value })),
        })),
      };
    case 'phase':
      return { ...base, type: 'phase', description: kind.value.description };
    default:
      return undefined;
  }
}

/** @internal */
export function jobInfo(job: Job | undefined): JobInfo {
  if (!job) throw new GpulinkError('INTERNAL', 'the agent answered without the job');
  return {
    id: job.id,
    ...jobSpecInfo(job.spec),
    resolvedTask: jobSpecInfo(job.resolvedSpec ?? job.spec).task,
    state: jobState(job.state),
    stateReason: text(job.stateReason),
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    device: job.device,
    queuePosition: job.queuePosition,
    lastSeq: job.lastSeq,
    attempt: job.attempt,
    completedEpochs: job.completedEpochs,
    totalEpochs: job.totalEpochs,
    lastEpoch: job.lastEpoch ? epochMetrics(job.lastEpoch) : undefined,
    artifacts: job.artifacts.map(artifactInfo),
    error: job.error ? jobFailure(job.error) : undefined,
  };
}
