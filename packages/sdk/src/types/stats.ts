// Readings of the agent's machine: its GPUs, its host, the processes of running jobs (WatchStats).

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
