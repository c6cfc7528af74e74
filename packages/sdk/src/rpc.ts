// Turns grpc-js's callback and event-emitter calls into Promises and AsyncIterables with AbortSignal and
// timeout support, and maps every failure to a GpulinkError (the two stream shapes: rpc-streams.ts). Nothing here is exported from the package.
//
// Why not nice-grpc (tried, 2.1.18 with its retry middleware 3.1.11, over a channel made from the same
// Transport): it would replace unary/serverStream/clientStream below (~200 lines) and works with every
// transport (it takes grpc-js's target, credentials and options), but the rest stays: one deadline over
// several tries, close() cancelling live calls, errors mapped with the agent's context and tokens
// redacted. Its retry middleware retries unary calls only, while ours resume streams (events by seq,
// uploads and downloads by offset) with a give-up rule that counts progress. Its client streams take
// an iterable and say nothing of what reached HTTP/2, where upload progress counts bytes really sent.
// So the saving is about a hundred lines for a new dependency and a new error type to map.
import type { ClientUnaryCall, CallOptions as GrpcCallOptions, Metadata, ServiceError } from '@grpc/grpc-js';
import { GpulinkError, toGpulinkError } from './errors.js';

/**
 * The last argument of every SDK method.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 60_000);
 * await agent.jobs.list({}, { signal: controller.signal, timeoutMs: 5_000 });
 * ```
 */
export interface CallOptions {
  /** Cancels the call (or the whole stream, retries included) when aborted; it then rejects with `CANCELLED`. */
  signal?: AbortSignal;
  /**
   * Gives up after this many milliseconds with `DEADLINE_EXCEEDED`. For a stream and for multi-step
   * operations it bounds the whole operation, retries included. @default no limit
   */
  timeoutMs?: number;
}

/**
 * How a resumable operation (an event stream, an upload, a download) retries after a dropped
 * connection: exponential backoff with jitter, at most `maxAttempts` consecutive failed tries, after
 * which the last error is thrown with a message saying so.
 *
 * @example
 * ```ts
 * for await (const e of job.events({ retry: { maxAttempts: 20, maxDelayMs: 10_000 } })) console.log(e.type);
 * ```
 */
export interface RetryPolicy {
  /** Consecutive failed tries before giving up; a try that makes progress resets the count. @default 10 */
  maxAttempts?: number;
  /** Delay before the first retry, milliseconds (the delay doubles after each failure). @default 250 */
  initialDelayMs?: number;
  /** Longest delay between tries, milliseconds. @default 5000 */
  maxDelayMs?: number;
}

/** @internal */
export const defaultRetry: Required<RetryPolicy> = { maxAttempts: 10, initialDelayMs: 250, maxDelayMs: 5000 };

/**
 * Delay before retry number `failures` (1-based): half of the capped exponential step is fixed and half
 * random ("equal jitter"), so clients cut off together do not reconnect together, yet never retry at once.
 * @internal
 */
export function backoffDelay(
  failures: number,
  policy: RetryPolicy = {},
  random: () => number = Math.random,
): number {
  const { initialDelayMs, maxDelayMs } = { ...defaultRetry, ...policy };
  const step = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.max(0, failures - 1));
  return step / 2 + random() * (step / 2);
}

/** What every call needs from the connection: auth metadata, error context, and close tracking. @internal */
export interface CallContext {
  /** A fresh metadata object with the bearer token. */
  metadata(): Metadata;
  /** `host:port` of the agent, for messages. */
  readonly target: string;
  /** True once the client was closed: nothing new starts and nothing retries. */
  readonly closed: boolean;
  /** Registers a live call so `close()` can cancel it; returns the function that unregisters it. */
  track(call: { cancel(): void }): () => void;
  /**
   * Calls `onReady` once the connection, lost now, is back; returns the function that stops watching
   * (connectivity.ts). Absent where there is no connection to watch.
   */
  watchReconnect?(onReady: () => void): () => void;
}

/** A resolved deadline shared by every try of one operation. @internal */
export interface OperationLimits {
  signal: AbortSignal | undefined;
  deadline: number | undefined;
}

/** @internal */
export function limitsOf(options: CallOptions | undefined): OperationLimits {
  const timeoutMs = options?.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new GpulinkError('INVALID_ARGUMENT', `timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  return { signal: options?.signal, deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs };
}

/** @internal */
export function grpcOptions(limits: OperationLimits): Partial<GrpcCallOptions> {
  return limits.deadline === undefined ? {} : { deadline: new Date(limits.deadline) };
}

/** @internal */
export function abortError(signal: AbortSignal, method?: string): GpulinkError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
  return new GpulinkError('CANCELLED', `aborted by the caller's signal${why ? `: ${why}` : ''}`, {
    method,
    cause: reason,
  });
}

