import {
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type ServerReadableStream,
  type ServerWritableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { invalidArgument, toStatusError } from './status-error.js';

const UNDECODABLE = Symbol('undecodable');

/**
 * The service with decoders that never throw: grpc-js answers a request it cannot decode with
 * INTERNAL, but bytes that are not a valid message are the caller's fault. A request that does not
 * decode arrives as a marker instead, which the handlers below answer with INVALID_ARGUMENT.
 */
export function withInvalidArgumentDecoding<S extends ServiceDefinition>(service: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          return {
            [UNDECODABLE]: `${method.path}: the request does not decode: ${(error as Error).message}`,
          };
        }
      },
    };
  }
  return out as S;
}

/** The INVALID_ARGUMENT for a request that did not decode, if it did not. */
function decodingProblem(request: unknown) {
  const problem = (request as { [UNDECODABLE]?: string } | undefined)?.[UNDECODABLE];
  return problem === undefined ? undefined : invalidArgument(problem);
}

/** Turns an async function into a grpc-js unary handler whose failures are always status errors. */
export function unary<Req, Res>(fn: (request: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const problem = decodingProblem(call.request);
    if (problem) return callback(problem);
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
    const problem = decodingProblem(call.request);
    if (problem) return finish(problem);
    // Settles once the message has left grpc-js's buffer (or the call ended): a stream holds one
    // message in flight, not a high-water mark's worth (16 messages, each up to a WatchJob bound).
    const send = (message: Res) =>
      new Promise<void>((resolve) => {
        if (finished) return resolve();
        const done = () => {
          abort.signal.removeEventListener('abort', done);
          resolve();
        };
        abort.signal.addEventListener('abort', done);
        call.write(message, done);
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
    async function* decoded(): AsyncIterable<Req> {
      for await (const message of call as AsyncIterable<Req>) {
        const problem = decodingProblem(message);
        if (problem) throw problem;
        yield message;
      }
    }
    fn(decoded()).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toStatusError(error)),
    );
  };
}
