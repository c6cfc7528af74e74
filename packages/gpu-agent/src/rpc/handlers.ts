import {
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type ServerReadableStream,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { toStatusError } from './status-error.js';

/** Turns an async function into a grpc-js unary handler whose failures are always status errors. */
export function unary<Req, Res>(fn: (request: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toStatusError(error)),
    );
  };
}

/** Something that can end a long-lived stream, e.g. at shutdown. */
export interface OpenStream {
  end(error: Error): void;
}

/** Long-lived server streams register here so a shutdown can end them with UNAVAILABLE. */
export class OpenStreams {
  readonly #streams = new Set<OpenStream>();
  add(stream: OpenStream): () => void {
    this.#streams.add(stream);
    return () => this.#streams.delete(stream);
  }
  get size(): number {
    return this.#streams.size;
  }
  endAll(error: Error): void {
    for (const s of [...this.#streams]) s.end(error);
    this.#streams.clear();
  }
}

/**
 * A server-streaming handler: `fn` writes through `send` (which waits for the socket to drain) and
 * resolves when the stream is complete. `signal` aborts when the client cancels.
 */
export function serverStream<Req, Res>(
  open: OpenStreams,
  fn: (request: Req, send: (message: Res) => Promise<void>, signal: AbortSignal) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call: ServerWritableStream<Req, Res>) => {
    // Headers go out at once, so a client can tell a live stream from a dead connection even
    // while the job is quiet (the SDK's retry budget relies on it behind tunnels).
    call.sendMetadata(new Metadata());
    const abort = new AbortController();
    let finished = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      abort.abort();
      remove();
      if (error) call.emit('error', toStatusError(error));
      else call.end();
    };
    const remove = open.add({ end: (error) => finish(error) });
    call.on('cancelled', () => {
      finished = true;
      remove();
      abort.abort();
    });
    const send = (message: Res) =>
      new Promise<void>((resolve) => {
        if (finished) return resolve();
        if (call.write(message)) resolve();
        else call.once('drain', () => resolve());
      });
    fn(call.request, send, abort.signal).then(
      () => finish(),
      (error: unknown) => finish(toStatusError(error)),
    );
  };
}

/** A client-streaming handler whose failures are always status errors. */
export function clientStream<Req, Res>(
  fn: (requests: AsyncIterable<Req>) => Promise<Res>,
): handleClientStreamingCall<Req, Res> {
  return (call: ServerReadableStream<Req, Res>, callback) => {
    fn(call as AsyncIterable<Req>).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toStatusError(error)),
    );
  };
}
