import { type AgentClient, isTerminalState } from '@gpulink/sdk';
import { Box, Text, useApp, useInput } from 'ink';
import { useState } from 'react';
import { abbreviateIds } from '../view/format.js';
import { AgentHeader } from './components/AgentHeader.js';
import { AgentsPane } from './components/AgentsPane.js';
import { GpuPanel } from './components/GpuPanel.js';
import { HelpOverlay } from './components/HelpOverlay.js';
import { JobDetail } from './components/JobDetail.js';
import { JobsList } from './components/JobsList.js';
import { clampScroll, LogPane } from './components/LogPane.js';
import { type Reconnect, useAgentConnection } from './hooks/use-agent-connection.js';
import type { AgentSummary } from './hooks/use-agents.js';
import { useJobView } from './hooks/use-job-view.js';
import { useJobs } from './hooks/use-jobs.js';
import { useStats } from './hooks/use-stats.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { nextSortKey, type SortKey, shownJobs } from './job-list.js';
import { agentPaneLines, BORDER_COLUMNS, BORDER_ROWS, dashboardLayout, gpuPaneLines } from './layout.js';

/** Several saved agents (AgentsDashboard): what each one is doing, which one is shown, the next. */
export interface DashboardAgents {
  summaries: AgentSummary[];
  shown: string;
  next: () => void;
}

/** What fills the space between the GPU pane and the key line. */
type Screen = 'main' | 'help' | 'job' | 'logs';

/**
 * `gpulink` in a terminal: GPUs and host, the job list, and the selected job in detail; Enter opens
 * a job on the whole screen, `l` its log, `?` the keys. Laid out to the terminal's size (see
 * layout.ts), so no frame is taller or wider than the screen.
 */
export function Dashboard({
  agent: initial,
  reconnect,
  agents,
  pollMs = 2000,
}: {
  agent: AgentClient;
  /** How to connect again when the agent goes away; without it the dashboard says it is gone. */
  reconnect?: Reconnect;
  /** With several saved agents: the agents pane, and `a` shows the next one. */
  agents?: DashboardAgents;
  pollMs?: number;
}) {
  const { exit } = useApp();
  const size = useTerminalSize();
  const { agent, connection, lost } = useAgentConnection(initial, reconnect);
  const { history, stale } = useStats(agent, { onLost: lost });
  const { jobs, error: listError } = useJobs(agent, { pollMs, onLost: lost });
  const [sort, setSort] = useState<SortKey>('newest');
  const [filter, setFilter] = useState('');
  const [editingFilter, setEditingFilter] = useState(false);
  const [screen, setScreen] = useState<Screen>('main');
  /** Where Esc goes back to from the log. */
  const [logFrom, setLogFrom] = useState<Screen>('main');
  /** Log lines scrolled up from the newest; 0 follows the tail. */
  const [logScroll, setLogScroll] = useState(0);
  /** The selected job, by id: a new job above it in the list does not take the selection. */
  const [selectedId, setSelectedId] = useState<string | undefined>(undefined);
  const [confirmCancel, setConfirmCancel] = useState(false);
  /** A word about one job (a cancel sent or refused), shown while that job is selected and running. */
  const [note, setNote] = useState<{ jobId: string; text: string } | undefined>(undefined);

  const shown = shownJobs(jobs, sort, filter);
  // What shows first stays selected until a key moves it; the first again when it has left the list.
  const current = shown.find((j) => j.id === selectedId) ?? shown[0];
  const select = (step: number) => {
    const i = shown.findIndex((j) => j.id === current?.id);
    const next = shown[Math.min(shown.length - 1, Math.max(0, i + step))];
    if (next) setSelectedId(next.id);
  };
  if (selectedId === undefined && current) setSelectedId(current.id);
  const shortIds = abbreviateIds(jobs.map((j) => j.id));
  const cancellable = current !== undefined && !isTerminalState(current.state);
  const shownNote = note && cancellable && note.jobId === current.id ? note.text : undefined;
  const { view, output } = useJobView(agent, current?.id);

  const latest = history.at(-1);
  const agentLines = agentPaneLines(agents?.summaries.length ?? 0);
  const layout = dashboardLayout(
    size,
    gpuPaneLines(latest?.gpus.length ?? 0, latest?.processes.length ?? 0),
    agentLines,
  );
  // The log fills the body less its border and title; a page is that many lines less one of context.
  const logRows = layout.bodyRows - BORDER_ROWS - 1;
  const scrollLog = (by: number) => setLogScroll((s) => clampScroll(s + by, output.length, logRows));
  const openLog = (from: Screen) => {
    setLogFrom(from);
    setLogScroll(0);
    setScreen('logs');
  };

  useInput((input, key) => {
    if (key.ctrl && input === 'c') return exit();
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
    if (editingFilter) {
      if (key.return) setEditingFilter(false);
      else if (key.escape) {
        setFilter('');
        setEditingFilter(false);
      } else if (key.backspace || key.delete) setFilter((f) => f.slice(0, -1));
      else if (input && !key.ctrl && !key.meta) setFilter((f) => f + input);
      return;
    }
    if (screen === 'help') {
      if (input === 'q') exit();
      else setScreen('main');
      return;
    }
    if (input === 'q') return exit();
    if (input === '?') return setScreen('help');
    if (input === 'c' && cancellable) return setConfirmCancel(true);
    if (input === 'a' && agents && screen !== 'logs') return agents.next();
    if (screen === 'logs') {
      if (key.escape || input === 'l') setScreen(logFrom);
      else if (key.upArrow || input === 'k') scrollLog(1);
      else if (key.downArrow || input === 'j') scrollLog(-1);
      else if (key.pageUp) scrollLog(logRows - 1);
      else if (key.pageDown) scrollLog(-(logRows - 1));
      else if (input === 'g') scrollLog(Number.MAX_SAFE_INTEGER);
      else if (input === 'G') setLogScroll(0);
      return;
    }
    if (screen === 'job') {
      if (key.escape || key.backspace) setScreen('main');
      else if (input === 'l') openLog('job');
      return;
    }
    if (key.upArrow || input === 'k') select(-1);
    else if (key.downArrow || input === 'j') select(1);
    else if (key.return && current) setScreen('job');
    else if (input === 'l') openLog('main');
    else if (input === 's') setSort(nextSortKey);
    else if (input === '/') {
      setEditingFilter(true);
    } else if (key.escape) setFilter('');
  });

  const inner = layout.width - BORDER_COLUMNS;
  const body = (() => {
    if (screen === 'help')
      return (
        <Pane height={layout.bodyRows} width={layout.width}>
          <HelpOverlay rows={layout.bodyRows - BORDER_ROWS} />
        </Pane>
      );
    if (screen === 'logs')
      return (
        <Pane height={layout.bodyRows} width={layout.width} title={current ? `log of ${current.id}` : 'log'}>
          <LogPane lines={output} selected={view !== undefined} rows={logRows} fromEnd={logScroll} />
        </Pane>
      );
    if (screen === 'job')
      return (
        <Pane height={layout.bodyRows} width={layout.width}>
          {view ? <JobDetail view={view} logLines={0} width={inner} /> : <Text dimColor>select a job</Text>}
        </Pane>
      );
    return (
      <Box flexDirection="row" height={layout.bodyRows}>
        <JobsList
          jobs={shown}
          shortIds={shortIds}
          selectedId={current?.id}
          sort={sort}
          filter={filter}
          editingFilter={editingFilter}
          total={jobs.length}
          error={listError}
          width={layout.jobsWidth}
          height={layout.bodyRows}
        />
        <Pane height={layout.bodyRows} width={layout.detailWidth}>
          {view ? (
            <JobDetail view={view} logLines={3} width={layout.detailWidth - BORDER_COLUMNS} />
          ) : (
            <Text dimColor>select a job</Text>
          )}
        </Pane>
      </Box>
    );
  })();

  return (
    <Box flexDirection="column" width={layout.width} height={layout.height} overflow="hidden">
      <AgentHeader agent={agent} connection={connection} stale={stale} context={agents?.shown} />
      {agents && agentLines > 0 ? (
        <AgentsPane summaries={agents.summaries} shown={agents.shown} rows={agentLines} />
      ) : null}
      <Box
        borderStyle="round"
        paddingX={1}
        flexDirection="column"
        height={layout.gpuRows + BORDER_ROWS}
        flexShrink={0}
        overflow="hidden"
      >
        <GpuPanel history={history} width={inner} rows={layout.gpuRows} />
      </Box>
      {body}
      <KeyLine
        screen={screen}
        confirm={confirmCancel ? current?.id : undefined}
        note={shownNote}
        cancellable={cancellable}
        editingFilter={editingFilter}
        agents={agents !== undefined}
      />
    </Box>
  );
}

