import { ErrorKind, JobState } from '@gpulink/proto';
import { describe, expect, it } from 'vitest';
import { howRunEnded, type RunFacts } from './run-outcome.js';

/** A run that nothing stopped, whose worker said it succeeded and exited 0. */
const facts = (over: Partial<RunFacts> = {}): RunFacts => ({
  logFailed: false,
  agentStopping: false,
  stop: { kind: 'none' },
  outcome: 'succeeded',
  errorLogged: false,
  exit: { code: 0, signal: null },
  stderrTail: '',
  ...over,
});
const cancelled = { kind: 'cancelled', reason: 'cancelled by a client' } as const;

describe('howRunEnded', () => {
  it('records nothing once the log has failed, whatever else happened', () => {
    expect(howRunEnded(facts({ logFailed: true, agentStopping: true, stop: cancelled }))).toEqual({
      kind: 'unlogged',
    });
  });

  it('is INTERRUPTED when the agent shut down under it, even after a cancel or a timeout', () => {
    for (const stop of [cancelled, { kind: 'timedOut', reason: 'late' } as const]) {
      expect(
        howRunEnded(facts({ agentStopping: true, stop, exit: { code: null, signal: 'SIGTERM' } })),
      ).toEqual({
        kind: 'ended',
        state: JobState.JOB_STATE_INTERRUPTED,
        reason: 'the agent shut down while the job was running',
      });
    }
  });

  it('fails a timed-out run with a TIMEOUT error carrying the reason it was stopped for', () => {
    expect(
      howRunEnded(facts({ stop: { kind: 'timedOut', reason: 'ran past 5 ms' }, outcome: 'cancelled' })),
    ).toEqual({
      kind: 'ended',
      state: JobState.JOB_STATE_FAILED,
      reason: '',
      error: { kind: ErrorKind.ERROR_KIND_TIMEOUT, message: 'ran past 5 ms' },
    });
  });

  it('is CANCELLED with the cancel reason when the worker stopped, was killed, or logged no error', () => {
    const cancelledEnd = { kind: 'ended', state: JobState.JOB_STATE_CANCELLED, reason: cancelled.reason };
    expect(howRunEnded(facts({ stop: cancelled, outcome: 'cancelled', errorLogged: true }))).toEqual(
      cancelledEnd,
    );
    const killed = { code: null, signal: 'SIGKILL' } as const;
    expect(
      howRunEnded(facts({ stop: cancelled, outcome: undefined, errorLogged: true, exit: killed })),
    ).toEqual(cancelledEnd);
    expect(howRunEnded(facts({ stop: cancelled, outcome: 'succeeded' }))).toEqual(cancelledEnd);
  });

  it("keeps the worker's own ending when a cancelled worker logged its error and exited by itself", () => {
    const failedEnd = { kind: 'ended', state: JobState.JOB_STATE_FAILED, reason: '' };
    expect(
      howRunEnded(
        facts({ stop: cancelled, outcome: undefined, errorLogged: true, exit: { code: 1, signal: null } }),
      ),
    ).toEqual(failedEnd);
  });

  it('succeeds only on a clean exit after done: succeeded', () => {
    expect(howRunEnded(facts())).toEqual({ kind: 'ended', state: JobState.JOB_STATE_SUCCEEDED, reason: '' });
    expect(howRunEnded(facts({ outcome: 'cancelled' }))).toEqual({
      kind: 'ended',
      state: JobState.JOB_STATE_CANCELLED,
      reason: 'cancelled',
    });
  });

  it('fails without adding an error when the worker logged its own', () => {
    expect(
      howRunEnded(facts({ outcome: undefined, errorLogged: true, exit: { code: 1, signal: null } })),
    ).toEqual({
      kind: 'ended',
      state: JobState.JOB_STATE_FAILED,
      reason: '',
    });
  });

  it('names the signal that killed a worker, and the exit of one that reported nothing', () => {
    expect(howRunEnded(facts({ outcome: undefined, exit: { code: null, signal: 'SIGKILL' } }))).toMatchObject(
      {
        state: JobState.JOB_STATE_FAILED,
        error: {
          kind: ErrorKind.ERROR_KIND_KILLED,
          message: 'the worker was killed by SIGKILL (often the kernel out-of-memory killer)',
          signal: 'SIGKILL',
        },
      },
    );
    expect(
      howRunEnded(
        facts({ outcome: 'succeeded', exit: { code: 3, signal: null }, stderrTail: 'Segmentation fault' }),
      ),
    ).toMatchObject({
      state: JobState.JOB_STATE_FAILED,
      error: {
        kind: ErrorKind.ERROR_KIND_WORKER_EXIT,
        message: 'the worker exited with code 3 without reporting an error: Segmentation fault',
        exitCode: 3,
      },
    });
  });
});
