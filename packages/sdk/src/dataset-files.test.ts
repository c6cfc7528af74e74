import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkRelativePath,
  HashCache,
  hashFiles,
  type LocalFile,
  sha256File,
  walkFolder,
} from './dataset-files.js';
import { GpulinkError } from './errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpulink-sdk-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(path: string, content: string | Buffer): Promise<void> {
  await mkdir(join(dir, path, '..'), { recursive: true });
  await writeFile(join(dir, path), content);
}

const sha = (content: string | Buffer) => createHash('sha256').update(content).digest('hex');

describe('checkRelativePath', () => {
  it.each(['a', 'a/b.png', 'train/3/img-17.png', '.hidden', 'a..b'])('accepts %j', (p) => {
    expect(checkRelativePath(p)).toBe(p);
  });

  it.each([
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['C:/x', /absolute/],
    ['\\\\server\\share', /absolute/],
    ['../up', /'\.\.'/],
    ['a/../../b', /'\.\.'/],
    ['a//b', /empty or '\.' segment/],
    ['a/./b', /empty or '\.' segment/],
    ['a/', /empty or '\.' segment/],
    ['a\0b', /NUL/],
  ])('refuses %j', (p, why) => {
    expect(() => checkRelativePath(p)).toThrow(GpulinkError);
    expect(() => checkRelativePath(p)).toThrow(why);
  });
});

describe('walkFolder', () => {
  it('lists regular files with "/" paths, sorted, skipping empty folders', async () => {
    await put('train/b/2.png', 'bb');
    await put('train/a/1.png', 'a');
    await put('labels.csv', 'x,y\n');
    await mkdir(join(dir, 'empty'));
    const files = await walkFolder(dir);
    expect(files.map((f) => [f.path, f.sizeBytes])).toEqual([
      ['labels.csv', 4],
      ['train/a/1.png', 1],
      ['train/b/2.png', 2],
    ]);
    expect(files[0]?.absolutePath).toBe(join(dir, 'labels.csv'));
  });

  it('applies the filter to files and whole folders', async () => {
    await put('.git/config', 'x');
    await put('src/train.py', 'print(1)');
    await put('src/__pycache__/train.pyc', 'x');
    const files = await walkFolder(dir, (p) => !p.startsWith('.git/') && !p.endsWith('__pycache__/'));
    expect(files.map((f) => f.path)).toEqual(['src/train.py']);
  });

  it('refuses a symbolic link to a file or a folder, naming it', async () => {
    await put('real.txt', 'x');
    await symlink(join(dir, 'real.txt'), join(dir, 'link.txt'));
    await expect(walkFolder(dir)).rejects.toThrow(/'link\.txt' .* is a symbolic link/);
    await rm(join(dir, 'link.txt'));
    await mkdir(join(dir, 'sub'));
    await symlink('/etc', join(dir, 'sub', 'etc'));
    const e = await walkFolder(dir).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((e as Error).message).toMatch(/'sub\/etc'/);
  });

  it('says when the folder is missing or is a file', async () => {
    await expect(walkFolder(join(dir, 'nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await put('f', 'x');
    await expect(walkFolder(join(dir, 'f'))).rejects.toThrow(/is not a folder/);
  });
});

describe('hashing', () => {
  it('hashes a file larger than one read chunk without holding it whole', async () => {
    const big = randomBytes(3 * (1 << 20) + 17);
    await put('big.bin', big);
    let seen = 0;
    expect(await sha256File(join(dir, 'big.bin'), (n) => (seen += n))).toBe(sha(big));
    expect(seen).toBe(big.length);
  });

  it('takes unchanged files from the cache and re-hashes changed ones', async () => {
    await put('a.txt', 'alpha');
    await put('b.txt', 'beta');
    // Old enough that their modification times cannot be confused with the hashing time.
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'a.txt'), old, old);
    await utimes(join(dir, 'b.txt'), old, old);
    const cacheFile = join(dir, 'cache', 'sha256.json');
    const first = await HashCache.load(cacheFile);
    const files = await walkFolder(dir, (p) => !p.startsWith('cache'));
    const hashed = await hashFiles(
      files,
      first,
      () => {},
      () => {},
    );
    expect(hashed.map((f) => f.sha256)).toEqual([sha('alpha'), sha('beta')]);
    await first.save();
    expect(JSON.parse(await readFile(cacheFile, 'utf8')).version).toBe(1);

    // Plant a wrong hash for a.txt in the cache: if it is used, the cache was trusted.
    const planted = await HashCache.load(cacheFile);
    const a = files[0] as LocalFile;
    planted.set(a, 'f'.repeat(64), Date.now());
    expect(planted.get(a)).toBe('f'.repeat(64));
    await put('b.txt', 'beta, changed');
    const again = await hashFiles(
      await walkFolder(dir, (p) => !p.startsWith('cache')),
      planted,
      () => {},
      () => {},
    );
    expect(again.map((f) => f.sha256)).toEqual(['f'.repeat(64), sha('beta, changed')]);
  });

  it('does not trust a cache entry whose file changed within the timestamp granularity of its hash', async () => {
    await put('racy.txt', 'one');
    const [file] = await walkFolder(dir);
    const cache = HashCache.disabled();
    cache.set(file as LocalFile, sha('one'), (file as LocalFile).mtimeMs + 500);
    expect(cache.get(file as LocalFile)).toBeUndefined();
    cache.set(file as LocalFile, sha('one'), (file as LocalFile).mtimeMs + 5_000);
    expect(cache.get(file as LocalFile)).toBe(sha('one'));
  });

  it('ignores an unreadable cache file and a cache it cannot write', async () => {
    await put('cache.json', '{not json');
    const cache = await HashCache.load(join(dir, 'cache.json'));
    await put('x', 'x');
    const [file] = await walkFolder(dir, (p) => p === 'x');
    expect(cache.get(file as LocalFile)).toBeUndefined();
    const unwritable = await HashCache.load(join(dir, 'x', 'under-a-file.json'));
    unwritable.set(file as LocalFile, sha('x'), Date.now());
    await expect(unwritable.save()).resolves.toBeUndefined();
  });
});