/** @internal */
export function closedError(method?: string): GpulinkError {
  return new GpulinkError('CANCELLED', 'the client was closed', { method });
}

/** @internal */
export function deadlineError(method?: string): GpulinkError {
  return new GpulinkError('DEADLINE_EXCEEDED', 'the operation ran past its timeoutMs', { method });
}

/** Throws when the operation must not start another try. @internal */
export function checkLimits(ctx: CallContext, limits: OperationLimits, method?: string): void {
  if (limits.signal?.aborted) throw abortError(limits.signal, method);
  if (ctx.closed) throw closedError(method);
  if (limits.deadline !== undefined && Date.now() >= limits.deadline) throw deadlineError(method);
}

/** @internal */
export function mapError(
  ctx: CallContext,
  error: unknown,
  method: string,
  limits?: OperationLimits,
): GpulinkError {
  if (limits?.signal?.aborted) return abortError(limits.signal, method);
  const mapped = toGpulinkError(error, method);
  if (mapped.code === 'CANCELLED' && ctx.closed) return closedError(method);
  if (mapped.cause === error && (mapped.code === 'UNAVAILABLE' || mapped.code === 'UNAUTHENTICATED')) {
    const context =
      mapped.code === 'UNAVAILABLE'
        ? `cannot reach the agent at ${ctx.target}`
        : `the agent at ${ctx.target} refused the token in the agent URL`;
    return toGpulinkError(error, method, context);
  }
  return mapped;
}

/**
 * Sleeps, waking early with an error when the signal aborts or the deadline would pass, and without
 * one when `wake` calls back (it returns the function that stops it).
 * @internal
 */
export async function sleep(
  ms: number,
  limits: OperationLimits,
  method?: string,
  wake?: (onWake: () => void) => () => void,
): Promise<void> {
  if (limits.deadline !== undefined && Date.now() + ms >= limits.deadline) {
    ms = Math.max(0, limits.deadline - Date.now());
  }
  const signal = limits.signal;
  if (signal?.aborted) throw abortError(signal, method);
  await new Promise<void>((resolve, reject) => {
    const end = (error?: GpulinkError) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unwatch?.();
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => end(abortError(signal as AbortSignal, method));
    const timer = setTimeout(() => end(), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    const unwatch = wake?.(() => end());
  });
}

/**
 * The pause before a retry: the backoff `ms`, cut short when the lost connection comes back, so a
 * retry goes out as soon as the link returns rather than when a long backoff ends.
 * @internal
 */
export function pauseBeforeRetry(
  ctx: CallContext,
  ms: number,
  limits: OperationLimits,
  method?: string,
): Promise<void> {
  return sleep(ms, limits, method, ctx.watchReconnect?.bind(ctx));
}

type UnaryInvoker<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/**
 * One unary call as a Promise.
 * @internal
 */
export function unary<Req, Res>(
  ctx: CallContext,
  method: string,
  invoke: UnaryInvoker<Req, Res>,
  request: Req,
  limits: OperationLimits,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    try {
      checkLimits(ctx, limits, method);
    } catch (e) {
      reject(e);
      return;
    }
    const signal = limits.signal;
    let untrack = () => {};
    const onAbort = () => call.cancel();
    const call = invoke(request, ctx.metadata(), grpcOptions(limits), (error, response) => {
      untrack();
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(mapError(ctx, error, method, limits));
      else resolve(response);
    });
    untrack = ctx.track(call);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Retries a unary call that is safe to repeat while the agent is unreachable (UNAVAILABLE), with
 * backoff; any other error is thrown at once.
 * @internal
 */
export async function unaryWithRetry<Req, Res>(
  ctx: CallContext,
  method: string,
  invoke: UnaryInvoker<Req, Res>,
  request: Req,
  limits: OperationLimits,
  policy: RetryPolicy = { maxAttempts: 3 },
): Promise<Res> {
  const maxAttempts = policy.maxAttempts ?? defaultRetry.maxAttempts;
  for (let attempt = 1; ; attempt++) {
    try {
      return await unary(ctx, method, invoke, request, limits);
    } catch (e) {
      if (!(e instanceof GpulinkError) || e.code !== 'UNAVAILABLE' || attempt >= maxAttempts) throw e;
      await pauseBeforeRetry(ctx, backoffDelay(attempt, policy), limits, method);
    }
  }
}
