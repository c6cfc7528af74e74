import type { AgentClient, Job } from '@gpulink/sdk';
import { isTerminalState } from '@gpulink/sdk';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { JobView } from '../view/job-view.js';
import { JobDetail } from './components/JobDetail.js';
import { useJobView } from './hooks/use-job-view.js';

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
  const [asking, showAsking] = useState(false);
  // What the key handler reads: a state update reaches the handler only after the next render's
  // effects, so a quick second Ctrl-C would still meet the handler that has not asked yet.
  const askingNow = useRef(false);
  const setAsking = (value: boolean) => {
    askingNow.current = value;
    showAsking(value);
  };
  const [note, setNote] = useState<string | undefined>(undefined);
  // The elapsed time moves on between events.
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    if (view?.state && isTerminalState(view.state)) {
      onDone({ view, detached: false });
      exit();
    }
  }, [view, exit, onDone]);

  useInput((input, key) => {
    if (!askingNow.current) {
      if (key.ctrl && input === 'c') setAsking(true);
      return;
    }
    // Ctrl-C arrives as input 'c' with ctrl set: it must be told apart from a plain 'c' first.
    if (input === 'w' || (key.ctrl && input === 'c')) {
      onDone({ view, detached: true });
      exit();
    } else if (input === 'c') {
      setAsking(false);
      setNote('cancelling…');
      job
        .cancel({ reason: 'cancelled from the terminal' })
        .then(() => setNote('cancel sent; the job stops within a batch'))
        .catch((e: Error) => setNote(`cancel failed: ${e.message}`));
    } else if (key.escape || input === 'r') {
      setAsking(false);
    }
  });

  return (
    <Box flexDirection="column">
      {view ? (
        <JobDetail
          view={view}
          width={Math.min(stdout.columns ?? 80, 120)}
          chartRows={chartRowsFor(stdout.rows ?? 24)}
          now={now}
          modelLine={false}
        />
      ) : (
        <Text dimColor>connecting to {job.id}…</Text>
      )}
      {error ? <Text color="red">stream lost: {error.message}</Text> : null}
      {/* A note about a cancel holds until the job has ended: the outcome says the rest. */}
      {note && !(view?.state && isTerminalState(view.state)) ? <Text color="yellow">{note}</Text> : null}
      {asking ? (
        <Text color="yellow">
          Stop? <Text bold>c</Text> cancel the job · <Text bold>w</Text> or <Text bold>ctrl-c</Text> stop
          watching (it keeps running) · <Text bold>r</Text> resume watching
        </Text>
      ) : view?.state && isTerminalState(view.state) ? null : (
        <Text dimColor>ctrl-c: cancel or stop watching</Text>
      )}
    </Box>
  );
}

/** Chart rows that leave room for the bars, the epoch table and the log tail: sparklines below 34 rows. */
function chartRowsFor(rows: number): number | undefined {
  return rows >= 34 ? Math.min(12, rows - 26) : undefined;
}
