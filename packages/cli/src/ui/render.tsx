import type { AgentClient, Job } from '@gpulink/sdk';
import { render } from 'ink';
import type { ReactNode } from 'react';
import { exitCodeFor, summaryLines } from '../view/job-lines.js';
import { AgentsDashboard } from './AgentsDashboard.js';
import { Dashboard } from './Dashboard.js';
import { FollowJob, type FollowJobResult } from './FollowJob.js';
import type { Reconnect } from './hooks/use-agent-connection.js';
import type { AgentContext } from './hooks/use-agents.js';
import { StatsWatch } from './StatsWatch.js';
import { enterAlternateScreen } from './screen.js';
import { showPlotsInline } from './show-plots.js';

/** Follows a job in the Ink view until it ends (or the user stops watching); returns the exit code. */
export async function followInTerminal(
  agent: AgentClient,
  job: Job,
  options: { modelLine?: boolean } = {},
): Promise<number> {
  let result: FollowJobResult = { view: undefined, detached: false };
  const app = render(<FollowJob agent={agent} job={job} onDone={(r) => (result = r)} />, {
    exitOnCtrlC: false,
  });
  await app.waitUntilExit();
  if (result.detached) {
    process.stdout.write(`stopped watching; ${job.id} keeps running (gpulink watch ${job.id})\n`);
    return 0;
  }
  if (!result.view) return 1;
  for (const line of summaryLines(result.view, { model: options.modelLine }))
    process.stdout.write(`${line}\n`);
  await showPlotsInline(job, result.view, process.stdout).catch((e: Error) =>
    process.stderr.write(`(could not show the plots: ${e.message})\n`),
  );
  return exitCodeFor(result.view);
}

/**
 * A full-screen view in the alternate screen until it exits. Ink redraws the frame in place (its
 * incremental mode left stale lines in tmux); a frame is never as tall as the terminal, so Ink never
 * clears the screen (ui/layout.ts).
 */
async function fullScreen(node: ReactNode): Promise<void> {
  const leave = enterAlternateScreen();
  try {
    const app = render(node, { exitOnCtrlC: false });
    await app.waitUntilExit();
  } finally {
    leave();
  }
}

/**
 * The dashboard, until `q`; `reconnect` connects again (re-reading the profile) when the agent goes.
 * With several saved agents (`agents`, `agent` being the one named `shown`) it shows them all.
 */
export async function runDashboard(
  agent: AgentClient,
  reconnect?: Reconnect,
  agents?: { contexts: AgentContext[]; shown: string },
): Promise<void> {
  if (agents)
    await fullScreen(
      <AgentsDashboard contexts={agents.contexts} initial={{ name: agents.shown, client: agent }} />,
    );
  else await fullScreen(<Dashboard agent={agent} reconnect={reconnect} />);
}

/** `stats --watch` in a terminal, until `q` (resolves 'q') or Ctrl-C (resolves 'ctrl-c'). */
export async function runStatsWatch(
  agent: AgentClient,
  intervalMs: number,
  reconnect?: Reconnect,
): Promise<'q' | 'ctrl-c'> {
  let how: 'q' | 'ctrl-c' = 'q';
  await fullScreen(
    <StatsWatch agent={agent} intervalMs={intervalMs} reconnect={reconnect} onQuit={(h) => (how = h)} />,
  );
  return how;
}
