// One folder's upload: hash (with the size+mtime cache) while sending what the agent lacks of the
// files hashed so far (early-upload.ts), PrepareUpload of the whole manifest, any blobs still missing
// (blob-sender.ts), CommitDataset; retried from PrepareUpload while the agent is unreachable.
import { basename, resolve } from 'node:path';
import type { DataServiceClient, ManifestEntry } from '@gpulink/proto';
import { BlobQueue, chunkBytesOf, sendBlobs } from './blob-sender.js';
import { datasetInfo } from './convert.js';
import { defaultHashCachePath, HashCache, type HashedFile, hashFiles, walkFolder } from './dataset-files.js';
import { EarlyUpload } from './early-upload.js';
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
  /**
   * `'hashing'` local files, `'uploading'` the blobs the agent lacks, `'committing'` the dataset, `'done'`.
   * A first upload starts sending while it still hashes: `bytesSent` and `bytesToSend` grow from then on.
   */
  phase: 'hashing' | 'uploading' | 'committing' | 'done';
  /** Files in the folder. */
  filesTotal: number;
  /** Files hashed so far. */
  filesHashed: number;
  /** Total size of the files, bytes. */
  bytesTotal: number;
  /** Bytes hashed so far (files whose hash came from the cache count at once). */
  bytesHashed: number;
  /** Bytes the agent lacks and this upload must send (all known from the 'uploading' phase on). */
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

/** A blob arrived other than hashed: the cached hashes are not trusted again. */
function forgetHashes(cache: HashCache, files: HashedFile[]): void {
  for (const f of files) cache.forget(f);
  void cache.save();
}

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
  let sentBytes = 0;
  let failures = 0;
  const onSent = (n: number) => {
    sentBytes += n;
    progress.bytesSent = sentBytes;
    failures = 0;
    report();
  };
  // Blobs the agent lacks go out while the rest of the folder is hashed (early-upload.ts).
  const early = new EarlyUpload(
    ctx,
    client,
    { name, whole: { fileCount: local.length, totalBytes: progress.bytesTotal } },
    limits,
    (bytes) => {
      progress.bytesToSend += bytes;
    },
    onSent,
  );
  let files: HashedFile[];
  try {
    files = await hashFiles(
      local,
      cache,
      (file, bytes) => {
        progress.bytesHashed += bytes;
        if (file) progress.filesHashed++;
        report();
      },
      () => checkLimits(ctx, limits),
      (file, read) => early.hashed(file, read),
    );
  } catch (e) {
    early.fail(e);
    throw e;
  }
  if (early.started) {
    progress.phase = 'uploading';
    report();
  }
  const [earlyError] = await Promise.all([early.finish(), cache.save()]);
  if (earlyError?.code === 'DATA_LOSS') forgetHashes(cache, files);
  // Anything else but a lost connection or a refusal of the whole folder (which the whole manifest
  // answers exactly, below) is the upload's answer.
  if (earlyError && earlyError.code !== 'UNAVAILABLE' && earlyError.code !== 'RESOURCE_EXHAUSTED')
    throw earlyError;

  const manifest: ManifestEntry[] = files.map((f) => ({
    path: f.path,
    sizeBytes: f.sizeBytes,
    sha256: f.sha256,
  }));
  const bySha = early.bySha;
  const uniqueBytes = [...bySha.values()].reduce((n, f) => n + f.sizeBytes, 0);

  let firstPlan: { reusedBytes: number; resumedBytes: number } | undefined = early.started
    ? { reusedBytes: uniqueBytes - early.missingBytes, resumedBytes: early.resumedBytes }
    : undefined;
  let planned = false;
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
      const missingBytes = plan.missing.reduce((n, b) => n + b.sizeBytes, 0);
      const resumedBytes = plan.missing.reduce((n, b) => n + b.receivedBytes, 0);
      if (firstPlan === undefined) firstPlan = { reusedBytes: uniqueBytes - missingBytes, resumedBytes };
      if (!planned) {
        // What the early sending sent, and what is still to send.
        planned = true;
        progress.bytesToSend = sentBytes + missingBytes - resumedBytes;
      }
      progress.phase = 'uploading';
      report();
      if (plan.missing.length > 0) {
        await sendBlobs(
          ctx,
          client,
          BlobQueue.of(plan.missing),
          bySha,
          chunkBytesOf(plan.maxChunkBytes),
          limits,
          onSent,
        ).catch((e: unknown) => {
          if (e instanceof GpulinkError && e.code === 'DATA_LOSS') forgetHashes(cache, files);
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
