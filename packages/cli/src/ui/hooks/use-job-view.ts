import type { AgentClient, Job } from '@gpulink/sdk';
import { useEffect, useState } from 'react';
import { createJobOutput } from '../../view/job-output.js';
import { emptyJobView, type JobView, reduceJobView } from '../../view/job-view.js';

/** How many of a job's output lines a view keeps (the log pane's scrollback). */
export const OUTPUT_TAIL = 5000;

/**
 * Follows one job's events into a JobView and its output lines (what `gpulink logs` prints: the
 * worker's lines, fastai's epoch table and progress). The SDK resumes the stream after a dropped
 * connection from the last seq, so the view never misses or repeats an event. `error` is set when it
 * gives up.
 */
export function useJobView(agent: AgentClient, jobId: string | undefined, initialJob?: Job) {
  const [view, setView] = useState<JobView | undefined>(undefined);
  const [output, setOutput] = useState<string[]>([]);
  const [error, setError] = useState<Error | undefined>(undefined);
  useEffect(() => {
    if (!jobId) return;
    const abort = new AbortController();
    setView(emptyJobView(jobId));
    setOutput([]);
    setError(undefined);
    (async () => {
      const job =
        initialJob?.id === jobId ? initialJob : await agent.jobs.get(jobId, { signal: abort.signal });
      const toLines = createJobOutput();
      let v = emptyJobView(jobId);
      let lines: string[] = [];
      for await (const event of job.events({ signal: abort.signal })) {
        v = reduceJobView(v, event);
        const added = toLines(event, v);
        if (added.length > 0) {
          lines = [...lines, ...added].slice(-OUTPUT_TAIL);
          setOutput(lines);
        }
        setView(v);
      }
    })().catch((e: unknown) => {
      if (!abort.signal.aborted) setError(e as Error);
    });
    return () => abort.abort();
  }, [agent, jobId, initialJob]);
  return { view, output, error };
}
