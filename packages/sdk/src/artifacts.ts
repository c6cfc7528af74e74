import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Artifact, DataServiceClient } from '@gpulink/proto';
import { artifactInfo } from './convert.js';
import { checkRelativePath, sha256File } from './dataset-files.js';
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
import { serverStream } from './rpc-streams.js';
import type { ArtifactInfo } from './types.js';

/**
 * Options of {@link ArtifactsApi.download}.
 *
 * @example
 * ```ts
 * await job.artifacts.download('export.pkl', './models/', {
 *   onProgress: (done, total) => console.log(`${done}/${total}`),
 * });
 * ```
 */
export interface DownloadOptions extends CallOptions {
  /** Called after each chunk with the bytes written so far (resumed bytes included) and the full size. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Retries after a dropped connection, continuing from the last byte written. */
  retry?: RetryPolicy | false;
}

/**
 * What a download did.
 *
 * @example
 * ```ts
 * const r = await job.artifacts.download('export.pkl', './export.pkl');
 * console.log(r.path, r.sha256, r.resumedFromBytes > 0 ? 'resumed' : 'fresh');
 * ```
 */
export interface DownloadResult {
  /** Where the file is now. */
  path: string;
  /** Its size, bytes. */
  sizeBytes: number;
  /** Its SHA-256, checked against the agent's. */
  sha256: string;
  /** Bytes a previous, interrupted download had left in `<path>.part` and this one kept. */
  resumedFromBytes: number;
}

/**
 * `job.artifacts`: the files a job wrote.
 *
 * @example
 * ```ts
 * for (const a of await job.artifacts.list()) console.log(a.name, a.sizeBytes);
 * await job.artifacts.download('export.pkl', './export.pkl');
 * ```
 */
export interface ArtifactsApi {
  /** The job's artifacts, in the order they were written. */
  list(options?: CallOptions): Promise<ArtifactInfo[]>;
  /**
   * Downloads an artifact to `dest`: a file path, or a folder (one that exists, or any path ending in
   * "/") to put it in under its own name.
   * Bytes go to `<dest>.part` first: a download that is cut off (connection lost, process killed, signal
   * aborted) continues from there on the next call, and the file takes its final name only once its
   * SHA-256 matches the agent's. A mismatch removes the partial file and throws `DATA_LOSS`.
   */
  download(name: string, dest: string, options?: DownloadOptions): Promise<DownloadResult>;
}

/** @internal */
export function createArtifactsApi(ctx: CallContext, client: DataServiceClient, jobId: string): ArtifactsApi {
  const list = async (options?: CallOptions) => {
    const response = await unaryWithRetry(
      ctx,
      'DataService.ListArtifacts',
      client.listArtifacts.bind(client),
      { jobId },
      limitsOf(options),
    );
    return response.artifacts.map(artifactInfo);
  };
  return {
    list,
    download: (name, dest, options = {}) => download(ctx, client, jobId, name, dest, options, list),
  };
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function download(
  ctx: CallContext,
  client: DataServiceClient,
  jobId: string,
  name: string,
  dest: string,
  options: DownloadOptions,
  list: (options?: CallOptions) => Promise<ArtifactInfo[]>,
): Promise<DownloadResult> {
  const method = 'DataService.DownloadArtifact';
  checkRelativePath(name, 'artifact name');
  const limits = limitsOf(options);
  const policy = options.retry === false ? { maxAttempts: 1 } : { ...defaultRetry, ...options.retry };
  let target = resolve(dest);
  const destStat = await stat(target).catch(() => undefined);
  if (destStat?.isDirectory() || /[/\\]$/.test(dest)) target = join(target, ...name.split('/'));
  const part = `${target}.part`;
  try {
    await mkdir(dirname(target), { recursive: true });
  } catch (e) {
    throw toGpulinkError(e);
  }

  const resumedFromBytes = (await sizeOf(part)) ?? 0;
  let offset = resumedFromBytes;
  let expected: Artifact | undefined;
  let restarted = false;
  let failures = 0;
  const restartFromZero = async () => {
    await rm(part, { force: true });
    offset = 0;
    expected = undefined;
    restarted = true;
  };

  let received = false;
  for (;;) {
    checkLimits(ctx, limits, method);
    const file = await open(part, 'a').catch((e: unknown) => {
      throw toGpulinkError(e);
    });
    try {
      const chunks = serverStream(
        ctx,
        method,
        (m, o) => client.downloadArtifact({ jobId, name, offset }, m, o),
        limits,
      );
      for await (const chunk of chunks) {
        if (chunk.artifact) {
          if (expected && expected.sha256 !== chunk.artifact.sha256) {
            throw new GpulinkError('ABORTED', `artifact '${name}' was rewritten during the download`, {
              method,
            });
          }
          expected ??= chunk.artifact;
        }
        if (chunk.offset !== offset) {
          throw new GpulinkError(
            'DATA_LOSS',
            `expected a chunk at byte ${offset}, got one at ${chunk.offset}`,
            {
              method,
            },
          );
        }
        await file.write(chunk.data);
        offset += chunk.data.length;
        failures = 0;
        options.onProgress?.(offset, expected?.sizeBytes ?? offset);
      }
      received = true;
      break;
    } catch (e) {
      const error = toGpulinkError(e, method);
      // A partial file longer than the artifact, or from an artifact since rewritten, is useless: start over.
      if ((error.code === 'OUT_OF_RANGE' || error.code === 'ABORTED') && !restarted) {
        await file.close();
        await restartFromZero();
        continue;
      }
      if (error.code !== 'UNAVAILABLE' || limits.signal?.aborted || ctx.closed) throw error;
      failures++;
      if (failures >= policy.maxAttempts) {
        throw new GpulinkError(
          error.code,
          `${error.details} (gave up after ${failures} tries; ${offset} bytes are kept in ${part} for the next try)`,
          { method, cause: error },
        );
      }
      await pauseBeforeRetry(ctx, backoffDelay(failures, policy), limits, method);
    } finally {
      await file.close().catch(() => {});
      // An empty partial file gives a later download nothing to resume; left by a refused one (an
      // artifact the job does not have) it would only litter the folder.
      if (!received && offset === 0) await rm(part, { force: true });
    }
  }

  // A part file that was already complete gets no chunk, hence no artifact description: ask for it.
  const info = expected ? artifactInfo(expected) : (await list(options)).find((a) => a.name === name);
  if (!info) throw new GpulinkError('NOT_FOUND', `job ${jobId} has no artifact '${name}'`, { method });
  const sha256 = await sha256File(part).catch((e: unknown) => {
    throw toGpulinkError(e);
  });
  if (offset !== info.sizeBytes || sha256 !== info.sha256) {
    await rm(part, { force: true });
    if (resumedFromBytes > 0 && !restarted) {
      // The kept bytes may belong to an earlier version of the artifact: one fresh download settles it.
      return download(
        ctx,
        client,
        jobId,
        name,
        dest,
        { ...options, timeoutMs: remaining(limits.deadline) },
        list,
      );
    }
    throw new GpulinkError(
      'DATA_LOSS',
      `artifact '${name}' arrived corrupted: ${offset} bytes with sha256 ${sha256}, expected ${info.sizeBytes} bytes with ${info.sha256}`,
      { method },
    );
  }
  try {
    await rename(part, target);
  } catch (e) {
    throw toGpulinkError(e);
  }
  return { path: target, sizeBytes: offset, sha256, resumedFromBytes };
}

function remaining(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : Math.max(1, deadline - Date.now());
}
