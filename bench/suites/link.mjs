// Issue 16: the figures where users are, through a shaped link (toxiproxy: a one-way delay and a
// bandwidth cap on each direction, profiles in lib/toxiproxy.mjs) between the SDK and the agent. The
// baselines cross the same proxy with the same profile in the same run: a raw TCP copy for the link's
// capacity, rsync to a daemon for many small files. Rows per profile: one big file's first upload and
// an artifact's pull (percent of capacity), many small files (against rsync), their unchanged re-sync
// (in round trips), event latency at 100 events/s (above the one-way delay), and the stream's resume
// after the link is cut.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@gpulink/sdk';
import { makeBigFile } from '../lib/big-file.mjs';
import { receiver } from '../lib/event-receiver.mjs';
import {
  bytes,
  count,
  median,
  millis,
  now,
  percent,
  percentile,
  rate,
  seconds,
  sleep,
} from '../lib/figures.mjs';
import { waitForWarmWorker } from '../lib/processes.mjs';
import { startRsyncDaemon } from '../lib/rsync.mjs';
import { fixturesDir, hasProgram, startAgent, tempDir } from '../lib/setup.mjs';
import { makeSmallFiles } from '../lib/small-files.mjs';
import { startTcpSink, tcpCopy } from '../lib/tcp-copy.mjs';
import { PROFILES, startToxiproxy } from '../lib/toxiproxy.mjs';

export const name = 'link';
export const aliases = ['shaped'];
export const describe = `upload, pull, small files, events and resume through a shaped link (--link ${Object.keys(PROFILES).join('|')})`;

const MiB = 1024 * 1024;
const EVENTS = 'emit_events.py';
const ARTIFACT = 'write_artifact.py';

const timed = async (fn) => {
  const t0 = now();
  await fn();
  return now() - t0;
};

/** The SDK's URL for the agent, dialling `port` (the proxy) instead of the agent's own. */
function viaPort(agentUrl, port) {
  const url = new URL(agentUrl);
  url.port = String(port);
  return url.toString();
}

