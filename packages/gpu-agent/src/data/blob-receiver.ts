// The receiving end of UploadBlobs: chunks in order, each blob verified against its sha256 before it
// takes its place in the content store (the layout is DatasetStore's: it passes the paths).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { type FileHandle, open, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { status } from '@grpc/grpc-js';
import { invalidArgument, StatusError } from '../rpc/status-error.js';
import { checkFits, sizeMismatch } from './declared-sizes.js';
import { SyncSlices } from './sync-slices.js';

export const SHA256 = /^[0-9a-f]{64}$/;
/** Largest chunk accepted in one UploadBlobs message (the client sends at most this). */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** One UploadBlobs message. */
export interface BlobChunk {
  sha256: string;
  offset: number;
  data: Uint8Array;
  sizeBytes: number;
}

/** Where the store keeps blobs, partial uploads, and which blobs a stream is writing now. */
export interface BlobPaths {
  blobPath(sha: string): string;
  partPath(sha: string): string;
  writing: Set<string>;
}

/** A chunk that is a whole blob: it can be verified and stored on its own. */
const isWholeBlob = (chunk: BlobChunk) => chunk.offset === 0 && chunk.data.length === chunk.sizeBytes;

/**
 * Stores one UploadBlobs stream: chunks in order, each blob from the offset PrepareUpload gave. A
 * whole small blob is stored synchronously; the event loop gets a turn every few milliseconds.
 */
export async function receiveBlobs(
  chunks: AsyncIterable<BlobChunk>,
  paths: BlobPaths,
): Promise<{ completed: string[]; receivedBytes: number }> {
  const receiver = new BlobReceiver(paths);
  const slices = new SyncSlices();
  const completed: string[] = [];
  let receivedBytes = 0;
  try {
    for await (const chunk of chunks) {
      await slices.turn();
      if (await receiver.receive(chunk)) completed.push(chunk.sha256);
      receivedBytes += chunk.data.length;
    }
  } finally {
    await receiver.finish();
  }
  return { completed, receivedBytes };
}

/**
 * Writes all of `data` at the file's end. A full disk shows first as a short write, not an error:
 * keep writing until the chunk is in or the OS refuses (ENOSPC -> RESOURCE_EXHAUSTED), never answer
 * a chunk half-stored.
 */
async function writeWhole(handle: FileHandle, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await handle.write(data, done, data.length - done);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    done += bytesWritten;
  }
}

/**
 * The blob being received on one UploadBlobs stream: its partial file stays open across chunks and
 * its hash is computed as the bytes arrive, so completing a blob costs no second read of it. A blob
 * that arrives whole in one chunk (small files) is verified in memory and written once.
 */
class BlobReceiver {
  #current:
    | { sha256: string; sizeBytes: number; written: number; handle: FileHandle; hash: Hash | undefined }
    | undefined;
  /** A blob this stream found already stored: its further chunks are skipped without a stat each. */
  #stored: { sha256: string; sizeBytes: number } | undefined;
  readonly #folders = new Set<string>();

  constructor(private readonly store: BlobPaths) {}

