// What the agent keeps on disk for a user: the files jobs wrote and the datasets uploaded.

/**
 * A file a job produced (a model export, a checkpoint, predictions).
 *
 * @example
 * ```ts
 * const model = (await job.artifacts.list()).find((a) => a.kind === 'model');
 * ```
 */
export interface ArtifactInfo {
  /** File name, unique within the job, e.g. "export.pkl", "checkpoints/epoch-2.pth". */
  name: string;
  /** Size, bytes. */
  sizeBytes: number;
  /** SHA-256 of the content, lowercase hex. */
  sha256: string;
  /** "model", "checkpoint", "predictions", "plot" (a PNG of fastai's own plot) or "file" (agents may add kinds). */
  kind: string;
  /** When it was written. */
  createdAt: Date | undefined;
}

/**
 * A committed dataset on the agent.
 *
 * @example
 * ```ts
 * for (const d of await agent.datasets.list()) console.log(d.id, d.name, d.fileCount);
 * ```
 */
export interface DatasetInfo {
  /** Content-derived id, e.g. "ds_3f2a..."; pass it as `data: { datasetId }`. */
  id: string;
  /** The name given at upload. */
  name: string;
  /** Number of files. */
  fileCount: number;
  /** Total size of its files, bytes. */
  sizeBytes: number;
  /** When it was first committed. */
  createdAt: Date | undefined;
}
