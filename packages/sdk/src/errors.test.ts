import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it, vi } from 'vitest';
import { GpulinkError, hasStatus, statusName, toGpulinkError } from './errors.js';
import { isJobFailed, JobFailedError } from './job-failed-error.js';
import { emptyJobSummary } from './job-summary.js';
import type { JobSummary } from './types.js';

function serviceError(code: number, details: string) {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

const summary = (over: Partial<JobSummary>): JobSummary => ({
  ...emptyJobSummary('job_1'),
  state: 'failed',
  lastSeq: 3,
  ...over,
});

describe('GpulinkError', () => {
  it('maps a grpc-js status error: code name, prefixed message, details, method and cause', () => {
    const raw = serviceError(status.UNAUTHENTICATED, "wrong token: it does not match the agent's token");
    const e = toGpulinkError(raw, 'AgentService.GetInfo');
    expect(e).toBeInstanceOf(GpulinkError);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toBe("UNAUTHENTICATED: wrong token: it does not match the agent's token");
    expect(e.details).toBe("wrong token: it does not match the agent's token");
    expect(e.method).toBe('AgentService.GetInfo');
    expect(e.cause).toBe(raw);
    expect(e.name).toBe('GpulinkError');
    expect(hasStatus(e, 'UNAUTHENTICATED')).toBe(true);
    expect(hasStatus(e, 'NOT_FOUND')).toBe(false);
  });

  it('names every gRPC status code', () => {
    for (let code = 0; code <= 16; code++) expect(statusName(code)).toBe(status[code]);
    expect(statusName(99)).toBe('UNKNOWN');
  });

  it('maps file-system errors to the status a server would use', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, stat '/nope'"), {
      code: 'ENOENT',
    });
    expect(toGpulinkError(enoent)).toMatchObject({ code: 'NOT_FOUND', cause: enoent });
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    expect(toGpulinkError(eacces).code).toBe('PERMISSION_DENIED');
    expect(toGpulinkError('boom')).toMatchObject({ code: 'UNKNOWN', message: 'UNKNOWN: boom' });
  });

  it("says why a connection failed in words, after where it looked, without grpc-js's framing", () => {
    const failed = (cause: string) =>
      toGpulinkError(
        Object.assign(new Error('x'), {
          code: status.UNAVAILABLE,
          details: `No connection established. Last error: Error: ${cause}. Resolution note: `,
          metadata: new Metadata(),
        }),
        'AgentService.GetInfo',
        'cannot reach the agent at box.invalid:7000',
      ).message;
    expect(failed('getaddrinfo ENOTFOUND box.invalid')).toBe(
      'UNAVAILABLE: cannot reach the agent at box.invalid:7000: no such host',
    );
    expect(failed('connect ETIMEDOUT 10.0.0.9:7000')).toBe(
      'UNAVAILABLE: cannot reach the agent at box.invalid:7000: the connection timed out',
    );
    // An errno without words of its own keeps its text.
    expect(failed('connect EWEIRD 10.0.0.9:7000')).toBe(
      'UNAVAILABLE: connect EWEIRD 10.0.0.9:7000 (cannot reach the agent at box.invalid:7000)',
    );
  });

  it('returns a GpulinkError unchanged', () => {
    const e = new GpulinkError('DATA_LOSS', 'bad');
    expect(toGpulinkError(e, 'X.Y')).toBe(e);
    expect(hasStatus(e, 'DATA_LOSS')).toBe(true);
  });

  it('hasStatus matches only its own code, and only GpulinkErrors', () => {
    const e = new GpulinkError('UNAVAILABLE', 'down');
    expect(hasStatus(e, 'UNAVAILABLE')).toBe(true);
    expect(hasStatus(e, 'INVALID_ARGUMENT')).toBe(false);
    expect(hasStatus(e, 'CANCELLED')).toBe(false);
    expect(hasStatus(Object.assign(new Error('x'), { code: 'UNAVAILABLE' }), 'UNAVAILABLE')).toBe(false);
    expect(hasStatus(undefined, 'UNAVAILABLE')).toBe(false);
  });

  it('keeps instanceof working across two copies of the package', async () => {
    vi.resetModules();
    // A query string makes the module loader evaluate the file again: a second copy of the classes.
    const specifier = './errors.js?copy';
    const copy = (await import(/* @vite-ignore */ specifier)) as typeof import('./errors.js');
    expect(copy.GpulinkError).not.toBe(GpulinkError);
    const fromCopy = new copy.GpulinkError('NOT_FOUND', 'no job');
    expect(fromCopy).toBeInstanceOf(GpulinkError);
    expect(hasStatus(fromCopy, 'NOT_FOUND')).toBe(true);
    expect(new GpulinkError('NOT_FOUND', 'x')).toBeInstanceOf(copy.GpulinkError);
    const jobSpecifier = './job-failed-error.js?copy';
    const jobCopy = (await import(/* @vite-ignore */ jobSpecifier)) as typeof import('./job-failed-error.js');
    const failedCopy = new jobCopy.JobFailedError(summary({}));
    expect(failedCopy).toBeInstanceOf(JobFailedError);
    expect(failedCopy).toBeInstanceOf(GpulinkError);
    expect(isJobFailed(failedCopy)).toBe(true);
    // A plain GpulinkError is not a JobFailedError, whichever copy asks.
    expect(fromCopy).not.toBeInstanceOf(JobFailedError);
    expect(new Error('x')).not.toBeInstanceOf(GpulinkError);
  });
});

describe('JobFailedError', () => {
  it('puts the failure in the message and picks a code from its kind', () => {
    const e = new JobFailedError(
      summary({
        error: {
          kind: 'exception',
          message: 'boom',
          exceptionType: 'ValueError',
          traceback: 'Traceback',
          signal: undefined,
          exitCode: 1,
          peakCudaMemoryBytes: 0,
          postMortem: { stats: [], logs: [] },
        },
      }),
    );
    expect(e.message).toBe('ABORTED: job job_1 failed: ValueError: boom');
    expect(e.state).toBe('failed');
    expect(e.failure?.traceback).toBe('Traceback');
    expect(e.name).toBe('JobFailedError');
  });

  it('reports cancelled and interrupted jobs with their own codes', () => {
    const cancelled = new JobFailedError(summary({ state: 'cancelled', stateReason: 'cancelled by client' }));
    expect(cancelled.message).toBe('CANCELLED: job job_1 cancelled: cancelled by client');
    const interrupted = new JobFailedError(summary({ state: 'interrupted' }));
    expect(interrupted.code).toBe('UNAVAILABLE');
    expect(interrupted.message).toContain('resume it with job.resume()');
  });
});
