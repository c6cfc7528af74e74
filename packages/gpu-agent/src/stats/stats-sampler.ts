import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { GpuStats, StatsSample } from '@gpulink/proto';
import { HostSampler, treeRssBytes } from './host.js';
import { GPU_QUERY_FIELDS, GpuTickAssembler, parseComputeApps, parseGpuRow } from './nvidia-smi.js';

export interface StatsSamplerOptions {
  /** Program to read GPUs from (PATH lookup). */
  nvidiaSmi?: string;
  /** Worker processes to report, by job. */
  processes: () => Array<{ jobId: string; pid: number }>;
  /** How long the sampler outlives its last subscriber. */
  lingerMs?: number;
  /** How much history to keep for post-mortems. */
  historyMs?: number;
}

interface Subscriber {
  intervalMs: number;
  lastSentAt: number;
  onSample: (sample: StatsSample) => void;
}

const MIN_INTERVAL = 100;
const MAX_INTERVAL = 60_000;

/**
 * One sampler per agent. It runs only while someone listens (a WatchStats client or a running job):
 * one long-lived `nvidia-smi -lms` process (never a spawn per tick) plus host figures from /proc,
 * at the fastest interval any subscriber asked for. Each subscriber gets the newest sample no more
 * often than it asked: nothing queues up for a slow one. No nvidia-smi, or one that dies: samples
 * carry an empty GPU list.
 */
export class StatsSampler {
  readonly #o: Required<StatsSamplerOptions>;
  readonly #subs = new Set<Subscriber>();
  readonly #history: StatsSample[] = [];
  readonly #host = new HostSampler();
  #gpus: GpuStats[] = [];
  #smi: ChildProcess | undefined;
  #smiInterval = 0;
  /** Until nvidia-smi answers (or a grace passes), samples would wrongly say there is no GPU. */
  #gpuPendingUntil = 0;
  #gpuAvailable = true;
  #timer: NodeJS.Timeout | undefined;
  #tickMs = 0;
  #stopTimer: NodeJS.Timeout | undefined;
  #computeApps = new Map<number, number>();
  #computeAppsAt = 0;

  constructor(options: StatsSamplerOptions) {
    this.#o = {
      processes: options.processes,
      nvidiaSmi: options.nvidiaSmi ?? 'nvidia-smi',
      lingerMs: options.lingerMs ?? 3_000,
      historyMs: options.historyMs ?? 60_000,
    };
  }

  /** Registers a listener; returns the function that removes it. */
  subscribe(intervalMs: number, onSample: (sample: StatsSample) => void): () => void {
    const sub: Subscriber = {
      intervalMs: Math.min(MAX_INTERVAL, Math.max(MIN_INTERVAL, intervalMs || 1000)),
      lastSentAt: 0,
      onSample,
    };
    this.#subs.add(sub);
    clearTimeout(this.#stopTimer);
    this.#retune();
    const latest = this.#history.at(-1);
    if (latest) {
      sub.lastSentAt = Date.now();
      onSample(latest);
    }
    return () => {
      if (!this.#subs.delete(sub)) return;
      if (this.#subs.size === 0) this.#stopTimer = setTimeout(() => this.#stop(), this.#o.lingerMs);
      else this.#retune();
    };
  }

  /** Samples taken at or after `sinceMs` (epoch ms), oldest first. */
  recent(sinceMs: number): StatsSample[] {
    return this.#history.filter((s) => (s.time?.getTime() ?? 0) >= sinceMs);
  }

  /** The pid of the nvidia-smi process, while one runs (tests assert there is exactly one). */
  get nvidiaSmiPid(): number | undefined {
    return this.#smi?.pid;
  }

  get subscriberCount(): number {
    return this.#subs.size;
  }

  close(): void {
    this.#subs.clear();
    clearTimeout(this.#stopTimer);
    this.#stop();
  }

  #retune(): void {
    const interval = Math.min(...[...this.#subs].map((s) => s.intervalMs));
    if (interval !== this.#tickMs) {
      const starting = this.#timer === undefined;
      clearInterval(this.#timer);
      this.#tickMs = interval;
      this.#timer = setInterval(() => this.#tick(), interval);
      this.#timer.unref();
      // A job that fails in its first second still gets a sample in its post-mortem.
      if (starting) setTimeout(() => this.#tick(), 50).unref();
    }
    if (this.#gpuAvailable && (!this.#smi || this.#smiInterval !== interval)) this.#startSmi(interval);
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#tickMs = 0;
    this.#stopSmi();
  }

  #startSmi(intervalMs: number): void {
    this.#stopSmi();
    const child = spawn(
      this.#o.nvidiaSmi,
      [
        `--query-gpu=${GPU_QUERY_FIELDS.join(',')}`,
        '--format=csv,noheader,nounits',
        '-lms',
        String(intervalMs),
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    this.#smi = child;
    this.#smiInterval = intervalMs;
    if (this.#gpus.length === 0) this.#gpuPendingUntil = Date.now() + 3_000;
    const ticks = new GpuTickAssembler();
    let flush: NodeJS.Immediate | undefined;
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const row = parseGpuRow(line);
      if (!row) return;
      const done = ticks.push(row);
      if (done) this.#gpus = done;
      // nvidia-smi writes a whole tick at once: once the chunk's lines are read, the tick is complete.
      flush ??= setImmediate(() => {
        flush = undefined;
        this.#gpus = [...ticks.pending()];
        this.#gpuPendingUntil = 0;
      });
    });
    child.on('error', () => {
      // No nvidia-smi on this machine: report no GPUs and stop trying.
      this.#gpuAvailable = false;
      this.#gpus = [];
      this.#gpuPendingUntil = 0;
    });
    child.on('exit', () => {
      if (this.#smi !== child) return;
      // The driver went away mid-run: stop reporting stale GPU figures.
      this.#smi = undefined;
      this.#gpus = [];
    });
  }

  #stopSmi(): void {
    const smi = this.#smi;
    this.#smi = undefined;
    smi?.kill('SIGTERM');
  }

  #tick(): void {
    const now = Date.now();
    if (now < this.#gpuPendingUntil) return;
    const procs = this.#o.processes();
    const rss = procs.length ? treeRssBytes(procs.map((p) => p.pid)) : new Map<number, number>();
    if (procs.length && this.#gpus.length) this.#refreshComputeApps();
    const sample: StatsSample = {
      time: new Date(now),
      gpus: this.#gpus,
      host: this.#host.sample(),
      processes: procs.map((p) => ({
        jobId: p.jobId,
        pid: p.pid,
        rssBytes: rss.get(p.pid) ?? 0,
        gpuMemoryBytes: this.#computeApps.get(p.pid) ?? 0,
      })),
    };
    this.#history.push(sample);
    while ((this.#history[0]?.time?.getTime() ?? now) < now - this.#o.historyMs) this.#history.shift();
    for (const sub of this.#subs) {
      if (now - sub.lastSentAt + this.#tickMs / 2 < sub.intervalMs) continue;
      sub.lastSentAt = now;
      sub.onSample(sample);
    }
  }

  /** Per-process GPU memory: a short query every 5 s at most, only while jobs run on a GPU machine. */
  #refreshComputeApps(): void {
    if (Date.now() - this.#computeAppsAt < 5_000) return;
    this.#computeAppsAt = Date.now();
    execFile(
      this.#o.nvidiaSmi,
      ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'],
      { timeout: 5_000 },
      (error, stdout) => {
        if (!error) this.#computeApps = parseComputeApps(stdout);
      },
    );
  }
}
