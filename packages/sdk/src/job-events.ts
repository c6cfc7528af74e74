// The resuming event stream behind job.events(): replayed from the agent's durable log, then live,
// picked up again after a dropped connection from the last event delivered.
import type { JobServiceClient } from '@gpulink/proto';
import { jobEvent } from './convert.js';
import { GpulinkError, toGpulinkError } from './errors.js';
import { isTerminalState } from './job-summary.js';
import {
  backoffDelay,
  type CallContext,
  type CallOptions,
  defaultRetry,
  limitsOf,
  type OperationLimits,
  pauseBeforeRetry,
  type RetryPolicy,
} from './rpc.js';
import { serverStream } from './rpc-streams.js';
import type { JobEvent } from './types.js';

/**
 * Options of {@link Job.events}.
 *
 * @example
 * ```ts
 * for await (const e of job.events({ afterSeq: lastSeenSeq, retry: { maxAttempts: 20 } })) {
 *   lastSeenSeq = e.seq;
 * }
 * ```
 */
export interface JobEventsOptions extends CallOptions {
  /** Start after this seq (0: from the first event). Pass the last seq you handled to pick up later. @default 0 */
  afterSeq?: number;
  /** Stop after the events logged so far instead of following the job live. @default false */
  replayOnly?: boolean;
  /**
   * How to resume after a dropped connection or an agent restart; `false` fails on the first drop.
   * @default { maxAttempts: 10, initialDelayMs: 250, maxDelayMs: 5000 }
   */
  retry?: RetryPolicy | false;
}

/**
 * Errors after which watching again may succeed: the connection dropped or the agent restarted. grpc-js
 * reports a reset HTTP/2 stream from a proxy as INTERNAL, so that one counts too.
 * @internal
 */
export function isResumable(error: GpulinkError): boolean {
  if (error.code === 'UNAVAILABLE') return true;
  return error.code === 'INTERNAL' && /RST_STREAM|stream closed|protocol error/i.test(error.details);
}

/** Consecutive failures are forgiven after a try that stayed connected this long without any event. */
const connectedLongEnoughMs = 10_000;

/**
 * The message bound (WatchJobRequest.max_message_bytes) asked for once a stream was cut after the
 * agent answered but before any event got through, halved after each such try down to the least.
 * 0 leaves it to the agent, whose own first messages are a few KiB.
 */
const firstSmallerMessageBytes = 2048;
const smallestMessageBytes = 512;

/** The next, smaller message bound after a try that got nothing through; undefined at the least. */
function smallerMessageBound(current: number): number | undefined {
  if (current === 0) return firstSmallerMessageBytes;
  return current > smallestMessageBytes ? Math.max(smallestMessageBytes, current / 2) : undefined;
}

/**
 * The resuming event stream behind {@link Job.events}.
 * @internal
 */
export async function* watchJobEvents(
  ctx: CallContext,
  client: JobServiceClient,
  jobId: string,
  options: JobEventsOptions = {},
): AsyncGenerator<JobEvent, void, undefined> {
  const method = 'JobService.WatchJob';
  const limits: OperationLimits = limitsOf(options);
  const policy = options.retry === false ? { maxAttempts: 1 } : { ...defaultRetry, ...options.retry };
  const replayOnly = options.replayOnly ?? false;
  let afterSeq = options.afterSeq ?? 0;
  if (!Number.isInteger(afterSeq) || afterSeq < 0) {
    throw new GpulinkError('INVALID_ARGUMENT', `afterSeq must be a whole number >= 0, got ${afterSeq}`, {
      method,
    });
  }
  let failures = 0;
  let maxMessageBytes = 0;
  for (;;) {
    const startedAt = Date.now();
    const startSeq = afterSeq;
    let reachedAgent = false;
    try {
      const stream = serverStream(
        ctx,
        method,
        (m, o) => client.watchJob({ jobId, afterSeq, replayOnly, maxMessageBytes }, m, o),
        limits,
        { onHeaders: () => (reachedAgent = true) },
      );
      for await (const { events } of stream) {
        for (const event of events) {
          if (event.seq <= afterSeq) continue;
          if (event.seq !== afterSeq + 1) {
            throw new GpulinkError(
              'DATA_LOSS',
              `job ${jobId}: the agent sent event seq ${event.seq} after seq ${afterSeq}; the log should be dense`,
              { method },
            );
          }
          afterSeq = event.seq;
          failures = 0;
          const mapped = jobEvent(event);
          if (mapped === undefined) continue;
          yield mapped;
          // After these the agent ends the stream anyway; returning spares waiting for its status. An
          // interrupted job is left to the agent to end, since it may be resumed onto the same log.
          if (mapped.type === 'state' && isTerminalState(mapped.state) && mapped.state !== 'interrupted')
            return;
        }
      }
      return;
    } catch (e) {
      const error = toGpulinkError(e, method);
      if (!isResumable(error) || limits.signal?.aborted || ctx.closed) throw error;
      if (reachedAgent && Date.now() - startedAt >= connectedLongEnoughMs) failures = 0;
      // Progress is an event delivered, or failing that a smaller bound to try: a link that drops
      // before one message gets through is asked for smaller ones, and only tries at the least
      // bound that still get nothing through count toward giving up.
      const gotNothing = reachedAgent && afterSeq === startSeq && policy.maxAttempts > 1;
      const smaller = gotNothing ? smallerMessageBound(maxMessageBytes) : undefined;
      if (smaller === undefined) failures++;
      else maxMessageBytes = smaller;
      if (failures >= policy.maxAttempts) {
        throw new GpulinkError(
          error.code,
          `${error.details} (gave up after ${failures} tries in a row to resume job ${jobId}'s events after seq ${afterSeq})`,
          { method, cause: error },
        );
      }
      await pauseBeforeRetry(ctx, backoffDelay(failures, policy), limits, method);
    }
  }
}
