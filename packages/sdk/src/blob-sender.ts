// The UploadBlobs stream of an upload: the missing blobs' bytes, each chunk read from its file
// straight into its message, a bounded number of messages in flight.
import { type FileHandle, open } from 'node:fs/promises';
import {
  allocUploadChunk,
  type DataServiceClient,
  DataServiceService,
  type UploadBlobsResponse,
  type UploadChunkMessage,
} from '@gpulink/proto';
import type { HashedFile, LocalFile } from './dataset-files.js';
import { GpulinkError, toGpulinkError } from './errors.js';
import type { CallContext, OperationLimits } from './rpc.js';
import { clientStream } from './rpc-streams.js';

/** Upload messages written but not yet taken by the connection, at most (bytes, then count). */
const IN_FLIGHT_BYTES = 16 << 20;
const IN_FLIGHT_MESSAGES = 64;
/** Small blobs read ahead of the one being sent. */
const READ_AHEAD = 16;

/** The chunk size PrepareUpload gives; when the agent does not say, well under grpc-js's 4 MiB default message limit. */
export function chunkBytesOf(maxChunkBytes: number): number {
  return maxChunkBytes > 0 ? maxChunkBytes : 1 << 20;
}

/** A blob the agent lacks, as PrepareUpload names it. */
export interface MissingBlobRef {
  sha256: string;
  sizeBytes: number;
  receivedBytes: number;
}

/**
 * The blobs one UploadBlobs stream sends, queued as they become known: all at once after
 * PrepareUpload, or batch by batch while a first upload still hashes its folder (early-upload.ts).
 * Closed when no more will come; closed with an error, the stream is abandoned.
 * @internal
 */
