import { GpulinkError } from './errors.js';
import type { AgentInfo } from './types.js';

/**
 * The GPU count a job's `gpus` option asks for, checked against the agent's GPUs (its GetInfo):
 * `'all'` is every GPU it has; undefined is left to the agent (one GPU when it has any, else the
 * CPU). Asking for more than the agent has throws INVALID_ARGUMENT with the count it has, so a
 * caller can refuse before uploading anything.
 *
 * @example
 * ```ts
 * const gpuCount = gpuCountFor('all', agent.info); // 2 on a Kaggle box with two T4s
 * ```
 */
export function gpuCountFor(
  gpus: number | 'all' | undefined,
  info: Pick<AgentInfo, 'gpus'>,
): number | undefined {
  const has = info.gpus.length;
  if (gpus === 'all') {
    if (has === 0)
      throw new GpulinkError('INVALID_ARGUMENT', 'gpus: "all" asked for, but this agent has no GPU');
    return has;
  }
  if (gpus === undefined) return undefined;
  if (!Number.isInteger(gpus) || gpus < 0)
    throw new GpulinkError('INVALID_ARGUMENT', `gpus: a whole number >= 0 or "all", got ${gpus}`);
  if (gpus > has)
    throw new GpulinkError(
      'INVALID_ARGUMENT',
      `gpus: the job asks for ${gpus} GPU(s) but this agent has ${has}`,
    );
  return gpus;
}
