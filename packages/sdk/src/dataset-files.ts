// The local half of an upload: walking a folder into a manifest, hashing files without holding them in
// memory, and the optional cache that spares re-hashing files that have not changed.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GpulinkError, toGpulinkError } from './errors.js';

/**
 * Checks a dataset-relative path the way the agent will: "/"-separated, no leading "/", no drive letter,
 * no empty, "." or ".." segment. Refusing them here means an unsafe path never leaves the machine.
 * @internal
 */
export function checkRelativePath(path: string, what = 'path'): string {
  const problem =
    path === ''
      ? 'it is empty'
      : path.includes('\0')
        ? 'it contains a NUL character'
        : path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)
          ? 'it is absolute'
          : path.split('/').some((s) => s === '..')
            ? "it contains '..'"
            : path.split('/').some((s) => s === '' || s === '.')
              ? "it has an empty or '.' segment"
              : undefined;
  if (problem) throw new GpulinkError('INVALID_ARGUMENT', `${what} '${path}' is refused: ${problem}`);
  return path;
}

/** Longest run of synchronous small-file reads (hashing, stat'ing) before the event loop gets a turn, ms. */
const SYNC_SLICE_MS = 4;

/** Gives the event loop a turn once the current run of synchronous file calls has lasted SYNC_SLICE_MS. */
class SyncSlices {
  #start = performance.now();

