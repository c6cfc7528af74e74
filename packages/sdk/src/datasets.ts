import { type FileHandle, open } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import {
  allocUploadChunk,
  type DataServiceClient,
  DataServiceService,
  type ManifestEntry,
  type UploadBlobsResponse,
  type UploadChunkMessage,
} from '@gpulink/proto';
import { datasetInfo } from './convert.js';
import {
  defaultHashCachePath,
  HashCache,
  type HashedFile,
  hashFiles,
  type LocalFile,
  walkFolder,
} from './dataset-files.js';
import { GpulinkError, toGpulinkError } from './errors.js';
import {
  backoffDelay,
  type CallContext,
  type CallOptions,
  checkLimits,
  clientStream,
  defaultRetry,
  limitsOf,
  type OperationLimits,
  type RetryPolicy,
  sleep,
  unary,
  unaryWithRetry,
} from './rpc.js';
import type { DatasetInfo } from './types.js';

/**
 * Where an upload is, passed to {@link UploadOptions.onProgress} after each file hashed and each chunk sent.
 *
 * @example
 * ```ts
 * const onProgress = (p: UploadProgress) =>
 *   process.stderr.write(`\r${p.phase} ${p.bytesSent}/${p.bytesToSend} bytes`);
 * ```
 */
export interface UploadProgress {
  /** `'hashing'` local files, `'uploading'` the blobs the agent lacks, `'committing'` the dataset, `'done'`. */
  phase: 'hashing' | 'uploading' | 'committing' | 'done';
  /** Files in the folder. */
  filesTotal: number;
  /** Files hashed so far. */
  filesHashed: number;
  /** Total size of the files, bytes. */
  bytesTotal: number;
  /** Bytes hashed so far (files whose hash came from the cache count at once). */
  bytesHashed: number;
  /** Bytes the agent lacks and this upload must send (known from the 'uploading' phase on). */
  bytesToSend: number;
  /** File bytes sent so far. */
  bytesSent: number;
}

/**
 * Options of {@link DatasetsApi.upload}.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * await agent.datasets.upload('./digits', {
 *   name: 'digits',
 *   filter: (path) => !path.startsWith('.git/'),
 *   onProgress: (p) => console.log(p.phase, p.bytesSent),
 *   signal: controller.signal,
 * });
 * ```
 */
export interface UploadOptions extends CallOptions {
  /** A name for lists. @default the folder's name */
  name?: string;
  /** Called as the upload advances. */
  onProgress?: (progress: UploadProgress) => void;
  /**
   * Which paths to include, relative with "/" separators (folders end with "/"; returning false for a
   * folder skips all of it). @default everything
   */
  filter?: (path: string) => boolean;
  /**
   * Remember file hashes by (path, size, modification time) so unchanged files are not read again:
   * `true` keeps them under the user's cache folder (`~/.cache/gpulink` on Linux), a string names the
   * cache file, `false` hashes every file every time. @default true
   */
  hashCache?: boolean | string;
  /** Retries after a dropped connection, resuming where the agent stopped receiving. */
  retry?: RetryPolicy | false;
}

/**
 * What an upload did. `sentBytes + reusedBytes + resumedBytes` is the size of the distinct contents
 * (files with equal contents are stored once).
 *
 * @example
 * ```ts
 * const r = await agent.datasets.upload('./digits');
 * console.log(`${r.dataset.id}: sent ${r.sentBytes} of ${r.totalBytes} bytes`);
 * ```
 */
export interface UploadResult {
  /** The committed dataset; pass `{ datasetId: result.dataset.id }` to a task. */
  dataset: DatasetInfo;
  /** Files in the dataset. */
  fileCount: number;
  /** Total size of the files, bytes. */
  totalBytes: number;
  /** File bytes this call sent. */
  sentBytes: number;
  /** Bytes of contents the agent already held in full (from any earlier dataset). */
  reusedBytes: number;
  /** Bytes an earlier, interrupted upload had already delivered, which this call did not send again. */
  resumedBytes: number;
}

/**
 * Options of {@link DatasetsApi.list}.
 *
 * @example
 * ```ts
 * const recent = await agent.datasets.list({ limit: 10 });
 * ```
 */
export interface ListDatasetsOptions {
  /** Most datasets to return, newest first. @default 100 */
  limit?: number;
}

/**
 * `agent.datasets`: content-addressed datasets on the agent.
 *
 * @example
 * ```ts
 * const { dataset } = await agent.datasets.upload('./digits', { name: 'digits' });
 * const job = await agent.trainVision({ data: { datasetId: dataset.id } });
 * ```
 */
export interface DatasetsApi {
  /**
   * Uploads a folder as a dataset. Files are hashed locally (streamed, never whole in memory); the agent
   * says which contents it lacks and only those are sent, in chunks, from where an earlier interrupted
   * upload stopped. Uploading an unchanged folder again sends no file bytes. Symbolic links, special
   * files and unsafe paths are refused before anything is sent.
   */
  upload(dir: string, options?: UploadOptions): Promise<UploadResult>;
  /** Datasets on the agent, newest first. */
  list(filter?: ListDatasetsOptions, options?: CallOptions): Promise<DatasetInfo[]>;
  /** Removes a dataset; contents no other dataset uses are freed. `NOT_FOUND` when unknown. */
  delete(datasetId: string, options?: CallOptions): Promise<void>;
}

