import { createHash } from 'node:crypto';
import { copyFileSync, linkSync, rmSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Dataset, ManifestEntry, MissingBlob, UploadWhole } from '@gpulink/proto';
import { failedPrecondition, invalidArgument, notFound } from '../rpc/status-error.js';
import { writeFileAtomic } from '../state/state-dir.js';
import { type BlobChunk, MAX_CHUNK_BYTES, receiveBlobs, SHA256 } from './blob-receiver.js';
import { checkFits, sizeMismatch } from './declared-sizes.js';
import { unsafePathReason } from './safe-path.js';
import { mapInSlices } from './sync-slices.js';

export { MAX_CHUNK_BYTES };

/**
 * The SHA-256 of no bytes. An empty file has nothing to upload, so the agent never asks for it
 * (a client has no chunk to send) and stores it itself when a dataset needs it.
 */
const EMPTY_SHA256 = createHash('sha256').digest('hex');
const MAX_FILES = 1_000_000;

interface StoredDataset {
  id: string;
  name: string;
  createdAt: string;
  files: ManifestEntry[];
  /**
   * The bytes of its files, each checked against its blob at commit. Absent from the manifests of
   * agents that took declared sizes on trust: those are measured on disk.
   */
  onDiskBytes?: number;
}

/**
 * Content-addressed storage: blobs under `blobs/<aa>/<sha256>`, partial uploads under
 * `uploads/<sha256>.part` (kept across cuts so uploads resume), and datasets under
 * `datasets/<id>/` — `manifest.json` plus `files/`, the materialised tree of hard links to blobs.
 */