export class BlobQueue {
  #items: MissingBlobRef[] = [];
  #head = 0;
  #closed: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  static of(blobs: readonly MissingBlobRef[]): BlobQueue {
    const queue = new BlobQueue();
    queue.push(blobs);
    queue.close();
    return queue;
  }

  push(blobs: readonly MissingBlobRef[]): void {
    if (this.#closed) return;
    for (const blob of blobs) this.#items.push(blob);
    this.#wake?.();
  }

  close(error?: unknown): void {
    this.#closed ??= { error };
    this.#wake?.();
  }

  /** The next blob if one is queued now; undefined when none is (yet). */
  take(): MissingBlobRef | undefined {
    if (this.#closed?.error !== undefined) throw this.#closed.error;
    const blob = this.#items[this.#head];
    if (blob === undefined) return undefined;
    this.#head++;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return blob;
  }

  /** The next blob, waiting for one; undefined once the queue is closed and empty. */
  async next(): Promise<MissingBlobRef | undefined> {
    for (;;) {
      const blob = this.take();
      if (blob || this.#closed) return blob;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}

/**
 * Sends the queued blobs on one UploadBlobs stream, each from the offset the agent holds, until the
 * queue is closed and empty; then half-closes and returns the agent's answer.
 * @internal
 */
export async function sendBlobs(
  ctx: CallContext,
  client: DataServiceClient,
  queue: BlobQueue,
  bySha: ReadonlyMap<string, HashedFile>,
  chunkBytes: number,
  limits: OperationLimits,
  onSent: (bytes: number) => void,
): Promise<UploadBlobsResponse> {
  const method = 'DataService.UploadBlobs';
  // Messages are encoded here, each read from its file straight into place (see @gpulink/proto's
  // upload-wire): the stream's serializer passes them through.
  const call = clientStream<Buffer, UploadBlobsResponse>(
    ctx,
    method,
    (m, o, cb) =>
      client.makeClientStreamRequest(
        DataServiceService.uploadBlobs.path,
        (message: Buffer) => message,
        DataServiceService.uploadBlobs.responseDeserialize,
        m,
        o,
        (error, response) => cb(error, response as UploadBlobsResponse),
      ),
    limits,
  );
  // Chunks in flight keep the connection busy while the next ones are read from disk: up to
  // IN_FLIGHT_BYTES or IN_FLIGHT_MESSAGES (a small file is one message).
  const inFlight: Array<{ written: Promise<void>; bytes: number }> = [];
  let inFlightBytes = 0;
  const send = async ({ message, data }: UploadChunkMessage) => {
    const bytes = data.length;
    const written = call.write(message).then(() => onSent(bytes));
    // Awaited below in order; this only stops a rejection from counting as unhandled meanwhile.
    written.catch(() => {});
    inFlight.push({ written, bytes });
    inFlightBytes += bytes;
    while (inFlight.length >= IN_FLIGHT_MESSAGES || inFlightBytes >= IN_FLIGHT_BYTES) {
      const oldest = inFlight.shift() as { written: Promise<void>; bytes: number };
      inFlightBytes -= oldest.bytes;
      await oldest.written;
    }
  };
  const fileOf = (blob: MissingBlobRef) => {
    const file = bySha.get(blob.sha256);
    if (!file) {
      throw new GpulinkError(
        'INTERNAL',
        `the agent asked for blob ${blob.sha256}, which is not in the manifest`,
        {
          method: 'DataService.PrepareUpload',
        },
      );
    }
    return file;
  };
  // A file that fits one chunk (most files of an image dataset) is read whole, a few blobs ahead of
  // the one being sent, so reading and sending overlap.
  const ahead: Array<{ blob: MissingBlobRef; file: HashedFile; whole?: Promise<UploadChunkMessage> }> = [];
  const readAhead = (blob: MissingBlobRef) => {
    const file = fileOf(blob);
    if (blob.receivedBytes < blob.sizeBytes && blob.sizeBytes <= chunkBytes) {
      const whole = readSmallBlob(file, blob);
      whole.catch(() => {});
      ahead.push({ blob, file, whole });
    } else ahead.push({ blob, file });
  };
  try {
    for (;;) {
      for (let b = ahead.length < READ_AHEAD ? queue.take() : undefined; b; ) {
        readAhead(b);
        b = ahead.length < READ_AHEAD ? queue.take() : undefined;
      }
      const next = ahead.shift();
      if (!next) {
        const blob = await queue.next();
        if (!blob) break;
        readAhead(blob);
        continue;
      }
      const { blob, file, whole } = next;
      if (blob.receivedBytes >= file.sizeBytes) continue;
      if (whole) {
        await send(await whole);
        continue;
      }
      const handle = await open(file.absolutePath, 'r').catch((e: unknown) => {
        throw toGpulinkError(e, method);
      });
      try {
        await checkSize(handle, file);
        for (let offset = blob.receivedBytes; offset < file.sizeBytes; ) {
          const length = Math.min(chunkBytes, file.sizeBytes - offset);
          const chunk = allocUploadChunk({ sha256: blob.sha256, offset, sizeBytes: file.sizeBytes }, length);
          await readInto(handle, chunk.data, offset, file);
          await send(chunk);
          offset += length;
        }
      } finally {
        await handle.close().catch(() => {});
      }
    }
    for (let next = inFlight.shift(); next; next = inFlight.shift()) await next.written;
    return await call.finish();
  } catch (e) {
    call.cancel();
    throw toGpulinkError(e, method);
  }
}

/**
 * A file that fits one message, from `receivedBytes` on: the bytes kept from hashing it (let go once
 * copied into the message; a retried upload reads the file again), or else read from disk into it.
 */
async function readSmallBlob(
  file: HashedFile,
  blob: { sha256: string; receivedBytes: number },
): Promise<UploadChunkMessage> {
  const head = { sha256: blob.sha256, offset: blob.receivedBytes, sizeBytes: file.sizeBytes };
  if (file.bytes) {
    const chunk = allocUploadChunk(head, file.sizeBytes - blob.receivedBytes);
    file.bytes.copy(chunk.data, 0, blob.receivedBytes);
    file.bytes = undefined;
    return chunk;
  }
  const handle = await open(file.absolutePath, 'r');
  try {
    await checkSize(handle, file);
    const chunk = allocUploadChunk(head, file.sizeBytes - blob.receivedBytes);
    await readInto(handle, chunk.data, blob.receivedBytes, file);
    return chunk;
  } finally {
    await handle.close().catch(() => {});
  }
}

/** Refuses a file whose size is no longer the one hashed. */
async function checkSize(handle: FileHandle, file: LocalFile): Promise<void> {
  if ((await handle.stat()).size !== file.sizeBytes) throw changedWhileUploading(file);
}

/** Fills `into` from the file at `position`; a file that ends early changed since it was hashed. */
async function readInto(handle: FileHandle, into: Buffer, position: number, file: LocalFile): Promise<void> {
  for (let done = 0; done < into.length; ) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw changedWhileUploading(file);
    done += bytesRead;
  }
}

function changedWhileUploading(file: LocalFile): GpulinkError {
  return new GpulinkError(
    'FAILED_PRECONDITION',
    `'${file.path}' changed while it was being uploaded (expected ${file.sizeBytes} bytes); upload again`,
    { method: 'DataService.UploadBlobs' },
  );
}
