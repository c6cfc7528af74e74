import { type AgentClient, hasStatus, type Job } from '@gpulink/sdk';
import { CliError, EXIT } from '../cli-error.js';

/** Ids named in an "ambiguous" message, at most. */
const SHOWN_MATCHES = 10;

/**
 * The job a JOB argument names: a full id, or any prefix of one that no other job's id starts with
 * (the dashboard shows such prefixes). A full id costs one GetJob; anything else is looked up among
 * all jobs (ListJobs). NOT_FOUND when no id starts with it; a usage error naming the ids when several do.
 */
export async function resolveJob(agent: AgentClient, arg: string): Promise<Job> {
  try {
    return await agent.jobs.get(arg);
  } catch (error) {
    if (!hasStatus(error, 'NOT_FOUND')) throw error;
  }
  const matches = arg
    ? (await agent.jobs.list({ limit: Number.MAX_SAFE_INTEGER })).filter((j) => j.id.startsWith(arg))
    : [];
  const [only, ...others] = matches;
  if (!only) throw new CliError(`NOT_FOUND: no job id starts with "${arg}" (\`gpulink jobs\` lists them)`);
  if (others.length === 0) return agent.jobs.get(only.id);
  const shown = matches.slice(0, SHOWN_MATCHES).map((j) => j.id);
  const more = matches.length > shown.length ? `, and ${matches.length - shown.length} more` : '';
  throw new CliError(
    `INVALID_ARGUMENT: "${arg}" is the start of ${matches.length} job ids: ${shown.join(', ')}${more}; give more of the id`,
    EXIT.usage,
  );
}
