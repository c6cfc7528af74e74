import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Dataset, ManifestEntry, MissingBlob } from '@gpulink/proto';
import { status } from '@grpc/grpc-js';
import { failedPrecondition, invalidArgument, notFound, StatusError } from '../rpc/status-error.js';
import { writeFileAtomic } from '../state/state-dir.js';
import { unsafePathReason } from './safe-path.js';

const SHA256 = /^[0-9a-f]{64}$/;
/** Largest chunk accepted in one UploadBlobs message (the client sends at most this). */
export const MAX_CHUNK_BYTES = 1024 * 1024;
const MAX_FILES = 1_000_000;

interface StoredDataset {
  id: string;
  name: string;
  createdAt: string;
  files: ManifestEntry[];
}

/**
 * Content-addressed storage: blobs under `blobs/<aa>/<sha256>`, partial uploads under
 * `uploads/<sha256>.part` (kept across cuts so uploads resume), and datasets under
 * `datasets/<id>/` — `manifest.json` plus `files/`, the materialised tree of hard links to blobs.
 */
export class DatasetStore {
  /** Uploads in progress, so two streams cannot write the same blob at once. */
  readonly #writing = new Set<string>();

  constructor(private readonly dirs: { blobsDir: string; uploadsDir: string; datasetsDir: string }) {}

