// The agent's reading of what a worker writes on fd 3 (python/PROTOCOL.md). WorkerProcess splits the
// pipe into JSON objects; this decides what each one means, so a bad line is a warning, never a crash.
import { JobEvent } from '@gpulink/proto';
import { contractType, validateJson } from '../rpc/contract.js';

/** The payload of one job event, as the job's log takes it. */
export type EventKind = NonNullable<JobEvent['kind']>;

/** How a worker says it finished, in its last line (`done`). */
export type WorkerOutcome = 'succeeded' | 'cancelled';

/** The event messages a worker may send on fd 3 (besides `ready` and `done`), named as in JobEvent. */
export const WORKER_EVENT_KINDS = new Set([
  'log',
  'fitStarted',
  'batch',
  'epochEnded',
  'lrFindProgress',
  'lrFindResult',
  'artifact',
  'interpretation',
  'warning',
  'error',
  'predictions',
  'phase',
]);

/**
 * Events that show the job moving (the stall warning waits for one); a phase is the worker saying
 * what it does after training (exporting, interpreting), which may take a while with no other event.
 */
const PROGRESS_KINDS = new Set<string>(['fitStarted', 'batch', 'epochEnded', 'lrFindProgress', 'phase']);

export const isProgress = (kind: EventKind): boolean => PROGRESS_KINDS.has(kind.$case);

/** What one fd-3 message means to the agent. */
export type WorkerMessage =
  | { type: 'done'; outcome: WorkerOutcome }
  | { type: 'event'; kind: EventKind }
  /** Not something a worker may send: it becomes a `bad_worker_output` warning. */
  | { type: 'invalid'; problem: string }
  /** Valid, but carries no event (`{"log": null}`): nothing is recorded. */
  | { type: 'empty' };

const JOB_EVENT_TYPE = contractType('JobEvent');

/** Decides what one well-formed JSON object from a worker's fd 3 (other than `ready`) is. */
export function readWorkerMessage(message: Record<string, unknown>): WorkerMessage {
  const keys = Object.keys(message);
  const key = keys[0];
  if (keys.length !== 1 || !key) {
    return invalid(`a worker message must have exactly one key, got: ${keys.join(', ') || 'none'}`);
  }
  if (key === 'done') {
    const outcome = (message.done as { outcome?: unknown } | null)?.outcome;
    if (outcome !== 'succeeded' && outcome !== 'cancelled') {
      return invalid(`done.outcome must be "succeeded" or "cancelled", got ${JSON.stringify(outcome)}`);
    }
    return { type: 'done', outcome };
  }
  if (!WORKER_EVENT_KINDS.has(key)) return invalid(`the worker sent an unknown message "${key}"`);
  const problem = validateJson(JOB_EVENT_TYPE, message, 'event');
  if (problem) return invalid(`the worker sent an invalid ${key} event: ${problem}`);
  const kind = JobEvent.fromJSON(message).kind;
  return kind ? { type: 'event', kind } : { type: 'empty' };
}

const invalid = (problem: string): WorkerMessage => ({ type: 'invalid', problem });
