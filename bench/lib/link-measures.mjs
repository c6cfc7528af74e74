// The measurements of the shaped-link suite (suites/link.mjs), each through one SDK client: whatever
// carriage that client takes (direct TCP, the WebSocket carriage, the kernel transport) crosses the
// proxy. Each returns the raw figures of `reps` runs; the suite makes the rows.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeBigFile } from './big-file.mjs';
import { receiver } from './event-receiver.mjs';
import { now } from './figures.mjs';
import { waitForWarmWorker } from './processes.mjs';
import { untilFirstBatch } from './runs.mjs';
import { makeSmallFiles } from './small-files.mjs';
import { tcpCopy } from './tcp-copy.mjs';

export const timed = async (fn) => {
  const t0 = now();
  await fn();
  return now() - t0;
};

/** Bytes/s of `reps` raw TCP copies of `file` (`size` bytes) into the sink through `port`. */
export async function capacity(port, file, size, reps) {
  const rates = [];
  for (let rep = 0; rep < reps; rep++) {
    const ms = await timed(() => tcpCopy(port, [{ path: `c${rep}.bin`, absolutePath: file, size }]));
    rates.push(size / (ms / 1000));
  }
  return rates;
}

/**
 * Bytes/s of `reps` first uploads of one new random file of `size` bytes (deleted after each): the
 * whole call (`rates`), and from the end of hashing on (`sendRates`: PrepareUpload, the bytes, commit).
 */
export async function bigUploads(client, dir, size, reps, label) {
  const rates = [];
  const sendRates = [];
  for (let rep = 0; rep < reps; rep++) {
    const bigDir = join(dir, `big-${label}-${rep}`);
    await mkdir(bigDir);
    await makeBigFile(join(bigDir, 'one.bin'), size);
    let hashed;
    const onProgress = (p) => {
      if (p.phase !== 'hashing' && hashed === undefined) hashed = now();
    };
    const t0 = now();
    const r = await client.datasets.upload(bigDir, { hashCache: false, onProgress });
    const t1 = now();
    rates.push(size / ((t1 - t0) / 1000));
    sendRates.push(size / ((t1 - hashed) / 1000));
    if (r.sentBytes !== size)
      throw new Error(`${label}: the first upload sent ${r.sentBytes} of ${size} bytes`);
    await client.datasets.delete(r.dataset.id);
    await rm(bigDir, { recursive: true, force: true });
  }
  return { rates, sendRates };
}

/** Bytes/s of `reps` downloads of `job`'s artifact blob.bin (`size` bytes). */
export async function pulls(client, jobId, size, dir, reps) {
  const job = await client.jobs.get(jobId);
  const rates = [];
  for (let rep = 0; rep < reps; rep++) {
    const dest = join(dir, `pulled-${rep}.bin`);
    const t0 = now();
    await job.artifacts.download('blob.bin', dest);
    rates.push(size / ((now() - t0) / 1000));
    await rm(dest, { force: true });
  }
  return rates;
}

/**
 * `reps` first uploads of `count` new small files, each followed by rsync of the same folder (when
 * `rsync` is given); then `reps` unchanged re-syncs of the last folder. Times in ms.
 */
export async function smallFiles(client, dir, count, reps, rsync, label) {
  const out = { ours: [], rsync: [], again: [] };
  let smallDir;
  let cache;
  for (let rep = 0; rep < reps; rep++) {
    smallDir = join(dir, `small-${rep}`);
    await mkdir(smallDir);
    await makeSmallFiles(smallDir, count);
    cache = join(dir, `hash-cache-${rep}.json`);
    out.ours.push(await timed(() => client.datasets.upload(smallDir, { hashCache: cache })));
    if (rsync) out.rsync.push(await timed(() => rsync(smallDir, `${label}-${rep}`)));
  }
  out.again = await resyncs(client, smallDir, cache, reps, label);
  return { ...out, dir: smallDir, cache };
}

/** `reps` re-syncs (ms) of an unchanged folder `dir` whose hash cache is `cache`: nothing is sent. */
export async function resyncs(client, dir, cache, reps, label) {
  const times = [];
  for (let rep = 0; rep < reps; rep++) {
    const t0 = now();
    const r = await client.datasets.upload(dir, { hashCache: cache });
    times.push(now() - t0);
    if (r.sentBytes !== 0) throw new Error(`${label}: the unchanged re-sync sent ${r.sentBytes} bytes`);
  }
  return times;
}

/**
 * Follows `job`'s events to its end: the `log` events' write-to-yield latencies (event-receiver) and
 * how many seqs came again. `onEvent(event, receiver)` sees each event.
 */
export async function follow(job, onEvent = () => {}) {
  const r = receiver();
  let lastSeq = 0;
  let repeated = 0;
  for await (const e of job.events()) {
    if (e.seq <= lastSeq) repeated++;
    lastSeq = Math.max(lastSeq, e.seq);
    if (e.type === 'log') r.take(e.text);
    onEvent(e, r);
  }
  return { r, repeated };
}

/** The latencies (ms) of a job writing 100 events/s for `seconds`, followed through `client`. */
export async function pacedEvents(client, spec, seconds, label) {
  const n = 100 * seconds;
  const paced = await follow(await client.runScript(spec(['paced', '100', String(seconds), '1'])));
  if (paced.r.n !== n || paced.r.outOfOrder) throw new Error(`${label}: ${paced.r.n} of ${n} events`);
  return paced.r.latencies;
}

/**
 * A job writing 100 events/s for `seconds` whose `link` is cut for 2 s a third of the way in: ms from
 * the link's return to the next event. Throws unless every seq arrived once, in order.
 */
export async function resumeAfterCut(client, spec, seconds, link, label) {
  const n = 100 * seconds;
  let restoredAt;
  let resumedMs;
  const job = await client.runScript(spec(['paced', '100', String(seconds), '1']));
  const after = await follow(job, (e, r) => {
    if (r.n === Math.floor(n / 3) && restoredAt === undefined) {
      restoredAt = null;
      link.cut(2000).then(() => {
        restoredAt = now();
      });
    }
    if (restoredAt && resumedMs === undefined && e.type === 'log') resumedMs = now() - restoredAt;
  });
  if (after.r.n !== n || after.r.outOfOrder || after.repeated) {
    throw new Error(
      `${label}: after a cut ${after.r.n} of ${n} events, ${after.r.outOfOrder} out of order, ${after.repeated} repeated`,
    );
  }
  return resumedMs;
}

/**
 * Submit -> the first `batch` event (ms) of a fastai job `spec` with a warm worker (waited for before
 * each run, on the agent `agentPid`); the job is cancelled once its first batch is in.
 */
export async function firstBatches(client, spec, agentPid, reps) {
  const times = [];
  for (let rep = 0; rep < reps; rep++) {
    await waitForWarmWorker(agentPid);
    const t0 = now();
    times.push(await untilFirstBatch(await client.runScript(spec), t0));
  }
  return times;
}
