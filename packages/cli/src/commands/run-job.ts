import type { AgentClient, Job } from '@gpulink/sdk';
import { loadTerminalUi } from '../terminal-ui.js';
import { exitCodeFor } from '../view/job-lines.js';
import { type GlobalOptions, outputMode, printJson, printLine } from './context.js';
import { followJobPlain } from './follow.js';

/**
 * What every submitting command does after submitting: `--detach` prints the job id and returns;
 * otherwise it follows the job (Ink in a terminal, plain lines or NDJSON otherwise) and exits with
 * the job's outcome.
 */
export async function followOrDetach(
  agent: AgentClient,
  job: Job,
  options: GlobalOptions & { detach?: boolean },
): Promise<number> {
  const mode = outputMode(options);
  if (options.detach) {
    if (mode === 'json') printJson({ jobId: job.id, state: job.info.state });
    else printLine(job.id);
    return 0;
  }
  if (mode !== 'interactive') return exitCodeFor(await followJobPlain(job, mode));
  const { followInTerminal } = await loadTerminalUi();
  return followInTerminal(agent, job);
}