  /** Stores one chunk; true when it completed (and verified) its blob. */
  async receive(chunk: BlobChunk): Promise<boolean> {
    const { sha256, offset, data, sizeBytes } = chunk;
    if (!SHA256.test(sha256)) throw invalidArgument('sha256: expected 64 lowercase hex digits');
    if (data.length > MAX_CHUNK_BYTES)
      throw invalidArgument(`data: chunks are limited to ${MAX_CHUNK_BYTES} bytes`);
    if (sha256 === this.#stored?.sha256) {
      if (sizeBytes !== this.#stored.sizeBytes)
        throw sizeMismatch(sha256, this.#stored.sizeBytes, sizeBytes, 'chunk');
      return false;
    }
    if (this.#current && this.#current.sha256 !== sha256) await this.finish();
    let current = this.#current;
    if (!current) {
      const part = this.store.partPath(sha256);
      if (isWholeBlob(chunk)) {
        // The whole blob in one chunk, verified before it is stored: it replaces any partial file,
        // and a copy already stored (same bytes) without a look for it first.
        this.#refuseIfBeingWritten(sha256);
        this.store.writing.add(sha256);
        try {
          verify(sha256, createHash('sha256').update(data).digest('hex'));
          // Written synchronously (see sync-slices.ts): a small file costs a few file-system calls,
          // each cheaper than a thread-pool hop. receiveBlobs gives the event loop its turns.
          writeFileSync(part, data, { mode: 0o600 });
          this.#storeSync(sha256, part);
        } finally {
          this.store.writing.delete(sha256);
        }
        return true;
      }
      const blob = await stat(this.store.blobPath(sha256)).catch(() => undefined);
      if (blob) {
        if (sizeBytes !== blob.size) throw sizeMismatch(sha256, blob.size, sizeBytes, 'chunk');
        this.#stored = { sha256, sizeBytes };
        return false;
      }
      this.#refuseIfBeingWritten(sha256);
      const have = (await stat(part).catch(() => undefined))?.size ?? 0;
      checkChunk(sha256, have, offset, data.length, sizeBytes);
      // The rest of the blob must fit before any of it is kept.
      await checkFits(
        dirname(part),
        sizeBytes - have,
        `blob ${sha256} (size_bytes ${sizeBytes}) still needs`,
      );
      this.store.writing.add(sha256);
      try {
        const handle = await open(part, 'a', 0o600);
        // Resuming a partial file: its first bytes came on an earlier stream, so hash it all at the end.
        const hash = have === 0 ? createHash('sha256') : undefined;
        current = { sha256, sizeBytes, written: have, handle, hash };
        this.#current = current;
      } catch (error) {
        this.store.writing.delete(sha256);
        throw error;
      }
    } else {
      if (sizeBytes !== current.sizeBytes)
        throw invalidArgument(
          `blob ${sha256}: the chunk declares size_bytes ${sizeBytes}, its earlier chunks ${current.sizeBytes}`,
        );
      checkChunk(sha256, current.written, offset, data.length, sizeBytes);
    }
    // The chunk is hashed here while a pool thread copies it to the file.
    const written = writeWhole(current.handle, data);
    current.hash?.update(data);
    await written;
    current.written += data.length;
    if (current.written < current.sizeBytes) return false;
    this.#current = undefined;
    try {
      await current.handle.close();
      const part = this.store.partPath(sha256);
      const actual = current.hash ? current.hash.digest('hex') : await hashFile(part);
      if (actual !== sha256) await rm(part, { force: true });
      verify(sha256, actual);
      this.#storeSync(sha256, part);
    } finally {
      this.store.writing.delete(sha256);
    }
    return true;
  }

  /** Closes a blob left incomplete (its partial file stays, so a later upload resumes it). */
  async finish(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    if (!current) return;
    this.store.writing.delete(current.sha256);
    await current.handle.close();
  }

  #refuseIfBeingWritten(sha256: string): void {
    if (this.store.writing.has(sha256))
      throw new StatusError(status.ABORTED, `blob ${sha256} is being uploaded by another stream`);
  }

  /** Moves a verified part to its blob's place. */
  #storeSync(sha256: string, part: string): void {
    const target = this.store.blobPath(sha256);
    const folder = dirname(target);
    if (!this.#folders.has(folder)) {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      this.#folders.add(folder);
    }
    renameSync(part, target);
  }
}

function checkChunk(sha256: string, have: number, offset: number, length: number, sizeBytes: number): void {
  if (offset !== have) {
    throw new StatusError(
      status.OUT_OF_RANGE,
      `blob ${sha256}: the agent holds ${have} bytes, the chunk starts at ${offset}`,
    );
  }
  if (offset + length > sizeBytes)
    throw invalidArgument(`blob ${sha256}: the chunk runs past size_bytes ${sizeBytes}`);
}

function verify(sha256: string, actual: string): void {
  if (actual !== sha256) {
    throw new StatusError(
      status.DATA_LOSS,
      `blob ${sha256}: the bytes received hash to ${actual}; send it again`,
    );
  }
}

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}