async function profileRows(profile, ctx) {
  const { tp, a, root, quick, log, reps } = ctx;
  const bigSize = quick ? 8 * MiB : 1024 * MiB;
  const pullSize = quick ? 8 * MiB : 200 * MiB;
  const smallCount = quick ? 300 : 10_000;
  const pacedSeconds = quick ? 4 : 15;
  const agentLink = await tp.link(ctx.agentPort, profile);
  const sinkLink = await tp.link(ctx.sink.port, profile);
  const rsyncLink = ctx.rsync ? await tp.link(ctx.rsync.port, profile) : undefined;
  const rtt = 2 * agentLink.delayMs;
  const client = await connect(viaPort(a.agent.url, agentLink.port), { timeoutMs: 600_000 });
  try {
    const dir = join(root, profile);
    await mkdir(dir);
    log(`${profile}: link capacity (raw TCP copy of ${bytes(bigSize)} through the proxy)`);
    await makeBigFile(join(dir, 'capacity.bin'), bigSize);
    const capacity = [];
    for (let rep = 0; rep < reps; rep++) {
      const ms = await timed(() =>
        tcpCopy(sinkLink.port, [
          { path: `c${rep}.bin`, absolutePath: join(dir, 'capacity.bin'), size: bigSize },
        ]),
      );
      capacity.push(bigSize / (ms / 1000));
    }
    const linkRate = median(capacity);

    const big = [];
    for (let rep = 0; rep < reps; rep++) {
      log(`${profile}: first upload of one ${bytes(bigSize)} file (${rep + 1}/${reps})`);
      const bigDir = join(dir, `big-${rep}`);
      await mkdir(bigDir);
      await makeBigFile(join(bigDir, 'one.bin'), bigSize);
      const t0 = now();
      const r = await client.datasets.upload(bigDir, { hashCache: false });
      big.push(bigSize / ((now() - t0) / 1000));
      if (r.sentBytes !== bigSize)
        throw new Error(`${profile}: the first upload sent ${r.sentBytes} of ${bigSize} bytes`);
      await client.datasets.delete(r.dataset.id);
      await rm(bigDir, { recursive: true, force: true });
    }

    log(`${profile}: pull of a ${bytes(pullSize)} artifact`);
    const ws = await client.datasets.upload(ctx.workspace, { hashCache: false });
    const spec = (entrypoint, args) => ({
      workspace: { datasetId: ws.dataset.id },
      entrypoint,
      args,
      gpuCount: 0,
    });
    const writer = await client.runScript(spec(ARTIFACT, [String(pullSize)]));
    await writer.wait();
    const pull = [];
    for (let rep = 0; rep < reps; rep++) {
      const dest = join(dir, `pulled-${rep}.bin`);
      const t0 = now();
      await writer.artifacts.download('blob.bin', dest);
      pull.push(pullSize / ((now() - t0) / 1000));
      await rm(dest, { force: true });
    }

    log(`${profile}: ${count(smallCount)} small files, SDK and rsync`);
    const small = { ours: [], rsync: [] };
    let smallDir;
    let smallCache;
    for (let rep = 0; rep < reps; rep++) {
      smallDir = join(dir, `small-${rep}`);
      await mkdir(smallDir);
      await makeSmallFiles(smallDir, smallCount);
      smallCache = join(dir, `hash-cache-${rep}.json`);
      small.ours.push(await timed(() => client.datasets.upload(smallDir, { hashCache: smallCache })));
      if (rsyncLink) {
        small.rsync.push(await timed(() => ctx.rsync.sync(smallDir, `${profile}-${rep}`, rsyncLink.port)));
      }
    }
    const again = [];
    for (let rep = 0; rep < reps; rep++) {
      const t0 = now();
      const r = await client.datasets.upload(smallDir, { hashCache: smallCache });
      again.push(now() - t0);
      if (r.sentBytes !== 0) throw new Error(`${profile}: the unchanged re-sync sent ${r.sentBytes} bytes`);
    }

    log(`${profile}: events at 100/s for ${pacedSeconds} s, then the same with the link cut for 2 s`);
    await waitForWarmWorker(a.pid);
    const follow = async (job, onEvent = () => {}) => {
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
    };
    const n = 100 * pacedSeconds;
    const paced = await follow(
      await client.runScript(spec(EVENTS, ['paced', '100', String(pacedSeconds), '1'])),
    );
    if (paced.r.n !== n || paced.r.outOfOrder) throw new Error(`${profile}: ${paced.r.n} of ${n} events`);

    let restoredAt;
    let resumedMs;
    const cutJob = await client.runScript(spec(EVENTS, ['paced', '100', String(pacedSeconds), '1']));
    const cut = follow(cutJob, (e, r) => {
      if (r.n === Math.floor(n / 3) && restoredAt === undefined) {
        restoredAt = null;
        agentLink.cut(2000).then(() => {
          restoredAt = now();
        });
      }
      if (restoredAt && resumedMs === undefined && e.type === 'log') resumedMs = now() - restoredAt;
    });
    const afterCut = await cut;
    if (afterCut.r.n !== n || afterCut.r.outOfOrder || afterCut.repeated) {
      throw new Error(
        `${profile}: after a cut ${afterCut.r.n} of ${n} events, ${afterCut.r.outOfOrder} out of order, ${afterCut.repeated} repeated`,
      );
    }

    const lat = (p) => percentile(paced.r.latencies, p);
    const m = `median of ${reps}`;
    const shape = `${agentLink.delayMs} ms one way, ${agentLink.mbit} Mbit/s`;
    const rows = [
      {
        id: `link.${profile}.capacity`,
        what: `[${profile}] link capacity: raw TCP copy through the proxy (${shape})`,
        ours: rate(linkRate),
        baseline: `${rate((agentLink.mbit * 1e6) / 8)} (the profile's cap)`,
        ratio: percent(linkRate / ((agentLink.mbit * 1e6) / 8)),
        target: '-',
        met: null,
        note: m,
      },
      {
        id: `link.${profile}.upload.big`,
        what: `[${profile}] first upload of one ${bytes(bigSize)} file`,
        ours: rate(median(big)),
        baseline: `${rate(linkRate)} (raw TCP, same link)`,
        ratio: `${percent(median(big) / linkRate)} of capacity`,
        target: '>= 90% of capacity',
        met: median(big) / linkRate >= 0.9,
        note: m,
      },
      {
        id: `link.${profile}.pull`,
        what: `[${profile}] pull of a ${bytes(pullSize)} artifact`,
        ours: rate(median(pull)),
        baseline: `${rate(linkRate)} (raw TCP, same link, the other direction)`,
        ratio: `${percent(median(pull) / linkRate)} of capacity`,
        target: '>= 90% of capacity',
        met: median(pull) / linkRate >= 0.9,
        note: m,
      },
      {
        id: `link.${profile}.small`,
        what: `[${profile}] first upload of ${count(smallCount)} files of 1-8 KiB`,
        ours: seconds(median(small.ours)),
        baseline: rsyncLink
          ? `${seconds(median(small.rsync))} (rsync to a daemon, same link)`
          : 'rsync is not installed',
        ratio: rsyncLink ? percent(median(small.rsync) / median(small.ours)) : 'n/a',
        target: 'no slower than rsync',
        met: rsyncLink ? median(small.ours) <= median(small.rsync) : null,
        note: `${m}; ratio = rsync's time / ours`,
      },
      {
        id: `link.${profile}.resync`,
        what: `[${profile}] unchanged re-sync of those files`,
        ours: seconds(median(again)),
        baseline: `${millis(rtt)} a round trip`,
        ratio: `${(median(again) / rtt).toFixed(1)} round trips`,
        target: '< 3 round trips',
        met: median(again) / rtt < 3,
        note: m,
      },
      {
        id: `link.${profile}.events.p50`,
        what: `[${profile}] event latency at 100 events/s, p50, above the one-way delay`,
        ours: millis(lat(50) - agentLink.delayMs),
        baseline: `${millis(agentLink.delayMs)} one way`,
        ratio: millis(lat(50)),
        target: '-',
        met: null,
        note: `${paced.r.n} events`,
      },
      {
        id: `link.${profile}.events.p99`,
        what: `[${profile}] event latency at 100 events/s, p99, above the one-way delay`,
        ours: millis(lat(99) - agentLink.delayMs),
        baseline: `${millis(agentLink.delayMs)} one way`,
        ratio: millis(lat(99)),
        target: '< one-way delay + 10 ms',
        met: lat(99) - agentLink.delayMs < 10,
        note: `${paced.r.n} events`,
      },
      {
        id: `link.${profile}.resume`,
        what: `[${profile}] job stream after the link is cut for 2 s: link back -> next event`,
        ours: millis(resumedMs),
        baseline: `${millis(rtt)} a round trip`,
        ratio: `${(resumedMs / rtt).toFixed(1)} round trips`,
        target: '-',
        met: null,
        note: `every seq once, in order (${afterCut.r.n} events)`,
      },
    ];
    return {
      rows,
      raw: { profile, linkRate, big, pull, small, again, paced: { p50: lat(50), p99: lat(99) }, resumedMs },
    };
  } finally {
    await client.close();
    await agentLink.close().catch(() => undefined);
    await sinkLink.close().catch(() => undefined);
    await rsyncLink?.close().catch(() => undefined);
  }
}

