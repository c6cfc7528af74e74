import type { AgentClient, Job } from '@gpulink/sdk';
import { render } from 'ink';
import { exitCodeFor, summaryLines } from '../view/job-lines.js';
import { Dashboard } from './Dashboard.js';
import { FollowJob, type FollowJobResult } from './FollowJob.js';
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

/** The dashboard, until `q`. */
export async function runDashboard(agent: AgentClient): Promise<void> {
  const app = render(<Dashboard agent={agent} />, { exitOnCtrlC: false });
  await app.waitUntilExit();
}
