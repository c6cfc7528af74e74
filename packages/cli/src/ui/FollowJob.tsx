import type { AgentClient, Job } from '@gpulink/sdk';
import { isTerminalState } from '@gpulink/sdk';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useEffect, useState } from 'react';
import { JobDetail } from './components/JobDetail.js';
import { useJobView } from './hooks/use-job-view.js';
import type { JobView } from './job-view.js';

export interface FollowJobResult {
  view: JobView | undefined;
  /** True when the user stopped watching a job that goes on running. */
  detached: boolean;
}

/**
 * Follows a job live: epoch and batch bars, the epoch table, the loss chart, the log tail. Ctrl-C
 * asks whether to cancel the job or only stop watching.
 */
export function FollowJob({
  agent,
  job,
  onDone,
}: {
  agent: AgentClient;
  job: Job;
  onDone: (r: FollowJobResult) => void;
}) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const { view, error } = useJobView(agent, job.id, job);
  const [asking, setAsking] = useState(false);
  const [note, setNote] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (view?.state && isTerminalState(view.state)) {
      onDone({ view, detached: false });
      exit();
    }
  }, [view, exit, onDone]);

  useInput((input, key) => {
    if (!asking) {
      if (key.ctrl && input === 'c') setAsking(true);
      return;
    }
    if (input === 'c') {
      setAsking(false);
      setNote('cancelling…');
      job
        .cancel({ reason: 'cancelled from the terminal' })
        .catch((e: Error) => setNote(`cancel failed: ${e.message}`));
    } else if (input === 'w' || (key.ctrl && input === 'c')) {
      onDone({ view, detached: true });
      exit();
    } else if (key.escape || input === 'r') {
      setAsking(false);
    }
  });

  return (
    <Box flexDirection="column">
      {view ? (
        <JobDetail view={view} width={stdout.columns ?? 80} />
      ) : (
        <Text dimColor>connecting to {job.id}…</Text>
      )}
      {error ? <Text color="red">stream lost: {error.message}</Text> : null}
      {note ? <Text color="yellow">{note}</Text> : null}
      {asking ? (
        <Text color="yellow">
          Stop? <Text bold>c</Text> cancel the job · <Text bold>w</Text> stop watching (it keeps running) ·{' '}
          <Text bold>r</Text> resume watching
        </Text>
      ) : view?.state && isTerminalState(view.state) ? null : (
        <Text dimColor>ctrl-c: cancel or stop watching</Text>
      )}
    </Box>
  );
}