/** When the agent does not say, chunks stay well under grpc-js's 4 MiB default message limit. */
const fallbackChunkBytes = 1 << 20;
/** Upload messages written but not yet taken by the connection, at most (bytes, then count). */
const IN_FLIGHT_BYTES = 16 << 20;
const IN_FLIGHT_MESSAGES = 64;
/** Small blobs read ahead of the one being sent. */
const READ_AHEAD = 16;

/** @internal */
export function createDatasetsApi(ctx: CallContext, client: DataServiceClient): DatasetsApi {
  return {
    upload: (dir, options = {}) => uploadFolder(ctx, client, dir, options),
    async list(filter = {}, options) {
      const limits = limitsOf(options);
      const limit = filter.limit ?? 100;
      const out: DatasetInfo[] = [];
      let pageToken = '';
      do {
        const page = await unaryWithRetry(
          ctx,
          'DataService.ListDatasets',
          client.listDatasets.bind(client),
          { pageSize: Math.min(1000, Math.max(1, limit - out.length)), pageToken },
          limits,
        );
        out.push(...page.datasets.map(datasetInfo));
        pageToken = page.nextPageToken;
      } while (pageToken && out.length < limit);
      return out.slice(0, limit);
    },
    async delete(datasetId, options) {
      await unary(
        ctx,
        'DataService.DeleteDataset',
        client.deleteDataset.bind(client),
        { datasetId },
        limitsOf(options),
      );
    },
  };
}

function isTransient(error: GpulinkError): boolean {
  return error.code === 'UNAVAILABLE';
}

async function uploadFolder(
  ctx: CallContext,
  client: DataServiceClient,
  dir: string,
  options: UploadOptions,
): Promise<UploadResult> {
  const limits = limitsOf(options);
  const root = resolve(dir);
  const name = options.name ?? basename(root);
  const policy = options.retry === false ? { maxAttempts: 1 } : { ...defaultRetry, ...options.retry };
  const progress: UploadProgress = {
    phase: 'hashing',
    filesTotal: 0,
    filesHashed: 0,
    bytesTotal: 0,
    bytesHashed: 0,
    bytesToSend: 0,
    bytesSent: 0,
  };
  const report = () => options.onProgress?.({ ...progress });

  checkLimits(ctx, limits);
  const local = await walkFolder(root, options.filter);
  progress.filesTotal = local.length;
  progress.bytesTotal = local.reduce((n, f) => n + f.sizeBytes, 0);
  report();
  const cache =
    options.hashCache === false
      ? HashCache.disabled()
      : await HashCache.load(
          typeof options.hashCache === 'string' ? options.hashCache : defaultHashCachePath(),
        );
  const files = await hashFiles(
    local,
    cache,
    (file, bytes) => {
      progress.bytesHashed += bytes;
      if (file) progress.filesHashed++;
      report();
    },
    () => checkLimits(ctx, limits),
  );
  await cache.save();

  const manifest: ManifestEntry[] = files.map((f) => ({
    path: f.path,
    sizeBytes: f.sizeBytes,
    sha256: f.sha256,
  }));
  const bySha = new Map<string, HashedFile>();
  for (const f of files) if (!bySha.has(f.sha256)) bySha.set(f.sha256, f);
  const uniqueBytes = [...bySha.values()].reduce((n, f) => n + f.sizeBytes, 0);

  let sentBytes = 0;
  let firstPlan: { reusedBytes: number; resumedBytes: number } | undefined;
  let failures = 0;
  for (;;) {
    try {
      const plan = await unaryWithRetry(
        ctx,
        'DataService.PrepareUpload',
        client.prepareUpload.bind(client),
        { name, files: manifest },
        limits,
      );
      if (firstPlan === undefined) {
        const missingBytes = plan.missing.reduce((n, b) => n + b.sizeBytes, 0);
        const resumedBytes = plan.missing.reduce((n, b) => n + b.receivedBytes, 0);
        firstPlan = { reusedBytes: uniqueBytes - missingBytes, resumedBytes };
        progress.bytesToSend = missingBytes - resumedBytes;
      }
      progress.phase = 'uploading';
      report();
      if (plan.missing.length > 0) {
        const chunkBytes = plan.maxChunkBytes > 0 ? plan.maxChunkBytes : fallbackChunkBytes;
        await sendBlobs(ctx, client, plan.missing, bySha, chunkBytes, limits, (n) => {
          sentBytes += n;
          progress.bytesSent = sentBytes;
          failures = 0;
          report();
        }).catch((e: unknown) => {
          if (e instanceof GpulinkError && e.code === 'DATA_LOSS') {
            for (const f of files) cache.forget(f);
            void cache.save();
          }
          throw e;
        });
      }
      progress.phase = 'committing';
      report();
      const committed = await unaryWithRetry(
        ctx,
        'DataService.CommitDataset',
        client.commitDataset.bind(client),
        { name, files: manifest },
        limits,
      );
      progress.phase = 'done';
      report();
      return {
        dataset: datasetInfo(committed.dataset),
        fileCount: files.length,
        totalBytes: progress.bytesTotal,
        sentBytes,
        reusedBytes: firstPlan.reusedBytes,
        resumedBytes: firstPlan.resumedBytes,
      };
    } catch (e) {
      const error = toGpulinkError(e);
      if (!isTransient(error) || limits.signal?.aborted || ctx.closed) throw error;
      failures++;
      if (failures >= policy.maxAttempts) {
        throw new GpulinkError(error.code, `${error.details} (gave up uploading after ${failures} tries)`, {
          method: error.method,
          cause: error,
        });
      }
      await sleep(backoffDelay(failures, policy), limits, error.method);
    }
  }
}

async function sendBlobs(
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
