import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type DataServiceServer, DataServiceService, decodeUploadChunk } from '@gpulink/proto';
import { status } from '@grpc/grpc-js';
import { type DatasetStore, MAX_CHUNK_BYTES } from '../data/dataset-store.js';
import type { JobManager } from '../jobs/job-manager.js';
import type { JobStore } from '../jobs/job-store.js';
import { clientStream, type OpenStreams, serverStream, unary } from '../rpc/handlers.js';
import { invalidArgument, notFound, StatusError } from '../rpc/status-error.js';

const DOWNLOAD_CHUNK = 256 * 1024;
/** Download messages written but not yet sent, at most (1 MiB). */
const DOWNLOAD_IN_FLIGHT = 4;

/** DataService as generated, but an upload chunk's data is a view of its message, not a copy. */
export const dataServiceDefinition: typeof DataServiceService = {
  ...DataServiceService,
  uploadBlobs: { ...DataServiceService.uploadBlobs, requestDeserialize: decodeUploadChunk },
};

export function createDataService(deps: {
  datasets: DatasetStore;
  jobs: JobManager;
  store: JobStore;
  open: OpenStreams;
}): DataServiceServer {
  const { datasets, jobs } = deps;
  return {
    prepareUpload: unary(async (req) => {
      // Nothing to send: committing now spares the client the CommitDataset round trip.
      const { id, missing, alreadyCommitted, dataset } = await datasets.prepare(req.files, {
        partOf: req.partOf,
        commitAs: req.commitIfComplete ? req.name : undefined,
      });
      return { datasetId: id, missing, alreadyCommitted, maxChunkBytes: MAX_CHUNK_BYTES, dataset };
    }),
    uploadBlobs: clientStream(async (requests) => {
      const { completed, receivedBytes } = await datasets.receiveStream(requests);
      return { completedSha256: completed, receivedBytes };
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
      await datasets.delete(req.datasetId, () => jobs.refuseIfDatasetInUse(req.datasetId));
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
      // The next chunks are read while the last ones are still being written: a few in flight, so the
      // connection never waits on a file read, and the memory a download holds stays bounded.
      const inFlight: Promise<void>[] = [];
      try {
        let offset = req.offset;
        let first = true;
        do {
          const buf = Buffer.alloc(Math.min(DOWNLOAD_CHUNK, size - offset));
          const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
          inFlight.push(
            send({ offset, data: buf.subarray(0, bytesRead), artifact: first ? artifact : undefined }),
          );
          if (inFlight.length >= DOWNLOAD_IN_FLIGHT) await inFlight.shift();
          first = false;
          offset += bytesRead;
          if (bytesRead === 0) break;
        } while (offset < size && !signal.aborted);
        await Promise.all(inFlight);
      } finally {
        await handle.close();
      }
    }),
  };
}
