// The resume logic of job.events() and job.wait(), driven through a real grpc-js server (a test double
// of the agent that only replays an in-memory log) and a TCP proxy that cuts the connection.

import { startTcpProxy, type TcpProxy } from '@gpulink/gpu-agent/testing';
import { applyJobEvent, JobState, Job as ProtoJob } from '@gpulink/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentClient, connect } from './client.js';
import { jobInfo } from './convert.js';
import { GpulinkError } from './errors.js';
import { JobFailedError } from './job-failed-error.js';
import { makeJobLog, startWatchJobDouble, type WatchJobDouble } from './test-utils/watch-job-double.js';
import type { JobEvent, JobInfo, JobSummary } from './types.js';

const jobId = 'job_double';
const fast = { initialDelayMs: 5, maxDelayMs: 20 };

let double: WatchJobDouble | undefined;
let proxy: TcpProxy | undefined;
let agent: AgentClient | undefined;

afterEach(async () => {
  await agent?.close();
  // Streams the SDK left open would show here: every test ends with none.
  await double?.waitForNoOpenCalls();
  await proxy?.close();
  await double?.close();
  agent = undefined;
  proxy = undefined;
  double = undefined;
});

async function collect(iterable: AsyncIterable<JobEvent>): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

describe('job.events() resume', () => {
  it('delivers seq 1..N exactly once and in order while the connection is cut again and again', async () => {
    const n = 400;
    double = await startWatchJobDouble({ events: makeJobLog(jobId, n) });
    proxy = await startTcpProxy(double.port);
    agent = await connect(double.url(proxy.port));
    const job = await agent.jobs.get(jobId);
    // Each connection dies after about 4 KB towards the client: mid-message, many times per stream.
    proxy.cutEachAfterBytesToClient(4096);

    const events = await collect(job.events({ retry: { ...fast, maxAttempts: 5 } }));

    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(double.watchCalls.length).toBeGreaterThan(5);
    // Each resume asked for exactly what came after the last event handed to the consumer.
    expect(double.watchCalls[0]).toBe(0);
    expect(double.watchCalls).toEqual([...double.watchCalls].sort((a, b) => a - b));
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
  });

  it('resumes from afterSeq and after a cut while the consumer is slow', async () => {
    // One event every 10 ms: when the consumer reaches seq 30 the rest has not been sent yet.
    double = await startWatchJobDouble({ events: makeJobLog(jobId, 60), paceEvery: 1, paceMs: 10 });
    proxy = await startTcpProxy(double.port);
    agent = await connect(double.url(proxy.port));
    const job = await agent.jobs.get(jobId);
    const seen: number[] = [];
    for await (const e of job.events({ afterSeq: 10, retry: fast })) {
      seen.push(e.seq);
      if (e.seq === 30) proxy.cutAll();
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
    expect(double.watchCalls[0]).toBe(10);
    expect(double.watchCalls.length).toBeGreaterThanOrEqual(2);
  });

  it('gives up after maxAttempts consecutive failures with an error that says so', async () => {
    double = await startWatchJobDouble({ events: makeJobLog(jobId, 20) });
    proxy = await startTcpProxy(double.port);
    agent = await connect(double.url(proxy.port));
    const job = await agent.jobs.get(jobId);
    proxy.cutAll();
    proxy.refuse(true);
    const error = await collect(job.events({ retry: { ...fast, maxAttempts: 3 } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpulinkError);
    expect((error as GpulinkError).code).toBe('UNAVAILABLE');
    expect((error as GpulinkError).message).toMatch(
      /^UNAVAILABLE: .*gave up after 3 tries in a row.*after seq 0/,
    );
    expect((error as GpulinkError).method).toBe('JobService.WatchJob');
  });

  it('with retry: false fails on the first cut, keeping what it delivered', async () => {
    double = await startWatchJobDouble({ events: makeJobLog(jobId, 50).slice(0, 40), holdOpen: true });
    proxy = await startTcpProxy(double.port);
    agent = await connect(double.url(proxy.port));
    const job = await agent.jobs.get(jobId);
    const seen: number[] = [];
    const error = await (async () => {
      for await (const e of job.events({ retry: false })) {
        seen.push(e.seq);
        if (e.seq === 40) proxy?.cutAll();
      }
    })().catch((e: unknown) => e);
    expect(seen).toHaveLength(40);
    expect((error as GpulinkError).code).toBe('UNAVAILABLE');
    expect(double.watchCalls).toEqual([0]);
  });

  it('breaking out of for-await cancels the call on the agent', async () => {
    double = await startWatchJobDouble({ events: makeJobLog(jobId, 30).slice(0, 25), holdOpen: true });
    agent = await connect(double.url());
    const job = await agent.jobs.get(jobId);
    for await (const e of job.events()) {
      if (e.seq === 5) break;
    }
    await double.waitForNoOpenCalls();
    expect(double.cancelledCalls).toBe(1);
  });

  it('aborting the signal ends the loop with CANCELLED and cancels the call', async () => {
    double = await startWatchJobDouble({ events: makeJobLog(jobId, 30).slice(0, 10), holdOpen: true });
    agent = await connect(double.url());
    const job = await agent.jobs.get(jobId);
    const controller = new AbortController();
    const seen: number[] = [];
    const error = await (async () => {
      for await (const e of job.events({ signal: controller.signal })) {
        seen.push(e.seq);
        if (e.seq === 10) setTimeout(() => controller.abort(new Error('user pressed q')), 20);
      }
    })().catch((e: unknown) => e);
    expect(seen).toHaveLength(10);
    expect(error).toBeInstanceOf(GpulinkError);
    expect((error as GpulinkError).code).toBe('CANCELLED');
    expect((error as GpulinkError).message).toContain('user pressed q');
    await double.waitForNoOpenCalls();
  });

  it('timeoutMs bounds the whole stream with DEADLINE_EXCEEDED', async () => {
    double = await startWatchJobDouble({ events: makeJobLog(jobId, 30).slice(0, 3), holdOpen: true });
    agent = await connect(double.url());
    const job = await agent.jobs.get(jobId);
    const error = await collect(job.events({ timeoutMs: 200 })).catch((e: unknown) => e);
    expect((error as GpulinkError).code).toBe('DEADLINE_EXCEEDED');
  });

  it('close() ends open streams with CANCELLED instead of retrying them', async () => {
    double = await startWatchJobDouble({ events: makeJobLog(jobId, 30).slice(0, 3), holdOpen: true });
    const a = await connect(double.url());
    agent = a;
    const job = await a.jobs.get(jobId);
    const done = collect(job.events()).catch((e: unknown) => e);
    // Closed while the stream is open on the agent, however long that takes to happen.
    while (double.watchCalls.length === 0) await new Promise((r) => setTimeout(r, 10));
    await a.close();
    const error = await done;
    expect((error as GpulinkError).code).toBe('CANCELLED');
    expect((error as GpulinkError).details).toContain('closed');
    expect(double.watchCalls).toHaveLength(1);
  });

  it('refuses a gap in the log with DATA_LOSS rather than skipping events', async () => {
    const log = makeJobLog(jobId, 20).filter((e) => e.seq !== 7);
    double = await startWatchJobDouble({ events: log });
    agent = await connect(double.url());
    const job = await agent.jobs.get(jobId);
    const error = await collect(job.events()).catch((e: unknown) => e);
    expect((error as GpulinkError).code).toBe('DATA_LOSS');
    expect((error as GpulinkError).details).toContain('seq 8 after seq 6');
  });
});

describe('job.wait()', () => {
  it('resolves with the summary of a succeeded job, across cuts', async () => {
    double = await startWatchJobDouble({ events: makeJobLog(jobId, 100) });
    proxy = await startTcpProxy(double.port);
    agent = await connect(double.url(proxy.port));
    const job = await agent.jobs.get(jobId);
    proxy.cutEachAfterBytesToClient(2048);
    let count = 0;
    const summary = await job.wait({ retry: fast, onEvent: () => count++ });
    expect(count).toBe(100);
    expect(summary.state).toBe('succeeded');
    expect(summary.lastSeq).toBe(100);
    // makeJobLog writes an epoch at every tenth seq from 10 to 90.
    expect(summary.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(summary.epochs[1]?.metrics).toEqual({ accuracy: 0.5 });
    expect(summary.startedAt).toEqual(new Date('2026-11-27T08:00:02.000Z'));
  });

  it('rejects with JobFailedError carrying the summary when the job failed', async () => {
    const log = makeJobLog(jobId, 12, JobState.JOB_STATE_FAILED);
    const last = log.pop();
    log.push({
      seq: 12,
      time: new Date(),
      jobId,
      attempt: 1,
      kind: {
        $case: 'error',
        value: {
          kind: 2,
          message: 'CUDA out of memory',
          exceptionType: 'OutOfMemoryError',
          traceback: 'Traceback ...',
          signal: '',
          exitCode: 1,
          peakCudaMemoryBytes: 123,
          postMortem: undefined,
        },
      },
    });
    if (last) log.push({ ...last, seq: 13 });
    double = await startWatchJobDouble({ events: log });
    agent = await connect(double.url());
    const job = await agent.jobs.get(jobId);
    const error = await job.wait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error).toBeInstanceOf(GpulinkError);
    const failed = error as JobFailedError;
    expect(failed.code).toBe('RESOURCE_EXHAUSTED');
    expect(failed.message).toBe(
      `RESOURCE_EXHAUSTED: job ${jobId} failed: OutOfMemoryError: CUDA out of memory`,
    );
    expect(failed.failure?.traceback).toBe('Traceback ...');
    expect(failed.summary.state).toBe('failed');
    expect(failed.summary.epochs).toHaveLength(1);
  });
});

describe('a job interrupted and resumed on the same log', () => {
  /** queued, starting, running, interrupted (attempt 1); queued, starting, running, an epoch, succeeded (attempt 2). */
  function resumedLog() {
    const state = (seq: number, attempt: number, state: JobState, previous: JobState) => ({
      seq,
      time: new Date(1_000 * seq),
      jobId,
      attempt,
      kind: { $case: 'stateChanged' as const, value: { state, previous, reason: '' } },
    });
    return [
      state(1, 1, JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_UNSPECIFIED),
      state(2, 1, JobState.JOB_STATE_STARTING, JobState.JOB_STATE_QUEUED),
      state(3, 1, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_STARTING),
      state(4, 1, JobState.JOB_STATE_INTERRUPTED, JobState.JOB_STATE_RUNNING),
      state(5, 2, JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_INTERRUPTED),
      state(6, 2, JobState.JOB_STATE_STARTING, JobState.JOB_STATE_QUEUED),
      state(7, 2, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_STARTING),
      {
        seq: 8,
        time: new Date(8_000),
        jobId,
        attempt: 2,
        kind: {
          $case: 'epochEnded' as const,
          value: {
            epoch: 1,
            nEpoch: 2,
            trainLoss: 0.3,
            validLoss: 0.4,
            metrics: [],
            durationMs: 5,
            cudaMemory: undefined,
            fitIndex: 0,
            completedEpochs: 2,
          },
        },
      },
      state(9, 2, JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_RUNNING),
    ];
  }

  it('events() reads past the interrupted state while the agent keeps the stream going', async () => {
    double = await startWatchJobDouble({ events: resumedLog() });
    agent = await connect(double.url());
    const job = await agent.jobs.get(jobId);
    const events = await collect(job.events());
    expect(events.map((e) => (e.type === 'state' ? e.state : e.type))).toEqual([
      'queued',
      'starting',
      'running',
      'interrupted',
      'queued',
      'starting',
      'running',
      'epochEnded',
      'succeeded',
    ]);
  });

  it('wait() resolves with the outcome of the last attempt', async () => {
    double = await startWatchJobDouble({ events: resumedLog() });
    agent = await connect(double.url());
    const summary = await (await agent.jobs.get(jobId)).wait();
    expect(summary).toMatchObject({ state: 'succeeded', attempt: 2, lastSeq: 9, error: undefined });
    // startedAt is when the last attempt's worker started, as on JobInfo (job.proto, Job.started_at).
    expect(summary.startedAt).toEqual(new Date(6_000));
    expect(summary.finishedAt).toEqual(new Date(9_000));
    expect(summary.epochs.map((e) => e.completedEpochs)).toEqual([2]);
    // The agent keeps its record of the job with the same fold, so GetJob agrees with the summary.
    const record = ProtoJob.fromPartial({ id: jobId });
    for (const event of resumedLog()) applyJobEvent(record, event);
    const info = jobInfo(record);
    const shared = (j: JobInfo | JobSummary) => ({
      state: j.state,
      stateReason: j.stateReason,
      attempt: j.attempt,
      lastSeq: j.lastSeq,
      startedAt: j.startedAt,
      finishedAt: j.finishedAt,
      completedEpochs: j.completedEpochs,
      totalEpochs: j.totalEpochs,
      artifacts: j.artifacts,
      error: j.error,
    });
    expect(shared(summary)).toEqual(shared(info));
    expect(info.lastEpoch).toEqual(summary.epochs.at(-1));
  });
});
