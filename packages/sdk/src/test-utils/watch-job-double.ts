// A test double of the agent for the SDK's stream-resume logic only: a real grpc-js server on
// 127.0.0.1:0 that answers AgentService.GetInfo (so connect() succeeds), JobService.GetJob (so
// jobs.get() gives a handle) and JobService.WatchJob from an in-memory event list, honouring
// after_seq as the real agent does. Everything else is UNIMPLEMENTED. Tests of behaviour that depends on the agent itself run against the real agent in
// the *.integration.test.ts files.
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AgentServiceService,
  type GetInfoRequest,
  GetInfoResponse,
  type GetJobRequest,
  GetJobResponse,
  type JobEvent,
  JobServiceService,
  JobState,
  LogStream,
  type WatchJobResponse,
} from '@gpulink/proto';
import {
  type handleUnaryCall,
  type Metadata,
  Server,
  ServerCredentials,
  type ServerWritableStream,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

export interface WatchJobDouble {
  readonly port: number;
  readonly token: string;
  /** `gpulink://<token>@127.0.0.1:<port>`, or through another port (a proxy in front of the double). */
  url(port?: number): string;
  /** after_seq of every WatchJob call received, in order. */
  readonly watchCalls: number[];
  /** WatchJob calls the client cancelled. */
  readonly cancelledCalls: number;
  /** WatchJob calls still open. */
  readonly openCalls: number;
  /** Resolves once no WatchJob call is open; rejects after `timeoutMs` so a leaked stream fails the test. */
  waitForNoOpenCalls(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface WatchJobDoubleOptions {
  /** The job's log. */
  events: JobEvent[];
  /** After the log is sent, keep the stream open until the client cancels (a job still running). */
  holdOpen?: boolean;
  /** Pause this long after every `paceEvery` events, so a stream stays in flight for a while. */
  paceMs?: number;
  paceEvery?: number;
}

const time = new Date('2026-11-27T08:00:00.000Z');

function at(seq: number): Date {
  return new Date(time.getTime() + seq * 1000);
}

/**
 * A plausible log of `n` events for job `jobId`, in the agent's order: queued, starting, running, log
 * lines and epochs, then `final`.
 */
export function makeJobLog(
  jobId: string,
  n: number,
  final: JobState = JobState.JOB_STATE_SUCCEEDED,
): JobEvent[] {
  if (n < 5) throw new Error('makeJobLog needs at least 5 events');
  const events: JobEvent[] = [];
  const base = (seq: number) => ({ seq, time: at(seq), jobId, attempt: 1 });
  events.push({
    ...base(1),
    kind: {
      $case: 'stateChanged',
      value: { state: JobState.JOB_STATE_QUEUED, previous: JobState.JOB_STATE_UNSPECIFIED, reason: '' },
    },
  });
  events.push({
    ...base(2),
    kind: {
      $case: 'stateChanged',
      value: { state: JobState.JOB_STATE_STARTING, previous: JobState.JOB_STATE_QUEUED, reason: '' },
    },
  });
  events.push({
    ...base(3),
    kind: {
      $case: 'stateChanged',
      value: { state: JobState.JOB_STATE_RUNNING, previous: JobState.JOB_STATE_STARTING, reason: '' },
    },
  });
  let epoch = 0;
  for (let seq = 4; seq < n; seq++) {
    if (seq % 10 === 0) {
      events.push({
        ...base(seq),
        kind: {
          $case: 'epochEnded',
          value: {
            epoch,
            nEpoch: 0,
            trainLoss: 1 / (epoch + 1),
            validLoss: 1.5 / (epoch + 1),
            metrics: [{ name: 'accuracy', value: epoch / (epoch + 1) }],
            durationMs: 1000,
            cudaMemory: undefined,
            fitIndex: 0,
            completedEpochs: epoch + 1,
          },
        },
      });
      epoch++;
    } else {
      events.push({
        ...base(seq),
        kind: {
          $case: 'log',
          value: { stream: LogStream.LOG_STREAM_STDOUT, text: `line ${seq} ${'x'.repeat(40)}` },
        },
      });
    }
  }
  events.push({
    ...base(n),
    kind: {
      $case: 'stateChanged',
      value: { state: final, previous: JobState.JOB_STATE_RUNNING, reason: '' },
    },
  });
  return events;
}

function authorized(metadata: Metadata, token: string): boolean {
  return metadata.get('authorization')[0] === `Bearer ${token}`;
}

export async function startWatchJobDouble(options: WatchJobDoubleOptions): Promise<WatchJobDouble> {
  const token = 'double-token';
  const watchCalls: number[] = [];
  const open = new Set<ServerWritableStream<unknown, unknown>>();
  let cancelledCalls = 0;
  const server = new Server();

  const agentService: UntypedServiceImplementation = {
    getInfo: ((call, callback) => {
      if (!authorized(call.metadata, token)) {
        callback({
          code: status.UNAUTHENTICATED,
          details: "wrong token: it does not match the agent's token",
        });
        return;
      }
      callback(
        null,
        GetInfoResponse.fromPartial({ info: { agentVersion: 'double', hostname: 'watch-job-double' } }),
      );
    }) satisfies handleUnaryCall<GetInfoRequest, GetInfoResponse>,
  };

  const jobService: UntypedServiceImplementation = {
    getJob: ((call, callback) => {
      if (!authorized(call.metadata, token)) {
        callback({ code: status.UNAUTHENTICATED, details: 'wrong token' });
        return;
      }
      const log = options.events.filter((e) => e.jobId === call.request.jobId);
      if (log.length === 0) {
        callback({ code: status.NOT_FOUND, details: `job ${call.request.jobId} not found` });
        return;
      }
      const job = {
        id: call.request.jobId,
        state: JobState.JOB_STATE_RUNNING,
        lastSeq: log.at(-1)?.seq ?? 0,
      };
      callback(null, GetJobResponse.fromPartial({ job: { ...job, device: 'cpu', attempt: 1 } }));
    }) satisfies handleUnaryCall<GetJobRequest, GetJobResponse>,
    async watchJob(call: ServerWritableStream<{ jobId: string; afterSeq: number }, WatchJobResponse>) {
      if (!authorized(call.metadata, token)) {
        call.emit('error', { code: status.UNAUTHENTICATED, details: 'wrong token' });
        return;
      }
      watchCalls.push(call.request.afterSeq);
      open.add(call as ServerWritableStream<unknown, unknown>);
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
        cancelledCalls++;
        open.delete(call as ServerWritableStream<unknown, unknown>);
      });
      try {
        let sent = 0;
        for (const event of options.events) {
          if (cancelled) return;
          if (event.jobId !== call.request.jobId || event.seq <= call.request.afterSeq) continue;
          if (!call.write({ events: [event] })) await once(call, 'drain');
          sent++;
          if (options.paceMs && options.paceEvery && sent % options.paceEvery === 0)
            await delay(options.paceMs);
        }
        if (cancelled) return;
        if (options.holdOpen) {
          await once(call, 'cancelled');
          return;
        }
        call.end();
      } catch {
        // The client went away mid-write; its cancellation is recorded above.
      } finally {
        open.delete(call as ServerWritableStream<unknown, unknown>);
      }
    },
  };

  server.addService(AgentServiceService, agentService);
  server.addService(JobServiceService, jobService);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );

  return {
    port,
    token,
    url: (p = port) => `gpulink://${token}@127.0.0.1:${p}`,
    watchCalls,
    get cancelledCalls() {
      return cancelledCalls;
    },
    get openCalls() {
      return open.size;
    },
    async waitForNoOpenCalls(timeoutMs = 3000) {
      const until = Date.now() + timeoutMs;
      while (open.size > 0) {
        if (Date.now() > until) throw new Error(`${open.size} WatchJob call(s) still open: a stream leaked`);
        await delay(10);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
