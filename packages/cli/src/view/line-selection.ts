// Which of a job's lines `gpulink logs` prints: those since a moment (`--since`), the last n of them
// (`--tail`). Chooses lines; what a line says is the caller's (follow.ts).

export interface LineSelection {
  /** Only the last this many lines of what was logged so far (then everything new). */
  tail?: number | undefined;
  /** Only lines logged at or after this moment. */
  since?: Date | undefined;
}

/** The last `tail` of the items logged since `since`, in order: a bounded ring, whatever the log's length. */
export class SelectedLines<T> {
  readonly #items: T[] = [];
  readonly #selection: LineSelection;

  constructor(selection: LineSelection) {
    this.#selection = selection;
  }

  /** Takes an item logged at `time`, dropping the oldest beyond the tail. */
  offer(time: Date, item: T): void {
    if (this.#selection.since && time < this.#selection.since) return;
    this.#items.push(item);
    const tail = this.#selection.tail;
    if (tail !== undefined && this.#items.length > tail) this.#items.shift();
  }

  /** The items kept, oldest first, and forgets them. */
  take(): T[] {
    return this.#items.splice(0);
  }
}
