import type { AgentClient, Job } from '@gpulink/sdk';
import { useEffect, useState } from 'react';
import { emptyJobView, type JobView, reduceJobView } from '../../view/job-view.js';

/**
 * Follows one job's events into a JobView. The SDK resumes the stream after a dropped connection
 * from the last seq, so the view never misses or repeats an event. `error` is set when it gives up.
 */
export function useJobView(agent: AgentClient, jobId: string | undefined, initialJob?: Job) {
  const [view, setView] = useState<JobView | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  useEffect(() => {
    if (!jobId) return;
    const abort = new AbortController();
    setView(emptyJobView(jobId));
    setError(undefined);
    (async () => {
      const job =
        initialJob?.id === jobId ? initialJob : await agent.jobs.get(jobId, { signal: abort.signal });
      for await (const event of job.events({ signal: abort.signal })) {
        setView((v) => reduceJobView(v ?? emptyJobView(jobId), event));
      }
    })().catch((e: unknown) => {
      if (!abort.signal.aborted) setError(e as Error);
    });
    return () => abort.abort();
  }, [agent, jobId, initialJob]);
  return { view, error };
}