/** A bordered pane of a fixed size whose content is cut, never wrapped or grown, to fit it. */
function Pane({
  height,
  width,
  title,
  children,
}: {
  height: number;
  width: number;
  title?: string;
  children: React.ReactNode;
}) {
  return (
    <Box
      borderStyle="round"
      paddingX={1}
      flexDirection="column"
      height={height}
      width={width}
      flexShrink={0}
      overflow="hidden"
    >
      {title ? (
        <Text bold wrap="truncate-end">
          {title}
        </Text>
      ) : null}
      {children}
    </Box>
  );
}

/** The bottom line: the question asked, a note, or the keys of this screen. */
function KeyLine({
  screen,
  confirm,
  note,
  cancellable,
  editingFilter,
  agents,
}: {
  screen: Screen;
  confirm: string | undefined;
  note: string | undefined;
  cancellable: boolean;
  editingFilter: boolean;
  agents: boolean;
}) {
  if (confirm)
    return (
      <Text color="yellow" wrap="truncate-end">
        cancel {confirm}? y / n
      </Text>
    );
  if (note)
    return (
      <Text color="yellow" wrap="truncate-end">
        {note}
      </Text>
    );
  const c = cancellable ? 'c cancel · ' : '';
  const a = agents ? 'a agent · ' : '';
  const keys: Record<Screen, string> = {
    main: `↑/↓ select · Enter open · l log · s sort · / filter · ${c}${a}? help · q quit`,
    job: `Esc back · l log · ${c}${a}? help · q quit`,
    logs: `↑/↓ j/k line · PgUp/PgDn page · g/G start/end · Esc back · ${c}q quit`,
    help: 'any key closes the help · q quit',
  };
  return (
    <Text dimColor wrap="truncate-end">
      {editingFilter ? 'type to filter · Enter keep · Esc clear' : keys[screen]}
    </Text>
  );
}
