// One folder's upload: hash (with the size+mtime cache), PrepareUpload, the missing blobs
// (blob-sender.ts), CommitDataset; retried from PrepareUpload while the agent is unreachable.
import { basename, resolve } from 'node:path';
import type { DataServiceClient, ManifestEntry } from '@gpulink/proto';
import { sendBlobs } from './blob-sender.js';
import { datasetInfo } from './convert.js';
import { defaultHashCachePath, HashCache, type HashedFile, hashFiles, walkFolder } from './dataset-files.js';
import { GpulinkError, toGpulinkError } from './errors.js';
import {
  backoffDelay,
  type CallContext,
  type CallOptions,
  checkLimits,
  defaultRetry,
  limitsOf,
  pauseBeforeRetry,
  type RetryPolicy,
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

/** When the agent does not say, chunks stay well under grpc-js's 4 MiB default message limit. */
const fallbackChunkBytes = 1 << 20;

function isTransient(error: GpulinkError): boolean {
  return error.code === 'UNAVAILABLE';
}

/** @internal */
export async function uploadFolder(
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
        // An unchanged folder is committed by this one call: one round trip.
        { name, files: manifest, commitIfComplete: true },
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
      const committed =
        plan.dataset && plan.missing.length === 0
          ? { dataset: plan.dataset }
          : await unaryWithRetry(
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
      await pauseBeforeRetry(ctx, backoffDelay(failures, policy), limits, error.method);
    }
  }
}
