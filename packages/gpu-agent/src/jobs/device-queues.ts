/** Job ids queued per device ("cpu", "cuda:0"): one job runs at a time per device, the head of its queue. */
export class DeviceQueues {
  readonly #queues = new Map<string, string[]>();

  /** Queues a job at the back of its device's queue (once). */
  add(device: string, id: string): void {
    const queue = this.#queues.get(device) ?? [];
    if (!queue.includes(id)) queue.push(id);
    this.#queues.set(device, queue);
  }

  remove(device: string, id: string): void {
    const queue = this.#queues.get(device);
    if (queue)
      this.#queues.set(
        device,
        queue.filter((queued) => queued !== id),
      );
  }

  /** Jobs ahead of this one on its device (0 when it is the head, or not queued). */
  position(device: string, id: string): number {
    return Math.max(0, (this.#queues.get(device) ?? []).indexOf(id));
  }

  /** The job at the head of each device's queue: the one running there, or next to. */
  heads(): string[] {
    return [...this.#queues.values()].flatMap((queue) => (queue[0] ? [queue[0]] : []));
  }
}
