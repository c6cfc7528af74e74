/**
 * @gpulink/gpu-agent — the gRPC server that runs fastai jobs next to CUDA. Most people start it with
 * the `gpulink-agent serve` command; `startAgent` embeds it in a Node process.
 */
export { type Agent, type AgentOptions, startAgent } from './agent.js';
export { agentVersion, defaultPython, packageDir } from './paths.js';
export { PROTOCOL_REVISION } from './services/agent-service.js';
export { defaultStateDir } from './state/state-dir.js';
export { GPU_QUERY_FIELDS } from './stats/nvidia-smi.js';
