// The datasets API of a client: upload (dataset-upload.ts), list and delete.
import type { DataServiceClient } from '@gpulink/proto';
import { datasetInfo } from './convert.js';
import type { UploadOptions, UploadResult } from './dataset-upload.js';
import { uploadFolder } from './dataset-upload.js';
import { type CallContext, type CallOptions, limitsOf, unary, unaryWithRetry } from './rpc.js';
import type { DatasetInfo } from './types.js';

export type { UploadOptions, UploadProgress, UploadResult } from './dataset-upload.js';

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
  /**
   * Removes a dataset; contents no other dataset uses are freed. `NOT_FOUND` when unknown;
   * `FAILED_PRECONDITION`, naming them, while queued or running jobs read it.
   */
  delete(datasetId: string, options?: CallOptions): Promise<void>;
}

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
