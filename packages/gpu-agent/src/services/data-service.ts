import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataServiceServer, UploadBlobsRequest } from '@gpulink/proto';
import { status } from '@grpc/grpc-js';
import { type DatasetStore, MAX_CHUNK_BYTES } from '../data/dataset-store.js';
import type { JobManager } from '../jobs/job-manager.js';
import type { JobStore } from '../jobs/job-store.js';
import { clientStream, type OpenStreams, serverStream, unary } from '../rpc/handlers.js';
import { invalidArgument, notFound, StatusError } from '../rpc/status-error.js';

const DOWNLOAD_CHUNK = 256 * 1024;
/** Whole small blobs of one UploadBlobs stream stored at once, at most. */
const PARALLEL_BLOBS = 16;

export function createDataService(deps: {
  datasets: DatasetStore;
  jobs: JobManager;
  store: JobStore;
  open: OpenStreams;
}): DataServiceServer {
  const { datasets, jobs } = deps;
  return {
    prepareUpload: unary(async (req) => {
      const { id, missing, alreadyCommitted } = await datasets.prepare(req.files);
      return { datasetId: id, missing, alreadyCommitted, maxChunkBytes: MAX_CHUNK_BYTES };
    }),
    uploadBlobs: clientStream(async (requests) => {
      const completed: string[] = [];
      let received = 0;
      const receiver = datasets.receiver();
      // Whole small blobs (one chunk each) are stored several at a time, so a folder of small files
      // is not paced by one file's disk round trips; chunks of a larger blob go one after another.
      const pending = new Map<string, Promise<void>>();
      let failure: { error: unknown } | undefined;
      const receive = (chunk: UploadBlobsRequest) =>
        receiver.receive(chunk).then((done) => {
          received += chunk.data.length;
          if (done) completed.push(chunk.sha256);
        });
      try {
        for await (const chunk of requests) {
          if (failure) break;
          const whole = chunk.offset === 0 && chunk.data.length === chunk.sizeBytes;
          if (!whole || pending.has(chunk.sha256)) {
            await Promise.all(pending.values());
            await receive(chunk);
            continue;
          }
          const task = receive(chunk).then(
            () => {
              pending.delete(chunk.sha256);
            },
            (error: unknown) => {
              pending.delete(chunk.sha256);
              failure ??= { error };
            },
          );
          pending.set(chunk.sha256, task);
          if (pending.size >= PARALLEL_BLOBS) await Promise.race(pending.values());
        }
        await Promise.all(pending.values());
        if (failure) throw failure.error;
      } finally {
        await Promise.all(pending.values());
        await receiver.finish();
      }
      return { completedSha256: completed, receivedBytes: received };
    }),
    commitDataset: unary(async (req) => ({ dataset: await datasets.commit(req.name, req.files) })),
    listDatasets: unary(async (req) => {
      const size = req.pageSize || 50;
      if (size > 1000) throw invalidArgument('page_size: at most 1000');
      const all = await datasets.list();
      const start = req.pageToken ? Number(Buffer.from(req.pageToken, 'base64url').toString('utf8')) : 0;
      if (!Number.isInteger(start) || start < 0)
        throw invalidArgument('page_token: not a token from ListDatasets');
      const more = start + size < all.length;
      return {
        datasets: all.slice(start, start + size),
        nextPageToken: more ? Buffer.from(String(start + size)).toString('base64url') : '',
      };
    }),
    deleteDataset: unary(async (req) => {
      await datasets.delete(req.datasetId);
      return {};
    }),
    listArtifacts: unary(async (req) => ({ artifacts: jobs.get(req.jobId).artifacts })),
    downloadArtifact: serverStream(deps.open, async (req, send, signal) => {
      const artifact = jobs.get(req.jobId).artifacts.find((a) => a.name === req.name);
      if (!artifact) throw notFound(`job ${req.jobId} has no artifact "${req.name}"`);
      const path = join(deps.store.artifactsDir(req.jobId), ...artifact.name.split('/'));
      const size = (await stat(path)).size;
      if (req.offset > size)
        throw new StatusError(status.OUT_OF_RANGE, `offset ${req.offset} is past the end (${size} bytes)`);
      const handle = await open(path, 'r');
      try {
        let offset = req.offset;
        let first = true;
        do {
          const buf = Buffer.alloc(Math.min(DOWNLOAD_CHUNK, size - offset));
          const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
          await send({ offset, data: buf.subarray(0, bytesRead), artifact: first ? artifact : undefined });
          first = false;
          offset += bytesRead;
          if (bytesRead === 0) break;
        } while (offset < size && !signal.aborted);
      } finally {
        await handle.close();
      }
    }),
  };
}
