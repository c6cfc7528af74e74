/**
 * Forwards values from a push source to a slow async consumer, keeping only the newest value while
 * the consumer is busy: a slow subscriber gets the latest sample, never an unbounded backlog.
 * Resolves when `signal` aborts; the subscription is always removed.
 */
export async function forwardLatest<T>(
  subscribe: (onValue: (value: T) => void) => () => void,
  send: (value: T) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  let latest: { value: T } | undefined;
  let wake: (() => void) | undefined;
  const unsubscribe = subscribe((value) => {
    latest = { value };
    wake?.();
  });
  const aborted = new Promise<void>((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  try {
    while (!signal.aborted) {
      if (!latest) {
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
        wake = undefined;
        continue;
      }
      const { value } = latest;
      latest = undefined;
      await send(value);
    }
  } finally {
    unsubscribe();
  }
}
