// A first upload sends blobs while its folder is still being hashed. Every few MiB of files read, the
// agent is asked which of them it lacks (PrepareUpload with `part_of`: the whole folder is held to the
// agent's limits before anything is sent), and those go out on one UploadBlobs stream while hashing
// goes on. The whole manifest is then prepared as before: it finds nothing missing and commits in the
// same call. A folder whose hashes all come from the cache (an unchanged re-sync) never starts this
// and stays one call.
import type { DataServiceClient, UploadWhole } from '@gpulink/proto';
import { BlobQueue, chunkBytesOf, sendBlobs } from './blob-sender.js';
import type { HashedFile } from './dataset-files.js';
import { type GpulinkError, toGpulinkError } from './errors.js';
import { type CallContext, type OperationLimits, unary } from './rpc.js';

/** Files read (not from the hash cache) before the agent is asked about them: bytes, then count. */
const BATCH_READ_BYTES = 4 << 20;
const BATCH_READ_FILES = 2048;

/** @internal */
export class EarlyUpload {
  readonly #queue = new BlobQueue();
  /** Each content's first file, as the sender reads it. */
  readonly bySha = new Map<string, HashedFile>();
  #batch: HashedFile[] = [];
  #readBytes = 0;
  #readFiles = 0;
  readonly #probes: Promise<void>[] = [];
  #sending: Promise<unknown> | undefined;
  #error: GpulinkError | undefined;
  /** Bytes of the contents the agent lacked, and of those it held part of, over every batch. */
  missingBytes = 0;
  resumedBytes = 0;

  constructor(
    private readonly ctx: CallContext,
    private readonly client: DataServiceClient,
    private readonly request: { name: string; whole: UploadWhole },
    private readonly limits: OperationLimits,
    private readonly onMissing: (bytes: number) => void,
    private readonly onSent: (bytes: number) => void,
  ) {}

  /** Whether any batch was asked about: the blobs found missing are being sent. */
  get started(): boolean {
    return this.#probes.length > 0;
  }

  /** hashFiles' `onHashed`: a file whose hash is now known (`read`: not from the cache). */
  hashed(file: HashedFile, read: boolean): void {
    if (this.bySha.has(file.sha256)) return;
    // Kept even once stopped: the whole manifest's upload sends from it.
    this.bySha.set(file.sha256, file);
    if (this.#error) return;
    this.#batch.push(file);
    if (read) {
      this.#readBytes += file.sizeBytes;
      this.#readFiles++;
    }
    if (this.#readBytes >= BATCH_READ_BYTES || this.#readFiles >= BATCH_READ_FILES) this.#ask();
  }

  /** Asks the agent which blobs of the batch it lacks and queues them. */
  #ask(): void {
    const files = this.#batch;
    this.#batch = [];
    this.#readBytes = 0;
    this.#readFiles = 0;
    const probe = unary(
      this.ctx,
      'DataService.PrepareUpload',
      this.client.prepareUpload.bind(this.client),
      {
        name: this.request.name,
        files: files.map((f) => ({ path: f.path, sizeBytes: f.sizeBytes, sha256: f.sha256 })),
        partOf: this.request.whole,
      },
      this.limits,
    ).then((plan) => {
      if (this.#error || plan.missing.length === 0) return;
      this.#sending ??= this.#send(chunkBytesOf(plan.maxChunkBytes));
      let toSend = 0;
      for (const blob of plan.missing) {
        this.missingBytes += blob.sizeBytes;
        this.resumedBytes += blob.receivedBytes;
        toSend += blob.sizeBytes - blob.receivedBytes;
      }
      this.onMissing(toSend);
      this.#queue.push(plan.missing);
    });
    this.#probes.push(probe.catch((e: unknown) => this.fail(e)));
  }

  #send(chunkBytes: number): Promise<unknown> {
    const sending = sendBlobs(this.ctx, this.client, this.#queue, this.bySha, chunkBytes, this.limits, (n) =>
      this.onSent(n),
    );
    sending.catch((e: unknown) => this.fail(e));
    return sending;
  }

  /** Stops the early sending (the stream is cancelled); the first error is the one kept. */
  fail(error: unknown): void {
    this.#error ??= toGpulinkError(error);
    this.#queue.close(this.#error);
  }

  /**
   * Once every file is hashed: asks about the last batch, waits until every blob found missing is sent,
   * and returns what stopped it early, if anything did. Does nothing when no batch was asked about.
   */
  async finish(): Promise<GpulinkError | undefined> {
    if (!this.started) return undefined;
    if (this.#batch.length > 0 && !this.#error) this.#ask();
    await Promise.all(this.#probes);
    this.#queue.close();
    await this.#sending?.catch(() => {});
    return this.#error;
  }
}