export async function run({ quick, log, link }) {
  const profiles = link ?? (quick ? ['lan'] : Object.keys(PROFILES));
  for (const p of profiles) {
    if (!PROFILES[p]) throw new Error(`--link: no profile "${p}" (${Object.keys(PROFILES).join(', ')})`);
  }
  const reps = quick ? 1 : 3;
  const root = await tempDir('link');
  const stops = [];
  let a;
  try {
    const tp = await startToxiproxy(log);
    stops.push(tp.stop);
    a = await startAgent({ warmWorkers: 1 });
    const agentPort = Number(new URL(a.agent.url).port);
    const dest = join(root, 'dest');
    await mkdir(dest);
    const sink = await startTcpSink(dest);
    stops.push(sink.stop);
    const rsync = (await hasProgram('rsync')) ? await startRsyncDaemon(root, dest) : undefined;
    if (rsync) stops.push(rsync.stop);
    const workspace = join(root, 'workspace');
    await mkdir(workspace);
    for (const f of [EVENTS, ARTIFACT]) await copyFile(join(fixturesDir, f), join(workspace, f));
    const rows = [];
    const raw = [];
    for (const profile of profiles) {
      const r = await profileRows(profile, {
        tp,
        a,
        agentPort,
        sink,
        rsync,
        root,
        workspace,
        quick,
        log,
        reps,
      });
      rows.push(...r.rows);
      raw.push(r.raw);
      await rm(dest, { recursive: true, force: true });
      await mkdir(dest);
      await sleep(100);
    }
    return { rows, raw: { reps, profiles: raw } };
  } finally {
    await a?.close().catch(() => undefined);
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
