import type { AgentClient, StatsSample } from '@gpulink/sdk';
import { useEffect, useState } from 'react';

/**
 * Live stats with a bounded history for sparklines; `stale` when samples stopped arriving. The
 * stream is not retried here: when it ends in an error, `onLost` hears of it (the connection hook
 * makes a new connection, and a new `agent` restarts the stream).
 */
export function useStats(
  agent: AgentClient,
  {
    intervalMs = 1000,
    keep = 60,
    onLost,
  }: { intervalMs?: number; keep?: number; onLost?: (e: Error) => void } = {},
) {
  const [history, setHistory] = useState<StatsSample[]>([]);
  const [stale, setStale] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  useEffect(() => {
    const abort = new AbortController();
    let last = Date.now();
    const watchdog = setInterval(() => setStale(Date.now() - last > intervalMs * 3 + 1000), intervalMs);
    setError(undefined);
    (async () => {
      for await (const sample of agent.stats({ intervalMs, signal: abort.signal, retry: false })) {
        last = Date.now();
        setStale(false);
        setHistory((h) => [...h, sample].slice(-keep));
      }
      // A stream that ends while wanted ends because the agent went away (it stops when shut down).
      if (!abort.signal.aborted) throw new Error('the agent ended the stats stream');
    })().catch((e: unknown) => {
      if (abort.signal.aborted) return;
      setError(e as Error);
      onLost?.(e as Error);
    });
    return () => {
      clearInterval(watchdog);
      abort.abort();
    };
  }, [agent, intervalMs, keep, onLost]);
  return { history, stale, error };
}
