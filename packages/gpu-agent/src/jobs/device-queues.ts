/** What a job runs on: the CPU (one job at a time), or `count` GPUs of its own. */
export type DeviceNeed = { kind: 'cpu' } | { kind: 'gpus'; count: number };

/** A job the queues let start, with the GPU indexes it was given (none on the CPU). */
export interface Placement {
  id: string;
  gpus: number[];
}

interface Entry {
  id: string;
  need: DeviceNeed;
  /** Set while the job holds its devices. */
  gpus?: number[];
}

/**
 * The jobs waiting for or holding devices, first come first served: one queue for the CPU (a job
 * at a time) and one for the GPUs, where a job of N GPUs starts once N are free. A job that does
 * not fit yet holds back those behind it, so one asking for many GPUs is not starved by a stream
 * of small ones.
 */
export class DeviceQueues {
  readonly #entries: Entry[] = [];

  /** @param gpuCount how many GPUs the agent has (asked at each placement: it is known late). */
  constructor(readonly gpuCount: () => number) {}

  /** Queues a job at the back of its queue (once). */
  add(id: string, need: DeviceNeed): void {
    if (!this.#entries.some((e) => e.id === id)) this.#entries.push({ id, need });
  }

  /** Takes a job out of its queue; the devices it held are free again. */
  remove(id: string): void {
    const i = this.#entries.findIndex((e) => e.id === id);
    if (i >= 0) this.#entries.splice(i, 1);
  }

  /** Jobs ahead of this one in its queue, running ones included (0 when it is the head, or not queued). */
  position(id: string): number {
    const entry = this.#entries.find((e) => e.id === id);
    if (!entry) return 0;
    const queue = this.#entries.filter((e) => e.need.kind === entry.need.kind);
    return queue.indexOf(entry);
  }

  /** Gives devices to every waiting job that fits now, in order, and returns those placements. */
  place(): Placement[] {
    const placed: Placement[] = [];
    const cpu = this.#entries.filter((e) => e.need.kind === 'cpu');
    const head = cpu[0];
    if (head && !head.gpus) {
      head.gpus = [];
      placed.push({ id: head.id, gpus: [] });
    }
    const busy = new Set(this.#entries.flatMap((e) => (e.need.kind === 'gpus' ? (e.gpus ?? []) : [])));
    const free = [...Array(this.gpuCount()).keys()].filter((g) => !busy.has(g));
    for (const entry of this.#entries) {
      if (entry.need.kind !== 'gpus' || entry.gpus) continue;
      if (entry.need.count > free.length) break;
      entry.gpus = free.splice(0, entry.need.count);
      placed.push({ id: entry.id, gpus: entry.gpus });
    }
    return placed;
  }
}

/** The devices a job's record asks for: "cpu", or "cuda" with the spec's GPU count. */
export function deviceNeed(device: string, gpuCount: number | undefined): DeviceNeed {
  // Records written before jobs had several GPUs say "cuda:0".
  return device === 'cpu' ? { kind: 'cpu' } : { kind: 'gpus', count: Math.max(1, gpuCount ?? 1) };
}
