// Issue 8, item 4: dataset upload through the SDK against a raw TCP copy of the same bytes and against
// rsync to a daemon, all on loopback: one large file, many small files, the re-upload of an unchanged
// folder (the SDK's size+mtime hash cache), and an upload cut at 50% and started again.
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { makeBigFile } from '../lib/big-file.mjs';
import { bytes, count, median, now, percent, rate, seconds, speedup } from '../lib/figures.mjs';
import { startRsyncDaemon } from '../lib/rsync.mjs';
import { hasProgram, startAgent, tempDir } from '../lib/setup.mjs';
import { makeSmallFiles } from '../lib/small-files.mjs';
import { startTcpSink, tcpCopy } from '../lib/tcp-copy.mjs';

export const name = 'upload';
export const describe = 'dataset upload vs raw TCP and rsync on loopback; re-upload; resume after a cut';

const MiB = 1024 * 1024;

async function listFiles(root) {
  const out = [];
  const walk = async (dir) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.push({ path: relative(root, path), absolutePath: path, size: (await stat(path)).size });
    }
  };
  await walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function emptyDir(dir) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

export async function run({ quick, log }) {
  const bigSize = quick ? 256 * MiB : 1024 * MiB;
  const smallCount = quick ? 2_000 : 10_000;
  const reps = quick ? 1 : 3;
  const root = await tempDir('upload');
  const stops = [];
  let a;
  try {
    const bigDir = join(root, 'big');
    const smallDir = join(root, 'small');
    const dest = join(root, 'dest');
    await mkdir(bigDir);
    await mkdir(smallDir);
    await mkdir(dest);
    log(`writing ${bytes(bigSize)} of random bytes and ${count(smallCount)} small files`);
    await makeBigFile(join(bigDir, 'one.bin'), bigSize);
    const smallBytes = await makeSmallFiles(smallDir, smallCount);
    const bigFiles = await listFiles(bigDir);
    const smallFiles = await listFiles(smallDir);

    a = await startAgent({ warmWorkers: 0 });
    const sink = await startTcpSink(dest);
    stops.push(sink.stop);
    const rsyncAvailable = await hasProgram('rsync');
    const rsync = rsyncAvailable ? await startRsyncDaemon(root, dest) : undefined;
    if (rsync) stops.push(rsync.stop);

    let cacheN = 0;
    const freshCache = () => join(root, `hash-cache-${cacheN++}.json`);
    /** A first upload: a hash cache that has never seen the files, an agent that holds none of them. */
    const uploadFirst = async (dir, cachePath = freshCache(), keep = false) => {
      const phases = {};
      const t0 = now();
      const result = await a.client.datasets.upload(dir, {
        hashCache: cachePath,
        onProgress: (p) => {
          phases[p.phase] ??= now() - t0;
        },
      });
      const ms = now() - t0;
      if (result.sentBytes !== result.totalBytes)
        throw new Error(`a first upload sent ${result.sentBytes} of ${result.totalBytes} bytes`);
      if (!keep) await a.client.datasets.delete(result.dataset.id);
      return { ms, phases, result };
    };
    const timed = async (fn) => {
      const t0 = now();
      await fn();
      return now() - t0;
    };

    const smallCache = freshCache();
    const big = { ours: [], tcp: [], rsync: [] };
    const small = { ours: [], tcp: [], rsync: [] };
    for (let rep = 0; rep < reps; rep++) {
      log(`round ${rep + 1}/${reps}: ${bytes(bigSize)} file: SDK, raw TCP${rsync ? ', rsync' : ''}`);
      big.ours.push(await uploadFirst(bigDir));
      await emptyDir(dest);
      big.tcp.push(await timed(() => tcpCopy(sink.port, bigFiles)));
      await emptyDir(dest);
      if (rsync) {
        big.rsync.push(await timed(() => rsync.sync(bigDir, 'big')));
        await emptyDir(dest);
      }
      log(`round ${rep + 1}/${reps}: ${count(smallCount)} files: SDK, raw TCP${rsync ? ', rsync' : ''}`);
      // The last round's dataset and hash cache stay: the re-upload below starts from them.
      const last = rep === reps - 1;
      small.ours.push(await uploadFirst(smallDir, last ? smallCache : freshCache(), last));
      small.tcp.push(await timed(() => tcpCopy(sink.port, smallFiles)));
      await emptyDir(dest);
      if (rsync) {
        small.rsync.push(await timed(() => rsync.sync(smallDir, 'small')));
        await emptyDir(dest);
      }
    }

    log(`re-upload of the unchanged ${count(smallCount)} files (hash cache warm, agent holds them)`);
    const cache = smallCache;
    const again = [];
    for (let rep = 0; rep < reps; rep++) {
      const t0 = now();
      const r = await a.client.datasets.upload(smallDir, { hashCache: cache });
      again.push(now() - t0);
      if (r.sentBytes !== 0) throw new Error(`re-upload of an unchanged folder sent ${r.sentBytes} bytes`);
    }
    const rsyncAgain = [];
    if (rsync) {
      await rsync.sync(smallDir, 'small');
      for (let rep = 0; rep < reps; rep++) rsyncAgain.push(await timed(() => rsync.sync(smallDir, 'small')));
      await emptyDir(dest);
    }

    log(`upload of ${bytes(bigSize)} cut at 50%, then started again`);
    const resumeCache = freshCache();
    const controller = new AbortController();
    let firstSent = 0;
    const t0 = now();
    const cut = await a.client.datasets
      .upload(bigDir, {
        hashCache: resumeCache,
        signal: controller.signal,
        onProgress: (p) => {
          firstSent = p.bytesSent;
          if (p.phase === 'uploading' && p.bytesSent >= bigSize / 2) controller.abort();
        },
      })
      .then(
        () => undefined,
        (e) => e,
      );
    const firstMs = now() - t0;
    if (!cut) throw new Error('the upload finished although it was aborted at 50%');
    const t1 = now();
    const resumed = await a.client.datasets.upload(bigDir, { hashCache: resumeCache });
    const secondMs = now() - t1;
    const resent = firstSent + resumed.sentBytes - bigSize;

    const oursBig = median(big.ours.map((r) => r.ms));
    const tcpBig = median(big.tcp);
    const rsyncBig = median(big.rsync);
    const oursSmall = median(small.ours.map((r) => r.ms));
    const tcpSmall = median(small.tcp);
    const rsyncSmall = median(small.rsync);
    const noRsync = 'rsync is not installed on this machine: not measured';
    const n = `median of ${reps}`;
    const rows = [
      {
        id: 'upload.big.tcp',
        what: `Upload, first, one ${bytes(bigSize)} file (hash + send + agent verify)`,
        ours: `${seconds(oursBig)} (${rate(bigSize / (oursBig / 1000))})`,
        baseline: `${seconds(tcpBig)} (${rate(bigSize / (tcpBig / 1000))}, raw TCP copy on loopback)`,
        ratio: `${percent(tcpBig / oursBig)} of raw TCP`,
        target: '>= 70% of raw TCP',
        met: tcpBig / oursBig >= 0.7,
        note: `${n}; SDK phases: hashing ${seconds(median(big.ours.map((r) => r.phases.uploading)))}, then upload + commit`,
      },
      {
        id: 'upload.big.rsync',
        what: `Upload, first, one ${bytes(bigSize)} file, vs rsync`,
        ours: seconds(oursBig),
        baseline: rsync ? `${seconds(rsyncBig)} (rsync -a to a daemon on 127.0.0.1)` : noRsync,
        ratio: rsync ? speedup(oursBig, rsyncBig) : 'n/a',
        target: '-',
        met: null,
        note: n,
      },
      {
        id: 'upload.small.rsync',
        what: `Upload, first, ${count(smallCount)} files of 1-8 KiB (${bytes(smallBytes)})`,
        ours: seconds(oursSmall),
        baseline: rsync ? `${seconds(rsyncSmall)} (rsync -a to a daemon on 127.0.0.1)` : noRsync,
        ratio: rsync ? speedup(oursSmall, rsyncSmall) : 'n/a',
        target: 'no slower than rsync',
        met: rsync ? oursSmall <= rsyncSmall : null,
        note: n,
      },
      {
        id: 'upload.small.tcp',
        what: `Upload, first, ${count(smallCount)} files, vs raw TCP`,
        ours: seconds(oursSmall),
        baseline: `${seconds(tcpSmall)} (raw TCP copy, files written by the receiver)`,
        ratio: `${percent(tcpSmall / oursSmall)} of raw TCP`,
        target: '-',
        met: null,
        note: n,
      },
      {
        id: 'upload.reupload',
        what: `Re-upload of the unchanged ${count(smallCount)} files (hash cache)`,
        ours: seconds(median(again)),
        baseline: rsync ? `${seconds(median(rsyncAgain))} (rsync of the unchanged folder)` : noRsync,
        ratio: rsync ? speedup(median(again), median(rsyncAgain)) : 'n/a',
        target: '< 1 s',
        met: median(again) < 1000,
        note: `${n}; 0 file bytes sent`,
      },
      {
        id: 'upload.resume',
        what: `Upload of ${bytes(bigSize)} cut at 50% (abort signal), then run again: bytes sent twice`,
        ours: `${bytes(resent)} re-sent`,
        baseline: `${bytes(bigSize)} (starting over)`,
        ratio: `${percent(resent / bigSize)} of the file`,
        target: '-',
        met: null,
        note: `agent kept ${bytes(resumed.resumedBytes)}; the second run took ${seconds(secondMs)} (first run: ${seconds(firstMs)} until the cut)`,
      },
    ];
    const slim = (r) => ({ ms: r.ms, phases: r.phases, sentBytes: r.result.sentBytes });
    return {
      rows,
      raw: {
        bigSize,
        smallCount,
        smallBytes,
        rsync: rsyncAvailable,
        big: { ours: big.ours.map(slim), tcp: big.tcp, rsync: big.rsync },
        small: { ours: small.ours.map(slim), tcp: small.tcp, rsync: small.rsync },
        reupload: { ours: again, rsync: rsyncAgain },
        resume: {
          firstSentBytes: firstSent,
          firstError: String(cut.message ?? cut),
          firstMs,
          secondMs,
          resumedBytes: resumed.resumedBytes,
          secondSentBytes: resumed.sentBytes,
          resentBytes: resent,
        },
      },
    };
  } finally {
    await a?.close().catch(() => undefined);
    for (const stop of stops) await stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