  blobPath(sha256: string): string {
    return join(this.dirs.blobsDir, sha256.slice(0, 2), sha256);
  }
  #partPath(sha256: string): string {
    return join(this.dirs.uploadsDir, `${sha256}.part`);
  }
  #datasetDir(id: string): string {
    return join(this.dirs.datasetsDir, id);
  }

  /** The folder a job reads a dataset from; NOT_FOUND when it is not committed. */
  async filesDir(id: string): Promise<string> {
    if (!/^ds_[0-9a-f]{24}$/.test(id))
      throw invalidArgument(`"${id}" is not a dataset id (ds_ followed by 24 hex digits)`);
    const dir = join(this.#datasetDir(id), 'files');
    try {
      await stat(join(this.#datasetDir(id), 'manifest.json'));
    } catch {
      throw notFound(`dataset ${id} does not exist on this agent: upload it first (gpulink data push)`);
    }
    return dir;
  }

  /** Validates a manifest and derives its dataset id (the same files always give the same id). */
  checkManifest(files: ManifestEntry[]): { id: string; files: ManifestEntry[] } {
    if (files.length === 0) throw invalidArgument('files: the manifest is empty');
    if (files.length > MAX_FILES) throw invalidArgument(`files: more than ${MAX_FILES} files`);
    const seen = new Set<string>();
    for (const [i, f] of files.entries()) {
      const reason = unsafePathReason(f.path);
      if (reason) throw invalidArgument(`files[${i}].path "${f.path}": ${reason}`);
      if (!SHA256.test(f.sha256))
        throw invalidArgument(`files[${i}].sha256: expected 64 lowercase hex digits`);
      if (seen.has(f.path)) throw invalidArgument(`files[${i}].path "${f.path}" appears twice`);
      seen.add(f.path);
    }
    for (const f of files) {
      const parts = f.path.split('/');
      for (let n = 1; n < parts.length; n++) {
        const parent = parts.slice(0, n).join('/');
        if (seen.has(parent))
          throw invalidArgument(`files: "${parent}" is both a file and the folder of "${f.path}"`);
      }
    }
    const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const canonical = sorted.map((f) => `${f.sha256} ${f.sizeBytes} ${f.path}\n`).join('');
    const id = `ds_${createHash('sha256').update(canonical).digest('hex').slice(0, 24)}`;
    return { id, files: sorted };
  }

  async prepare(
    files: ManifestEntry[],
  ): Promise<{ id: string; missing: MissingBlob[]; alreadyCommitted: boolean }> {
    const { id, files: sorted } = this.checkManifest(files);
    const alreadyCommitted = await exists(join(this.#datasetDir(id), 'manifest.json'));
    const missing: MissingBlob[] = [];
    const bySha = new Map<string, number>();
    for (const f of sorted) {
      const size = bySha.get(f.sha256);
      if (size !== undefined && size !== f.sizeBytes) {
        throw invalidArgument(`files: sha256 ${f.sha256} is listed with two different sizes`);
      }
      bySha.set(f.sha256, f.sizeBytes);
    }
    for (const [sha256, sizeBytes] of bySha) {
      if (await exists(this.blobPath(sha256))) continue;
      const part = await stat(this.#partPath(sha256)).catch(() => undefined);
      missing.push({ sha256, sizeBytes, receivedBytes: Math.min(part?.size ?? 0, sizeBytes) });
    }
    return { id, missing, alreadyCommitted };
  }

  /**
   * Appends one chunk to a blob's partial file; when the blob is complete, verifies its hash and
   * moves it into the store. Returns true when this chunk completed the blob.
   */
  async receiveChunk(chunk: {
    sha256: string;
    offset: number;
    data: Uint8Array;
    sizeBytes: number;
  }): Promise<boolean> {
    const { sha256, offset, data, sizeBytes } = chunk;
    if (!SHA256.test(sha256)) throw invalidArgument('sha256: expected 64 lowercase hex digits');
    if (data.length > MAX_CHUNK_BYTES)
      throw invalidArgument(`data: chunks are limited to ${MAX_CHUNK_BYTES} bytes`);
    if (await exists(this.blobPath(sha256))) return false;
    if (this.#writing.has(sha256))
      throw new StatusError(status.ABORTED, `blob ${sha256} is being uploaded by another stream`);
    this.#writing.add(sha256);
    try {
      const part = this.#partPath(sha256);
      const have = (await stat(part).catch(() => undefined))?.size ?? 0;
      if (offset !== have) {
        throw new StatusError(
          status.OUT_OF_RANGE,
          `blob ${sha256}: the agent holds ${have} bytes, the chunk starts at ${offset}`,
        );
      }
      if (offset + data.length > sizeBytes)
        throw invalidArgument(`blob ${sha256}: the chunk runs past size_bytes ${sizeBytes}`);
      const handle = await open(part, 'a', 0o600);
      try {
        // A full disk shows first as a short write, not an error: keep writing until the chunk is
        // in or the OS refuses (ENOSPC -> RESOURCE_EXHAUSTED), never answer a chunk half-stored.
        for (let done = 0; done < data.length; ) {
          const { bytesWritten } = await handle.write(data, done, data.length - done);
          if (bytesWritten === 0)
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          done += bytesWritten;
        }
      } finally {
        await handle.close();
      }
      if (offset + data.length < sizeBytes) return false;
      const actual = await hashFile(part);
      if (actual !== sha256) {
        await rm(part, { force: true });
        throw new StatusError(
          status.DATA_LOSS,
          `blob ${sha256}: the bytes received hash to ${actual}; send it again`,
        );
      }
      await mkdir(dirname(this.blobPath(sha256)), { recursive: true, mode: 0o700 });
      await rename(part, this.blobPath(sha256));
      return true;
    } finally {
      this.#writing.delete(sha256);
    }
  }

  /** Materialises a dataset whose blobs are all present. Committing twice returns the same dataset. */
  async commit(name: string, files: ManifestEntry[]): Promise<Dataset> {
    const { id, missing, alreadyCommitted } = await this.prepare(files);
    if (alreadyCommitted) return this.get(id);
    if (missing.length > 0) {
      throw failedPrecondition(
        `${missing.length} blob(s) are not uploaded yet, e.g. ${missing[0]?.sha256}: call UploadBlobs first`,
      );
    }
    const { files: sorted } = this.checkManifest(files);
    const dir = this.#datasetDir(id);
    const staging = `${dir}.staging-${process.pid}-${Date.now()}`;
    try {
      for (const f of sorted) {
        const target = join(staging, 'files', ...f.path.split('/'));
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        await link(this.blobPath(f.sha256), target).catch(() => copyFile(this.blobPath(f.sha256), target));
      }
      const stored: StoredDataset = { id, name, createdAt: new Date().toISOString(), files: sorted };
      await writeFileAtomic(join(staging, 'manifest.json'), JSON.stringify(stored));
      await rename(staging, dir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      if (await exists(join(dir, 'manifest.json'))) return this.get(id);
      throw error;
    }
    return this.get(id);
  }

  async get(id: string): Promise<Dataset> {
    let stored: StoredDataset;
    try {
      stored = JSON.parse(
        await readFile(join(this.#datasetDir(id), 'manifest.json'), 'utf8'),
      ) as StoredDataset;
    } catch {
      throw notFound(`dataset ${id} does not exist on this agent`);
    }
    return {
      id: stored.id,
      name: stored.name,
      fileCount: stored.files.length,
      sizeBytes: stored.files.reduce((n, f) => n + f.sizeBytes, 0),
      createdAt: new Date(stored.createdAt),
    };
  }

  async list(): Promise<Dataset[]> {
    const ids = (await readdir(this.dirs.datasetsDir)).filter((n) => /^ds_[0-9a-f]{24}$/.test(n));
    const all = await Promise.all(ids.map((id) => this.get(id).catch(() => undefined)));
    return all
      .filter((d): d is Dataset => d !== undefined)
      .sort(
        (a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0) || (a.id < b.id ? 1 : -1),
      );
  }

  /** Removes a dataset and the blobs no other dataset uses. */
  async delete(id: string): Promise<void> {
    await this.get(id);
    const stored = JSON.parse(
      await readFile(join(this.#datasetDir(id), 'manifest.json'), 'utf8'),
    ) as StoredDataset;
    const trash = `${this.#datasetDir(id)}.deleting-${Date.now()}`;
    await rename(this.#datasetDir(id), trash);
    await rm(trash, { recursive: true, force: true });
    const stillUsed = new Set<string>();
    for (const other of await this.list()) {
      const m = JSON.parse(
        await readFile(join(this.#datasetDir(other.id), 'manifest.json'), 'utf8'),
      ) as StoredDataset;
      for (const f of m.files) stillUsed.add(f.sha256);
    }
    for (const f of stored.files)
      if (!stillUsed.has(f.sha256)) await rm(this.blobPath(f.sha256), { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}
