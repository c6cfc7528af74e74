import { Metadata, type ServiceError, status } from '@grpc/grpc-js';

/** gRPC status names by code, for messages that start with the status name. */
export const statusName: Record<number, string> = Object.fromEntries(
  Object.entries(status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

/**
 * The one error the agent's handlers throw. Handlers never let an untyped error escape: anything
 * else becomes INTERNAL with its message, so clients never see UNKNOWN.
 */
export class StatusError extends Error implements ServiceError {
  readonly code: status;
  readonly details: string;
  readonly metadata = new Metadata();
  constructor(code: status, details: string, options?: { cause?: unknown }) {
    super(`${statusName[code]}: ${details}`, options);
    this.name = 'StatusError';
    this.code = code;
    this.details = details;
  }
}

export const invalidArgument = (details: string) => new StatusError(status.INVALID_ARGUMENT, details);
export const notFound = (details: string) => new StatusError(status.NOT_FOUND, details);
export const failedPrecondition = (details: string) => new StatusError(status.FAILED_PRECONDITION, details);
export const unavailable = (details: string) => new StatusError(status.UNAVAILABLE, details);

/** Maps any thrown value to a StatusError (ENOSPC and friends get their proper codes). */
export function toStatusError(error: unknown): StatusError {
  if (error instanceof StatusError) return error;
  const err = error as NodeJS.ErrnoException;
  if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') {
    return new StatusError(status.RESOURCE_EXHAUSTED, `the agent's state dir is full: ${err.message}`, {
      cause: error,
    });
  }
  return new StatusError(status.INTERNAL, err?.message ?? String(error), { cause: error });
}