export class DatasetStore {
  /** Uploads in progress, so two streams cannot write the same blob at once. */
  readonly #writing = new Set<string>();
  /** Sizes measured on disk for manifests without `onDiskBytes`, by dataset id. */
  readonly #measured = new Map<string, number>();

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
      if (f.sizeBytes === 0 && f.sha256 !== EMPTY_SHA256)
        throw invalidArgument(`files[${i}]: an empty file's sha256 is ${EMPTY_SHA256}, not ${f.sha256}`);
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
    const sizes = new Map<string, number>();
    for (const f of files) {
      const size = sizes.get(f.sha256);
      if (size !== undefined && size !== f.sizeBytes)
        throw invalidArgument(`files: sha256 ${f.sha256} is listed with two different sizes`);
      sizes.set(f.sha256, f.sizeBytes);
    }
    const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const canonical = sorted.map((f) => `${f.sha256} ${f.sizeBytes} ${f.path}\n`).join('');
    const id = `ds_${createHash('sha256').update(canonical).digest('hex').slice(0, 24)}`;
    return { id, files: sorted };
  }

  /**
   * What of a manifest the agent lacks; with `commitAs`, a manifest found complete is committed under
   * that name in the same call (its checks already made). With `partOf`, `files` are the first files
   * of a folder still being hashed: the whole folder is held to the file limit and the free disk
   * first, and nothing is committed.
   */
  async prepare(
    files: ManifestEntry[],
    options: { partOf?: UploadWhole; commitAs?: string } = {},
  ): Promise<{ id: string; missing: MissingBlob[]; alreadyCommitted: boolean; dataset?: Dataset }> {
    const { partOf, commitAs } = options;
    if (partOf && partOf.fileCount > MAX_FILES)
      throw invalidArgument(`part_of.file_count: more than ${MAX_FILES} files`);
    const { id, files: sorted } = this.checkManifest(files);
    const bySha = new Map(sorted.map((f) => [f.sha256, f.sizeBytes]));
    // A committed dataset's files are links to its blobs, which stay while it exists: none is missing.
    if (!partOf && (await exists(join(this.#datasetDir(id), 'manifest.json')))) {
      const dataset = commitAs === undefined ? undefined : await this.get(id);
      return { id, missing: [], alreadyCommitted: true, dataset };
    }
    const storedSizes = await this.#storedSizes([...bySha.keys()]);
    checkStoredSizes(bySha, storedSizes);
    const found = await mapInSlices([...bySha], ([sha256, sizeBytes]) => {
      // The empty blob is never asked for: there is no chunk to send; commit stores it.
      if (sizeBytes === 0 || storedSizes.has(sha256)) return undefined;
      return { sha256, sizeBytes, receivedBytes: this.#resumableBytes(sha256, sizeBytes) };
    });
    const missing = found.filter((m) => m !== undefined);
    const needed = missing.reduce((n, m) => n + (m.sizeBytes - m.receivedBytes), 0);
    if (partOf) {
      // The files not yet hashed count in full: none of them is known to be stored.
      const listed = sorted.reduce((n, f) => n + f.sizeBytes, 0);
      const rest = Math.max(0, partOf.totalBytes - listed);
      await checkFits(
        this.dirs.uploadsDir,
        needed + rest,
        `the folder of ${partOf.fileCount} file(s) being uploaded needs up to`,
      );
    } else {
      await checkFits(this.dirs.uploadsDir, needed, `the ${missing.length} blob(s) still to upload need`);
    }
    const dataset =
      commitAs !== undefined && !partOf && missing.length === 0
        ? await this.#materialise(commitAs, id, sorted)
        : undefined;
    return { id, missing, alreadyCommitted: false, dataset };
  }

  /** The sizes of those of `shas` the agent has stored. */
  async #storedSizes(shas: string[]): Promise<Map<string, number>> {
    const sizes = await mapInSlices(
      shas,
      (sha) => statSync(this.blobPath(sha), { throwIfNoEntry: false })?.size,
    );
    const out = new Map<string, number>();
    for (const [i, size] of sizes.entries()) if (size !== undefined) out.set(shas[i] as string, size);
    return out;
  }

  /**
   * Bytes of a partial upload to resume from. A partial file that reaches the declared size was
   * written under another (false) size, since a part that reaches its size is verified and stored:
   * it is dropped, or an honest upload of the blob could never complete.
   */
  #resumableBytes(sha256: string, sizeBytes: number): number {
    const have = statSync(this.#partPath(sha256), { throwIfNoEntry: false })?.size ?? 0;
    if (have < sizeBytes || have === 0) return have;
    if (this.#writing.has(sha256)) return Math.min(have, sizeBytes);
    rmSync(this.#partPath(sha256), { force: true });
    return 0;
  }

  /** Stores one UploadBlobs stream (see blob-receiver.ts). */
  receiveStream(chunks: AsyncIterable<BlobChunk>): Promise<{ completed: string[]; receivedBytes: number }> {
    return receiveBlobs(chunks, {
      blobPath: (sha) => this.blobPath(sha),
      partPath: (sha) => this.#partPath(sha),
      writing: this.#writing,
    });
  }

  /**
   * Materialises a dataset whose blobs are all present: FAILED_PRECONDITION, and nothing changed,
   * when some are not. Committing twice returns the same dataset.
   */
  async commit(name: string, files: ManifestEntry[]): Promise<Dataset> {
    const { id, files: sorted } = this.checkManifest(files);
    const dir = this.#datasetDir(id);
    if (await exists(join(dir, 'manifest.json'))) return this.get(id);
    // Each declared size against the blob stored, before anything is written: a dataset's size is
    // the bytes it holds.
    const bySha = new Map(sorted.map((f) => [f.sha256, f.sizeBytes]));
    const storedSizes = await this.#storedSizes([...bySha.keys()]);
    checkStoredSizes(bySha, storedSizes);
    // No upload delivers the empty blob: #materialise stores it.
    const notStored = [...bySha.keys()].filter((sha) => sha !== EMPTY_SHA256 && !storedSizes.has(sha));
    if (notStored.length > 0) throw notUploaded(notStored);
    return this.#materialise(name, id, sorted);
  }

  /** Links a checked manifest's files (sorted) to their blobs as dataset `id`, then writes its manifest. */
  async #materialise(name: string, id: string, sorted: ManifestEntry[]): Promise<Dataset> {
    const dir = this.#datasetDir(id);
    // No upload delivers the empty blob (content-addressed: storing it changes no dataset).
    if (sorted.some((f) => f.sha256 === EMPTY_SHA256)) await this.#storeEmptyBlob();
    const staging = `${dir}.staging-${process.pid}-${Date.now()}`;
    try {
      const targets = sorted.map((f) => ({
        sha256: f.sha256,
        target: join(staging, 'files', ...f.path.split('/')),
      }));
      // Folders first (parents before children, each once), then the links, several at a time. A
      // blob removed since the check above shows as a link that fails.
      for (const folder of [...new Set(targets.map((t) => dirname(t.target)))].sort()) {
        await mkdir(folder, { recursive: true, mode: 0o700 });
      }
      const missing = new Set<string>();
      await mapInSlices(targets, ({ sha256, target }) => {
        const blob = this.blobPath(sha256);
        try {
          try {
            linkSync(blob, target);
          } catch (error) {
            // A file system without hard links (some network and FUSE mounts) gets copies.
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw error;
            copyFileSync(blob, target);
          }
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          missing.add(sha256);
        }
      });
      if (missing.size > 0) throw notUploaded([...missing]);
      const stored: StoredDataset = {
        id,
        name,
        createdAt: new Date().toISOString(),
        files: sorted,
        onDiskBytes: sorted.reduce((n, f) => n + f.sizeBytes, 0),
      };
      await writeFileAtomic(join(staging, 'manifest.json'), JSON.stringify(stored));
      await rename(staging, dir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      if (await exists(join(dir, 'manifest.json'))) return this.get(id);
      throw error;
    }
    return this.get(id);
  }

  /** The empty content, which no upload delivers (see EMPTY_SHA256). */
  async #storeEmptyBlob(): Promise<void> {
    const path = this.blobPath(EMPTY_SHA256);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, '', { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
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
      sizeBytes: stored.onDiskBytes ?? (await this.#measure(stored)),
      createdAt: new Date(stored.createdAt),
    };
  }

  /** The bytes under an unchecked dataset's files/, measured once per agent run. */
  async #measure(stored: StoredDataset): Promise<number> {
    let size = this.#measured.get(stored.id);
    if (size === undefined) {
      const files = join(this.#datasetDir(stored.id), 'files');
      const sizes = await mapInSlices(
        stored.files,
        (f) => statSync(join(files, ...f.path.split('/')), { throwIfNoEntry: false })?.size ?? 0,
      );
      size = sizes.reduce((n, s) => n + s, 0);
      this.#measured.set(stored.id, size);
    }
    return size;
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

  /**
   * Removes a dataset and the blobs no other dataset uses. `mayRemove` is asked last before anything
   * changes (it throws to refuse), so no await comes between its answer and the removal.
   */
  async delete(id: string, mayRemove: () => void = () => {}): Promise<void> {
    await this.get(id);
    const stored = JSON.parse(
      await readFile(join(this.#datasetDir(id), 'manifest.json'), 'utf8'),
    ) as StoredDataset;
    mayRemove();
    const trash = `${this.#datasetDir(id)}.deleting-${Date.now()}`;
    await rename(this.#datasetDir(id), trash);
    this.#measured.delete(id);
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

/** INVALID_ARGUMENT when a declared size is not that of the blob stored under its hash. */
function checkStoredSizes(declared: Map<string, number>, stored: Map<string, number>): void {
  const wrong = [...stored].filter(([sha, size]) => declared.get(sha) !== size);
  const first = wrong[0];
  if (!first) return;
  const { details } = sizeMismatch(first[0], first[1], declared.get(first[0]) ?? 0, 'manifest');
  const more = wrong.length > 1 ? ` (and ${wrong.length - 1} more blob(s) of other sizes)` : '';
  throw invalidArgument(`files: ${details}${more}`);
}

const notUploaded = (shas: string[]) =>
  failedPrecondition(`${shas.length} blob(s) are not uploaded yet, e.g. ${shas[0]}: call UploadBlobs first`);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
