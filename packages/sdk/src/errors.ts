/**
 * The gRPC status names, which are also the values of {@link GpulinkError.code}. Failures that happen
 * on this side of the wire (a bad URL, a missing folder, an aborted call) use the status a server
 * would have answered with, so one `switch` handles both.
 *
 * @example
 * ```ts
 * import { GpulinkError, type StatusName } from '@gpulink/sdk';
 * const retryable: StatusName[] = ['UNAVAILABLE', 'DEADLINE_EXCEEDED'];
 * const shouldRetry = (e: unknown) => e instanceof GpulinkError && retryable.includes(e.code);
 * ```
 */
export type StatusName =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

/** Indexed by the numeric gRPC status code; the wire carries numbers, users read names. */
const statusNames: readonly StatusName[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/**
 * Converts a numeric gRPC status code to its name; unknown numbers become `'UNKNOWN'`.
 *
 * @example
 * ```ts
 * import { statusName } from '@gpulink/sdk';
 * statusName(16); // 'UNAUTHENTICATED'
 * ```
 */
export function statusName(code: number): StatusName {
  return statusNames[code] ?? 'UNKNOWN';
}

/**
 * What {@link GpulinkError}'s constructor takes besides the code and the message.
 *
 * @example
 * ```ts
 * import { GpulinkError } from '@gpulink/sdk';
 * new GpulinkError('NOT_FOUND', 'no job job_1', { method: 'JobService.GetJob' });
 * ```
 */
export interface GpulinkErrorOptions {
  /** The RPC that failed, e.g. `'JobService.GetJob'`; absent for failures that never reached the wire. */
  method?: string;
  /** The underlying error (a grpc-js status error, a file-system error, an abort reason). */
  cause?: unknown;
}

// Registered symbols are shared by every copy of this package in a process (two versions in one
// node_modules tree, or a bundled and an unbundled copy), so `instanceof` keeps working across them.
const brand = Symbol.for('@gpulink/sdk/error-kinds');

interface Branded {
  [brand]: readonly string[];
}

function kindsOf(value: unknown): readonly string[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const kinds = (value as Partial<Branded>)[brand];
  return Array.isArray(kinds) ? kinds : undefined;
}

/**
 * The one error the SDK throws: every failed RPC, refused input and aborted call. `code` holds the gRPC
 * status name and the message starts with it (`"UNAUTHENTICATED: ..."`), `details` is the message
 * without that prefix, `method` names the RPC, and `cause` keeps the original error.
 *
 * `instanceof GpulinkError` holds even when the error comes from another copy of `@gpulink/sdk`.
 *
 * @example
 * ```ts
 * import { connect, GpulinkError } from '@gpulink/sdk';
 * try {
 *   await connect('gpulink://wrong-token@127.0.0.1:7860');
 * } catch (e) {
 *   if (e instanceof GpulinkError && e.code === 'UNAUTHENTICATED') console.error('check the token');
 *   else throw e;
 * }
 * ```
 */
export class GpulinkError extends Error {
  /** Class identity for `instanceof` across package copies; subclasses set their own. */
  static readonly kind: string = 'GpulinkError';

  /** The gRPC status name, e.g. `'NOT_FOUND'`. */
  readonly code: StatusName;
  /** What went wrong, without the status prefix. */
  readonly details: string;
  /** The RPC that failed, e.g. `'JobService.GetJob'`, when one did. */
  readonly method: string | undefined;
  declare readonly [brand]: readonly string[];

  constructor(code: StatusName, details: string, options: GpulinkErrorOptions = {}) {
    super(`${code}: ${details}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = details;
    this.method = options.method;
    const kinds: string[] = [];
    for (let c = new.target as typeof GpulinkError | undefined; c?.kind; c = Object.getPrototypeOf(c)) {
      if (!kinds.includes(c.kind)) kinds.push(c.kind);
    }
    Object.defineProperty(this, brand, { value: kinds, enumerable: false });
    this.name = new.target.kind;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: inherited by subclasses, which must test their own kind
    return kindsOf(value)?.includes(this.kind) ?? false;
  }
}

/**
 * True for any error thrown by the SDK (any copy of it).
 *
 * @example
 * ```ts
 * import { isGpulinkError } from '@gpulink/sdk';
 * if (isGpulinkError(e)) console.error(e.code, e.details);
 * ```
 */
export function isGpulinkError(error: unknown): error is GpulinkError {
  return error instanceof GpulinkError;
}

/**
 * True when `error` is a {@link GpulinkError} with this status: the one guard for every status (the
 * code is typed, so a misspelt status does not compile).
 *
 * @example
 * ```ts
 * import { hasStatus } from '@gpulink/sdk';
 * const job = await agent.jobs.get(id).catch((e) => (hasStatus(e, 'NOT_FOUND') ? undefined : Promise.reject(e)));
 * if (hasStatus(e, 'UNAUTHENTICATED')) console.error("the token in GPULINK_URL is not the agent's");
 * ```
 */
export function hasStatus(error: unknown, code: StatusName): error is GpulinkError {
  return error instanceof GpulinkError && error.code === code;
}

/** The shape of a grpc-js status error, read structurally so no grpc-js type leaks out. */
interface StatusErrorLike {
  code: number;
  details?: string;
  message?: string;
}

function isStatusErrorLike(error: unknown): error is StatusErrorLike {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number' &&
    ('details' in error || 'metadata' in error)
  );
}

const fsCodes: Record<string, StatusName> = {
  ENOENT: 'NOT_FOUND',
  ENOTDIR: 'INVALID_ARGUMENT',
  EISDIR: 'INVALID_ARGUMENT',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  ENOSPC: 'RESOURCE_EXHAUSTED',
  EMFILE: 'RESOURCE_EXHAUSTED',
};

/**
 * grpc-js wraps why a connection failed in its load balancer's words ("No connection established.
 * Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: "); the cause alone is what a
 * person reads, with the resolver's note when it has one.
 */
function withoutGrpcJsFraming(details: string): string {
  const failed =
    /^No connection established\. Last error: (?:Error: )?(.*?)\.?(?: Resolution note: (.*))?$/s.exec(
      details,
    );
  const unresolved = /^No addresses resolved\. Resolution note: (.*)$/s.exec(details);
  const [cause, note] = failed
    ? [failed[1], failed[2]?.trim()]
    : unresolved
      ? [unresolved[1]?.trim() || 'no addresses resolved', undefined]
      : [details, undefined];
  return note ? `${cause} (${note})` : (cause ?? details);
}

/** What a failed socket call means, in words, for Node's errno names (`connect ECONNREFUSED 127.0.0.1:1`). */
const socketErrors: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens there)',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be looked up now',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  EPIPE: 'the connection was closed',
};

function socketFailure(details: string): string | undefined {
  const errno = /^(?:connect|getaddrinfo|read|write) (E[A-Z_]+)\b/.exec(details)?.[1];
  return errno === undefined ? undefined : socketErrors[errno];
}

/**
 * Wraps anything thrown at the SDK's boundary into a {@link GpulinkError}, keeping it as `cause`.
 * `context` is appended to status errors whose details would otherwise not say where they came from.
 * @internal
 */
export function toGpulinkError(error: unknown, method?: string, context?: string): GpulinkError {
  if (error instanceof GpulinkError) return error;
  if (isStatusErrorLike(error)) {
    const code = statusName(error.code);
    let details = withoutGrpcJsFraming(error.details || error.message || 'no details');
    const socket = socketFailure(details);
    if (context) details = socket ? `${context}: ${socket}` : `${details} (${context})`;
    return new GpulinkError(code, details, { method, cause: error });
  }
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && errno in fsCodes) {
    return new GpulinkError(fsCodes[errno] ?? 'UNKNOWN', (error as Error).message, { method, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new GpulinkError('UNKNOWN', message, { method, cause: error });
}
