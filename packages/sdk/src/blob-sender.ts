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

/** @internal */
export async function sendBlobs(
  ctx: CallContext,
  client: DataServiceClient,
  missing: { sha256: string; sizeBytes: number; receivedBytes: number }[],
  bySha: Map<string, HashedFile>,
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
  const fileOf = (blob: { sha256: string }) => {
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
  const isSmall = (blob: (typeof missing)[number]) =>
    blob.receivedBytes < blob.sizeBytes && blob.sizeBytes <= chunkBytes;
  const reads = new Map<number, Promise<UploadChunkMessage>>();
  const readAhead = (from: number) => {
    for (let i = from; i < Math.min(missing.length, from + READ_AHEAD); i++) {
      const blob = missing[i] as (typeof missing)[number];
      if (reads.has(i) || !isSmall(blob)) continue;
      const read = readSmallBlob(fileOf(blob), blob);
      read.catch(() => {});
      reads.set(i, read);
    }
  };
  try {
    for (const [i, blob] of missing.entries()) {
      const file = fileOf(blob);
      if (blob.receivedBytes >= file.sizeBytes) continue;
      readAhead(i);
      const whole = reads.get(i);
      if (whole) {
        reads.delete(i);
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
