// What the agent reports about itself and its training environment (GetInfo, CheckEnvironment).

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
