import type { AgentClient, StatsSample } from '@gpulink/sdk';
import { useEffect, useState } from 'react';

/** Live stats with a bounded history for sparklines; `stale` when samples stopped arriving (reconnecting). */
export function useStats(agent: AgentClient, intervalMs = 1000, keep = 60) {
  const [history, setHistory] = useState<StatsSample[]>([]);
  const [stale, setStale] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  useEffect(() => {
    const abort = new AbortController();
    let last = Date.now();
    const watchdog = setInterval(() => setStale(Date.now() - last > intervalMs * 3 + 1000), intervalMs);
    (async () => {
      for await (const sample of agent.stats({ intervalMs, signal: abort.signal })) {
        last = Date.now();
        setStale(false);
        setHistory((h) => [...h, sample].slice(-keep));
      }
    })().catch((e: unknown) => {
      if (!abort.signal.aborted) setError(e as Error);
    });
    return () => {
      clearInterval(watchdog);
      abort.abort();
    };
  }, [agent, intervalMs, keep]);
  return { history, stale, error };
}
