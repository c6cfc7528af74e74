import type { AgentClient, JobInfo } from '@gpulink/sdk';
import { useEffect, useState } from 'react';
import { isConnectionLost } from './use-agent-connection.js';

/** The agent's newest jobs, polled; `onLost` hears of a poll that found the agent gone. */
export function useJobs(
  agent: AgentClient,
  { pollMs = 2000, limit = 50, onLost }: { pollMs?: number; limit?: number; onLost?: (e: Error) => void },
) {
  const [jobs, setJobs] = useState<JobInfo[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let alive = true;
    const poll = () =>
      agent.jobs.list({ limit }).then(
        (list) => {
          if (!alive) return;
          setJobs(list);
          setError(undefined);
        },
        (e: Error) => {
          if (!alive) return;
          if (isConnectionLost(e)) onLost?.(e);
          else setError(e.message);
        },
      );
    poll();
    const timer = setInterval(poll, pollMs);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [agent, pollMs, limit, onLost]);
  return { jobs, error };
}
