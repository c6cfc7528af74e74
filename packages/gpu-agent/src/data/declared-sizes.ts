// Sizes a client declares (in a manifest, in an upload chunk) are claims: each is held to what the
// agent can see before anything is stored or listed on the strength of it.
import { statfs } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { invalidArgument, StatusError } from '../rpc/status-error.js';

/** Bytes the file system holding `dir` still gives an unprivileged writer. */
export async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/** RESOURCE_EXHAUSTED, naming the free space, when `neededBytes` more do not fit under `dir`. */
export async function checkFits(dir: string, neededBytes: number, what: string): Promise<void> {
  if (neededBytes === 0) return;
  const free = await freeBytes(dir);
  if (neededBytes <= free) return;
  throw new StatusError(
    status.RESOURCE_EXHAUSTED,
    `${what} ${neededBytes} bytes, and the agent's state dir has ${free} bytes free (${gib(free)} GiB): ` +
      'free space on the agent or point its --state-dir elsewhere',
  );
}

/** The INVALID_ARGUMENT for a declared size that is not the size of the blob the agent holds. */
export function sizeMismatch(sha256: string, actual: number, declared: number, by: string): StatusError {
  return invalidArgument(`blob ${sha256} is ${actual} bytes, the ${by} says ${declared}`);
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
