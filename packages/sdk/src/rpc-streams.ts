// The streaming call shapes over rpc.ts's options, limits and error mapping: a server stream as an
// AsyncGenerator, a client stream with per-message acknowledgement. Nothing here is exported from the
// package.
import type {
  ClientReadableStream,
  ClientWritableStream,
  CallOptions as GrpcCallOptions,
  Metadata,
  ServiceError,
} from '@grpc/grpc-js';
import { GpulinkError } from './errors.js';
import {
  abortError,
  type CallContext,
  checkLimits,
  grpcOptions,
  mapError,
  type OperationLimits,
} from './rpc.js';

/** @internal */
export interface StreamHooks {
  /** Called once when the agent's response headers arrive, i.e. the call reached the agent. */
  onHeaders?: () => void;
}

/** How many received messages may wait for the consumer before the stream is paused. */
const highWaterMark = 32;

/**
 * A server-streaming call as an AsyncGenerator. Ending the iteration early (`break`, `return`, a thrown
 * error in the loop body) cancels the call; aborting the signal cancels it and throws CANCELLED.
 * Messages received before a failure are all yielded before the failure is thrown.
 * @internal
 */
export async function* serverStream<Res>(
  ctx: CallContext,
  method: string,
  open: (metadata: Metadata, options: Partial<GrpcCallOptions>) => ClientReadableStream<Res>,
  limits: OperationLimits,
  hooks: StreamHooks = {},
): AsyncGenerator<Res, void, undefined> {
  checkLimits(ctx, limits, method);
  const call = open(ctx.metadata(), grpcOptions(limits));
  const untrack = ctx.track(call);
  const queue: Res[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (message: Res) => {
    queue.push(message);
    if (queue.length >= highWaterMark) call.pause();
    notify();
  };
  // grpc-js pushes end-of-stream and then emits 'error' for a non-OK status, so 'end' is the one
  // reliable signal that everything received has been handed over; the error is kept until then.
  const onError = (error: unknown) => {
    failure ??= error;
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onMetadata = () => hooks.onHeaders?.();
  const onAbort = () => {
    call.cancel();
    notify();
  };
  call.on('data', onData);
  call.on('error', onError);
  call.on('end', onEnd);
  // 'close' without 'end' means the stream was destroyed: nothing more will arrive either.
  call.on('close', onEnd);
  call.once('metadata', onMetadata);
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (limits.signal?.aborted) throw abortError(limits.signal, method);
      const next = queue.shift();
      if (next !== undefined) {
        if (queue.length < highWaterMark / 2 && call.isPaused()) call.resume();
        yield next;
        continue;
      }
      if (ended) {
        if (failure !== undefined) throw mapError(ctx, failure, method, limits);
        return;
      }
      if (call.isPaused()) call.resume();
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    limits.signal?.removeEventListener('abort', onAbort);
    call.off('data', onData);
    call.off('end', onEnd);
    call.off('close', onEnd);
    call.off('metadata', onMetadata);
    // Keep an error listener: cancelling below makes grpc-js emit a CANCELLED error, and an 'error'
    // event without a listener would crash the process.
    call.off('error', onError);
    call.on('error', () => {});
    if (!ended) call.cancel();
    untrack();
  }
}

/** @internal */
export interface ClientStreamCall<Req, Res> {
  /**
   * Sends one message; resolves once grpc-js has handed it to the HTTP/2 stream, so a caller that
   * awaits its writes holds at most a few messages in memory and counts only bytes really sent.
   */
  write(message: Req): Promise<void>;
  /** Half-closes and waits for the response. */
  finish(): Promise<Res>;
  /** Abandons the call. */
  cancel(): void;
}

/**
 * A client-streaming call. A failure reported by the agent while writing rejects the pending writes;
 * the call is cancelled when the signal aborts.
 * @internal
 */
export function clientStream<Req, Res>(
  ctx: CallContext,
  method: string,
  open: (
    metadata: Metadata,
    options: Partial<GrpcCallOptions>,
    callback: (error: ServiceError | null, response: Res) => void,
  ) => ClientWritableStream<Req>,
  limits: OperationLimits,
): ClientStreamCall<Req, Res> {
  checkLimits(ctx, limits, method);
  let settled: { error: GpulinkError } | { response: Res } | undefined;
  const waiters = new Set<() => void>();
  const call = open(ctx.metadata(), grpcOptions(limits), (error, response) => {
    settled = error ? { error: mapError(ctx, error, method, limits) } : { response };
    limits.signal?.removeEventListener('abort', onAbort);
    untrack();
    for (const w of [...waiters]) w();
  });
  const untrack = ctx.track(call);
  const onAbort = () => call.cancel();
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  // Write errors are reported again through the callback with the call's status; this only keeps an
  // unhandled 'error' event from crashing the process.
  call.on('error', () => {});
  const settledError = (): GpulinkError | undefined => {
    if (settled && 'error' in settled) return settled.error;
    if (settled)
      return new GpulinkError('INTERNAL', 'the agent ended the upload before it was complete', { method });
    return undefined;
  };
  return {
    write(message) {
      const early = settledError();
      if (early) return Promise.reject(early);
      return new Promise<void>((resolve, reject) => {
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          waiters.delete(finish);
          const error = settledError();
          if (error) reject(error);
          else resolve();
        };
        waiters.add(finish);
        call.write(message, finish);
      });
    },
    async finish() {
      if (!settled) {
        call.end();
        await new Promise<void>((resolve) => {
          const done = () => {
            waiters.delete(done);
            resolve();
          };
          waiters.add(done);
        });
      }
      if (settled && 'response' in settled) return settled.response;
      throw settledError();
    },
    cancel() {
      if (!settled) call.cancel();
    },
  };
}
