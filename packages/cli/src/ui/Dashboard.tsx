import { type AgentClient, isTerminalState, type JobInfo } from '@gpulink/sdk';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useEffect, useState } from 'react';
import { abbreviateIds, formatAge } from '../view/format.js';
import { GpuPanel } from './components/GpuPanel.js';
import { JobDetail } from './components/JobDetail.js';
import { useJobView } from './hooks/use-job-view.js';
import { useStats } from './hooks/use-stats.js';

/** `gpulink` in a terminal: GPUs and host, the job list, and the selected job in detail. */
export function Dashboard({ agent, pollMs = 2000 }: { agent: AgentClient; pollMs?: number }) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const width = stdout.columns ?? 100;
  const { history, stale, error: statsError } = useStats(agent);
  const [jobs, setJobs] = useState<JobInfo[]>([]);
  const [listError, setListError] = useState<string | undefined>(undefined);
  /** The selected job, by id: a new job above it in the list does not take the selection. */
  const [selectedId, setSelectedId] = useState<string | undefined>(undefined);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [showLogs, setShowLogs] = useState(false);
  /** A word about one job (a cancel sent or refused), shown while that job is selected and running. */
  const [note, setNote] = useState<{ jobId: string; text: string } | undefined>(undefined);

  useEffect(() => {
    let alive = true;
    const poll = () =>
      agent.jobs.list({ limit: 20 }).then(
        (list) => {
          if (!alive) return;
          setJobs(list);
          // What shows first stays selected until a key moves it.
          setSelectedId((id) => id ?? list[0]?.id);
          setListError(undefined);
        },
        (e: Error) => alive && setListError(e.message),
      );
    poll();
    const timer = setInterval(poll, pollMs);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [agent, pollMs]);

  // The newest job until one is chosen, and the newest again when the chosen one has left the list.
  const current = jobs.find((j) => j.id === selectedId) ?? jobs[0];
  const select = (step: number) => {
    const i = jobs.findIndex((j) => j.id === current?.id);
    const next = jobs[Math.min(jobs.length - 1, Math.max(0, i + step))];
    if (next) setSelectedId(next.id);
  };
  const shortIds = abbreviateIds(jobs.map((j) => j.id));
  const cancellable = current !== undefined && !isTerminalState(current.state);
  const shownNote = note && cancellable && note.jobId === current.id ? note.text : undefined;
  const { view } = useJobView(agent, current?.id);

  useInput((input, key) => {
    if (confirmCancel) {
      if (input === 'y' && current) {
        const jobId = current.id;
        agent.jobs.cancel(jobId, { reason: 'cancelled from the dashboard' }).then(
          () => setNote({ jobId, text: `cancel sent to ${jobId}` }),
          (e: Error) => setNote({ jobId, text: `cancel failed: ${e.message}` }),
        );
      }
      setConfirmCancel(false);
      return;
    }
    if (input === 'q' || (key.ctrl && input === 'c')) exit();
    else if (key.upArrow || input === 'k') select(-1);
    else if (key.downArrow || input === 'j') select(1);
    else if (input === 'c' && cancellable) setConfirmCancel(true);
    else if (input === 'l') setShowLogs((s) => !s);
  });

  return (
    <Box flexDirection="column">
      <Text>
        <Text bold color="cyan">
          gpulink
        </Text>{' '}
        <Text dimColor>{agent.displayUrl}</Text>{' '}
        <Text dimColor>
          {agent.info.hostname} · torch {agent.info.torchVersion ?? '?'} · fastai{' '}
          {agent.info.fastaiVersion ?? '?'}
        </Text>
        {stale ? <Text color="yellow"> reconnecting…</Text> : null}
      </Text>
      <Box borderStyle="round" paddingX={1} flexDirection="column">
        <GpuPanel history={history} width={width} />
        {statsError ? <Text color="red">stats: {statsError.message}</Text> : null}
      </Box>
      <Box flexDirection="row">
        <Box
          borderStyle="round"
          paddingX={1}
          flexDirection="column"
          width={Math.min(46, Math.floor(width / 2.5))}
        >
          <Text bold>jobs</Text>
          {jobs.length === 0 ? <Text dimColor>no jobs yet — try `gpulink demo`</Text> : null}
          {jobs.map((j) => (
            <Text key={j.id} inverse={j.id === current?.id} wrap="truncate-end">
              {shortIds.get(j.id)} {j.state.padEnd(11)} {j.name || j.task.type}{' '}
              <Text dimColor>{formatAge(j.createdAt)}</Text>
            </Text>
          ))}
          {listError ? <Text color="red">{listError}</Text> : null}
        </Box>
        <Box borderStyle="round" paddingX={1} flexDirection="column" flexGrow={1}>
          {view ? (
            <JobDetail view={view} logLines={showLogs ? 20 : 5} width={width - 50} />
          ) : (
            <Text dimColor>select a job</Text>
          )}
        </Box>
      </Box>
      {shownNote ? <Text color="yellow">{shownNote}</Text> : null}
      {confirmCancel ? (
        <Text color="yellow">cancel {current?.id}? y / n</Text>
      ) : (
        <Text dimColor>↑/↓ select · {cancellable ? 'c cancel · ' : ''}l logs · q quit</Text>
      )}
    </Box>
  );
}