  async turn(): Promise<void> {
    if (performance.now() - this.#start <= SYNC_SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.#start = performance.now();
  }

  /** After an asynchronous call, which let the event loop run: a new slice starts. */
  restart(): void {
    this.#start = performance.now();
  }
}
/** Files up to this size are read whole to be hashed (one read instead of a stream). */
const SMALL_FILE_BYTES = 1 << 20;

/** One regular file of a dataset folder. @internal */
export interface LocalFile {
  /** Dataset-relative path with "/" separators. */
  path: string;
  /** Where it is on this machine. */
  absolutePath: string;
  sizeBytes: number;
  mtimeMs: number;
  ino: number;
}

/**
 * Lists every regular file under `root`, sorted by path. Symbolic links and special files are refused
 * rather than followed: a link can point outside the folder, and the agent stores plain files only.
 * @internal
 */
export async function walkFolder(root: string, filter?: (path: string) => boolean): Promise<LocalFile[]> {
  let rootStat: Awaited<ReturnType<typeof stat>>;
  try {
    rootStat = await stat(root);
  } catch (e) {
    throw toGpulinkError(e);
  }
  if (!rootStat.isDirectory()) {
    throw new GpulinkError(
      'INVALID_ARGUMENT',
      `${root} is not a folder; datasets are uploaded from a folder`,
    );
  }
  const files: LocalFile[] = [];
  const slices = new SyncSlices();
  async function visit(dir: string, prefix: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    const found: Array<{ path: string; absolutePath: string }> = [];
    for (const entry of entries) {
      const path = checkRelativePath(prefix + entry.name);
      const absolutePath = join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        throw new GpulinkError(
          'INVALID_ARGUMENT',
          `'${path}' in ${root} is a symbolic link; datasets hold regular files only (copy the file in instead)`,
        );
      }
      if (entry.isDirectory()) {
        if (filter && !filter(`${path}/`)) continue;
        await visit(absolutePath, `${path}/`);
      } else if (entry.isFile()) {
        if (filter && !filter(path)) continue;
        found.push({ path, absolutePath });
      } else {
        throw new GpulinkError('INVALID_ARGUMENT', `'${path}' in ${root} is not a regular file or folder`);
      }
    }
    // A folder's files are stat'ed synchronously (a folder of many small images is the usual case,
    // and a promise-based lstat costs a thread-pool hop each), in slices like the hashing.
    for (const f of found) {
      await slices.turn();
      const st = lstatSync(f.absolutePath);
      files.push({ ...f, sizeBytes: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
    }
  }
  try {
    await visit(root, '');
  } catch (e) {
    throw toGpulinkError(e);
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * SHA-256 of a file (from `start`), read in chunks so a large file never sits in memory.
 * @internal
 */
export async function sha256File(path: string, onBytes?: (n: number) => void): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    // One buffer for the whole file: a stream's fresh buffer per read costs more in garbage
    // collection than the hashing itself on a large file.
    const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      onBytes?.(bytesRead);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** Read size when hashing a file. */
const HASH_READ_BYTES = 1 << 20;

/**
 * Where per-user caches go: `$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS,
 * `%LOCALAPPDATA%` on Windows.
 * @internal
 */
export function userCacheDir(): string {
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches');
  if (process.platform === 'win32') return process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local');
  return process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
}

/** @internal */
export function defaultHashCachePath(): string {
  return join(userCacheDir(), 'gpulink', 'sha256-cache.json');
}

type CacheEntry = [sizeBytes: number, mtimeMs: number, ino: number, sha256: string, hashedAtMs: number];

/**
 * A file's modification time is only trusted when it is older than the hash by more than the coarsest
 * common timestamp granularity (FAT's 2 s): a file written again within the same tick as the hash
 * would otherwise keep its stale hash (git's "racily clean" problem).
 */
const racyWindowMs = 2000;
const maxEntries = 200_000;

/**
 * Remembers `(path, size, mtime, inode) -> sha256` between uploads in a JSON file. Losing or failing to
 * write the file only costs re-hashing, so I/O errors here are ignored, never thrown.
 * @internal
 */
export class HashCache {
  private entries = new Map<string, CacheEntry>();
  private dirty = false;

  private constructor(private readonly file: string | undefined) {}

  /** An empty cache that is never saved. */
  static disabled(): HashCache {
    return new HashCache(undefined);
  }

  static async load(file: string): Promise<HashCache> {
    const cache = new HashCache(file);
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as { version?: number; entries?: unknown };
      if (parsed.version === 1 && typeof parsed.entries === 'object' && parsed.entries !== null) {
        for (const [path, entry] of Object.entries(parsed.entries)) {
          if (Array.isArray(entry) && entry.length === 5) cache.entries.set(path, entry as CacheEntry);
        }
      }
    } catch {
      // Missing or unreadable: start empty.
    }
    return cache;
  }

  get(file: LocalFile): string | undefined {
    const e = this.entries.get(file.absolutePath);
    if (!e) return undefined;
    const [size, mtimeMs, ino, sha256, hashedAtMs] = e;
    const fresh = size === file.sizeBytes && mtimeMs === file.mtimeMs && ino === file.ino;
    return fresh && mtimeMs + racyWindowMs < hashedAtMs ? sha256 : undefined;
  }

  set(file: LocalFile, sha256: string, hashedAtMs: number): void {
    this.entries.set(file.absolutePath, [file.sizeBytes, file.mtimeMs, file.ino, sha256, hashedAtMs]);
    this.dirty = true;
  }

  forget(file: LocalFile): void {
    this.dirty = this.entries.delete(file.absolutePath) || this.dirty;
  }

  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    let list = [...this.entries];
    if (list.length > maxEntries) {
      list = list.sort((a, b) => b[1][4] - a[1][4]).slice(0, maxEntries);
    }
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      await mkdir(join(this.file, '..'), { recursive: true });
      await writeFile(temp, JSON.stringify({ version: 1, entries: Object.fromEntries(list) }), {
        mode: 0o600,
      });
      // Rename is atomic, so a concurrent upload reads either the old or the new cache, never half of one.
      await rename(temp, this.file);
      this.dirty = false;
    } catch {
      // Not writable (read-only home, full disk): the next upload hashes again.
    }
  }
}

/** A hashed file of the manifest. @internal */
export interface HashedFile extends LocalFile {
  sha256: string;
  /**
   * The content read while hashing, kept for small files (within {@link KEPT_BYTES_BUDGET}) so that
   * sending them reads nothing again: what is sent is then exactly what was hashed.
   */
  bytes?: Buffer;
}

/** Small files' bytes kept from hashing to sending, at most (the rest are read again to send). */
const KEPT_BYTES_BUDGET = 64 << 20;

/**
 * Hashes every file in order, taking unchanged files' hashes from the cache. A small file is read in
 * one synchronous call: on a folder of many small images, a promise-based read (open, stat, read,
 * close, each a hop through libuv's thread pool) costs several times the hashing itself. The reads
 * run in slices of at most {@link SYNC_SLICE_MS}, so timers and streams of the process still run.
 * `onHashed` sees each file as soon as its hash is known (`read`: not from the cache).
 * @internal
 */
export async function hashFiles(
  files: LocalFile[],
  cache: HashCache,
  onProgress: (file: LocalFile | undefined, bytes: number) => void,
  checkStop: () => void,
  onHashed?: (file: HashedFile, read: boolean) => void,
): Promise<HashedFile[]> {
  const out: HashedFile[] = new Array(files.length);
  let keptBytes = 0;
  const slices = new SyncSlices();
  for (const [i, file] of files.entries()) {
    checkStop();
    let sha256 = cache.get(file);
    const cached = sha256 !== undefined;
    let bytes: Buffer | undefined;
    if (sha256 === undefined) {
      const hashedAtMs = Date.now();
      try {
        if (file.sizeBytes <= SMALL_FILE_BYTES) {
          await slices.turn();
          const data = readFileSync(file.absolutePath);
          onProgress(undefined, data.length);
          sha256 = createHash('sha256').update(data).digest('hex');
          if (data.length === file.sizeBytes && keptBytes + data.length <= KEPT_BYTES_BUDGET) {
            bytes = data;
            keptBytes += data.length;
          }
        } else {
          sha256 = await sha256File(file.absolutePath, (n) => onProgress(undefined, n));
          slices.restart();
        }
      } catch (e) {
        throw toGpulinkError(e);
      }
      cache.set(file, sha256, hashedAtMs);
    } else {
      onProgress(undefined, file.sizeBytes);
    }
    const hashed: HashedFile = bytes ? { ...file, sha256, bytes } : { ...file, sha256 };
    out[i] = hashed;
    onHashed?.(hashed, !cached);
    onProgress(file, 0);
  }
  return out;
}
