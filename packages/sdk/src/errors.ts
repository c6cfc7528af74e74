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
 * True when `error` is a {@link GpulinkError} with this status.
 *
 * @example
 * ```ts
 * import { hasStatus } from '@gpulink/sdk';
 * if (hasStatus(e, 'OUT_OF_RANGE')) restartDownload();
 * ```
 */
export function hasStatus(error: unknown, code: StatusName): error is GpulinkError {
  return error instanceof GpulinkError && error.code === code;
}

/**
 * The token was missing or wrong (`UNAUTHENTICATED`).
 *
 * @example
 * ```ts
 * import { isUnauthenticated } from '@gpulink/sdk';
 * if (isUnauthenticated(e)) console.error('the token in GPULINK_URL is not the agent\'s');
 * ```
 */
export function isUnauthenticated(error: unknown): error is GpulinkError {
  return hasStatus(error, 'UNAUTHENTICATED');
}

/**
 * A job, dataset, artifact or local file does not exist (`NOT_FOUND`).
 *
 * @example
 * ```ts
 * import { isNotFound } from '@gpulink/sdk';
 * const job = await agent.jobs.get(id).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
 * ```
 */
export function isNotFound(error: unknown): error is GpulinkError {
  return hasStatus(error, 'NOT_FOUND');
}

/**
 * The request or an option was refused as malformed (`INVALID_ARGUMENT`); the details name the field.
 *
 * @example
 * ```ts
 * import { isInvalidArgument } from '@gpulink/sdk';
 * if (isInvalidArgument(e)) console.error(e.details);
 * ```
 */
export function isInvalidArgument(error: unknown): error is GpulinkError {
  return hasStatus(error, 'INVALID_ARGUMENT');
}

/**
 * The agent could not be reached or the connection dropped (`UNAVAILABLE`); usually worth retrying.
 *
 * @example
 * ```ts
 * import { isUnavailable } from '@gpulink/sdk';
 * if (isUnavailable(e)) console.error('is the agent running and the tunnel up?');
 * ```
 */
export function isUnavailable(error: unknown): error is GpulinkError {
  return hasStatus(error, 'UNAVAILABLE');
}

/**
 * The call ran past its `timeoutMs` (`DEADLINE_EXCEEDED`).
 *
 * @example
 * ```ts
 * import { isDeadlineExceeded } from '@gpulink/sdk';
 * await agent.getInfo({ timeoutMs: 2000 }).catch((e) => isDeadlineExceeded(e) || Promise.reject(e));
 * ```
 */
export function isDeadlineExceeded(error: unknown): error is GpulinkError {
  return hasStatus(error, 'DEADLINE_EXCEEDED');
}

/**
 * The call was cancelled: its `signal` aborted or the client was closed (`CANCELLED`).
 *
 * @example
 * ```ts
 * import { isCancelled } from '@gpulink/sdk';
 * try { for await (const e of job.events({ signal })) print(e); } catch (e) { if (!isCancelled(e)) throw e; }
 * ```
 */
export function isCancelled(error: unknown): error is GpulinkError {
  return hasStatus(error, 'CANCELLED');
}

/**
 * The request does not fit the current state, e.g. cancelling a finished job (`FAILED_PRECONDITION`).
 *
 * @example
 * ```ts
 * import { isFailedPrecondition } from '@gpulink/sdk';
 * await job.cancel().catch((e) => isFailedPrecondition(e) || Promise.reject(e));
 * ```
 */
export function isFailedPrecondition(error: unknown): error is GpulinkError {
  return hasStatus(error, 'FAILED_PRECONDITION');
}

/**
 * The caller may not do this (`PERMISSION_DENIED`).
 *
 * @example
 * ```ts
 * import { isPermissionDenied } from '@gpulink/sdk';
 * if (isPermissionDenied(e)) console.error(e.details);
 * ```
 */
export function isPermissionDenied(error: unknown): error is GpulinkError {
  return hasStatus(error, 'PERMISSION_DENIED');
}

/**
 * Something ran out: CUDA memory in a job, disk on the agent, a size limit (`RESOURCE_EXHAUSTED`).
 *
 * @example
 * ```ts
 * import { isResourceExhausted } from '@gpulink/sdk';
 * if (isResourceExhausted(e)) console.error('try a smaller batchSize or fp16: true');
 * ```
 */
export function isResourceExhausted(error: unknown): error is GpulinkError {
  return hasStatus(error, 'RESOURCE_EXHAUSTED');
}

/**
 * The agent or this SDK does not support the request yet (`UNIMPLEMENTED`).
 *
 * @example
 * ```ts
 * import { isUnimplemented } from '@gpulink/sdk';
 * if (isUnimplemented(e)) console.error('upgrade the agent or the SDK');
 * ```
 */
export function isUnimplemented(error: unknown): error is GpulinkError {
  return hasStatus(error, 'UNIMPLEMENTED');
}

/**
 * Bytes were lost or corrupted, e.g. a downloaded artifact whose sha256 does not match (`DATA_LOSS`).
 *
 * @example
 * ```ts
 * import { isDataLoss } from '@gpulink/sdk';
 * if (isDataLoss(e)) console.error('the download was corrupted; run it again');
 * ```
 */
export function isDataLoss(error: unknown): error is GpulinkError {
  return hasStatus(error, 'DATA_LOSS');
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
    if (context) details = `${details} (${context})`;
    return new GpulinkError(code, details, { method, cause: error });
  }
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && errno in fsCodes) {
    return new GpulinkError(fsCodes[errno] ?? 'UNKNOWN', (error as Error).message, { method, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new GpulinkError('UNKNOWN', message, { method, cause: error });
}
