import { hostname } from 'node:os';
import type { AgentInfo, AgentServiceServer, StatsSample } from '@gpulink/proto';
import type { Environment } from '../environment/environment.js';
import { worstStatus } from '../environment/environment.js';
import { agentVersion } from '../paths.js';
import { type OpenStreams, serverStream, unary } from '../rpc/handlers.js';
import { forwardLatest } from '../stats/latest-only.js';
import type { StatsSampler } from '../stats/stats-sampler.js';

/** Revision of gpulink.v1 this agent speaks (see AgentInfo.protocol_revision). */
export const PROTOCOL_REVISION = 1;
const CAPABILITIES = [
  'task.vision',
  'task.tabular',
  'task.script',
  'task.lr_find',
  'task.predict',
  // gpu_count above 1: one process per GPU under accelerate launch.
  'job.multi_gpu',
  'data.content_addressed',
];

export function createAgentService(deps: {
  environment: Environment;
  sampler: StatsSampler;
  stateDir: string;
  startedAt: Date;
  open: OpenStreams;
}): AgentServiceServer {
  return {
    getInfo: unary(async () => ({ info: await agentInfo(deps) })),
    checkEnvironment: unary(async () => {
      const checks = await deps.environment.checks(deps.stateDir);
      return { checks, overall: worstStatus(checks) };
    }),
    watchStats: serverStream(deps.open, (request, send, signal) =>
      forwardLatest<StatsSample>(
        (onSample) => deps.sampler.subscribe(request.intervalMs, onSample),
        (sample) => send({ sample }),
        signal,
      ),
    ),
  };
}

async function agentInfo(deps: { environment: Environment; startedAt: Date }): Promise<AgentInfo> {
  const info: AgentInfo = {
    agentVersion,
    protocolRevision: PROTOCOL_REVISION,
    capabilities: CAPABILITIES,
    hostname: hostname(),
    platform: `${process.platform}-${process.arch}`,
    startedAt: deps.startedAt,
    pythonExecutable: deps.environment.python,
    pythonVersion: '',
    torchVersion: '',
    fastaiVersion: '',
    cudaVersion: '',
    cudnnVersion: '',
    cudaAvailable: false,
    cudnnEnabled: false,
    gpus: [],
    environmentError: '',
  };
  try {
    const r = await deps.environment.probe();
    Object.assign(info, {
      pythonExecutable: r.pythonExecutable,
      pythonVersion: r.pythonVersion,
      torchVersion: r.torchVersion,
      fastaiVersion: r.fastaiVersion,
      cudaVersion: r.cudaVersion,
      cudnnVersion: r.cudnnVersion,
      cudaAvailable: r.cudaAvailable,
      cudnnEnabled: r.cudnnEnabled,
      gpus: r.gpus.map((g) => ({ ...g })),
    });
  } catch (error) {
    info.environmentError = (error as Error).message;
  }
  return info;
}
