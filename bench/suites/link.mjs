// Issue 16: the figures where users are, through a shaped link (toxiproxy: a one-way delay and a
// bandwidth cap on each direction, profiles in lib/toxiproxy.mjs) between the SDK and the agent. The
// baselines cross the same proxy with the same profile in the same run: a raw TCP copy for the link's
// capacity, rsync to a daemon for many small files, the same job through loopback for job start. Rows
// per profile: one big file's first upload and an artifact's pull (percent of capacity), many small
// files (against rsync), their unchanged re-sync (in round trips), submit -> first batch with a warm
// worker (round trips above loopback), event latency at 100 events/s (above the one-way delay), and the
// stream's resume after the link is cut. The WebSocket carriage (through an HTTPS edge) and the kernel
// transport (through a real jupyter_server) cross the same link: for them a smaller upload and pull,
// and every other row (their small files against direct's rsync run).
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startJupyterServer } from '@gpulink/gpu-agent/testing';
import { connect, formatAgentUrl } from '@gpulink/sdk';
import { makeBigFile } from '../lib/big-file.mjs';
import { bytes, count, median, millis, percent, percentile, rate, seconds, sleep } from '../lib/figures.mjs';
import {
  bigUploads,
  capacity,
  firstBatches,
  pacedEvents,
  pulls,
  resumeAfterCut,
  resyncs,
  smallFiles,
} from '../lib/link-measures.mjs';
import { waitForWarmWorker } from '../lib/processes.mjs';
import { startRsyncDaemon } from '../lib/rsync.mjs';
import {
  fixturesDir,
  hasProgram,
  makeDigits,
  python,
  startAgent,
  tempDir,
  writeLoopbackCertificate,
} from '../lib/setup.mjs';
import { startTcpSink } from '../lib/tcp-copy.mjs';
import { startTlsEdge } from '../lib/tls-edge.mjs';
import { PROFILES, startToxiproxy } from '../lib/toxiproxy.mjs';

export const name = 'link';
export const aliases = ['shaped'];
export const describe = `upload, pull, small files, job start, events and resume through a shaped link (--link ${Object.keys(PROFILES).join('|')})`;

const MiB = 1024 * 1024;
const EVENTS = 'emit_events.py';
const ARTIFACT = 'write_artifact.py';
const TRAIN = 'train_digits.py';

/** The SDK's URL for the agent, dialling `port` (the proxy) instead of the agent's own. */
function viaPort(agentUrl, port) {
  const url = new URL(agentUrl);
  url.port = String(port);
  return url.toString();
}

/** The URL of `carriage` through the proxy port `port`. */
function carriageUrl(ctx, carriage, port) {
  const { agent } = ctx.a;
  if (carriage === 'direct') return viaPort(agent.url, port);
  if (carriage === 'wss')
    return `gpulink+wss://${agent.token}@127.0.0.1:${port}/gpulink?fp=${agent.fingerprint}`;
  return formatAgentUrl({
    transport: 'jupyter',
    token: agent.token,
    host: '127.0.0.1',
    port,
    path: '/',
    fingerprint: agent.fingerprint,
    jupyter: {
      secure: false,
      agentPort: agent.port,
      token: ctx.jupyter.token,
      auth: 'token',
      kernel: undefined,
      colabSession: undefined,
    },
  });
}

const carriageLabel = { direct: '', wss: ' (WebSocket carriage)', jupyter: ' (kernel transport)' };

/** The rows of one carriage's figures (`f`) on `profile`; direct's have them all. */
function carriageRows(profile, carriage, f, ctx) {
  const { link, linkRate, rtt, m } = ctx;
  const id = (what) => `link.${profile}.${carriage === 'direct' ? '' : `${carriage}.`}${what}`;
  const tag = `[${profile}${carriageLabel[carriage]}]`;
  const rows = [];
  const ofCapacity = (rates, key, what, direction, note = m) => {
    if (!rates) return;
    rows.push({
      id: id(key),
      what: `${tag} ${what}`,
      ours: rate(median(rates)),
      baseline: `${rate(linkRate)} (raw TCP, same link${direction})`,
      ratio: `${percent(median(rates) / linkRate)} of capacity`,
      target: '>= 90% of capacity',
      met: median(rates) / linkRate >= 0.9,
      note,
    });
  };
  const sent = median(f.bigSend);
  ofCapacity(
    f.big,
    'upload.big',
    `first upload of one ${bytes(f.bigSize)} file`,
    '',
    `${m}; the whole call, the SDK's hash included; after the hash: ${rate(sent)}, ${percent(sent / linkRate)} of capacity`,
  );
  ofCapacity(f.pull, 'pull', `pull of a ${bytes(f.pullSize)} artifact`, ', the other direction');
  if (f.small) {
    rows.push({
      id: id('small'),
      what: `${tag} first upload of ${count(f.smallCount)} files of 1-8 KiB`,
      ours: seconds(median(f.small.ours)),
      baseline: f.small.rsync.length
        ? `${seconds(median(f.small.rsync))} (rsync to a daemon, same link)`
        : 'rsync is not installed',
      ratio: f.small.rsync.length ? percent(median(f.small.rsync) / median(f.small.ours)) : 'n/a',
      target: 'no slower than rsync',
      met: f.small.rsync.length ? median(f.small.ours) <= median(f.small.rsync) : null,
      note: `${m}; ratio = rsync's time / ours`,
    });
  }
  // What the link adds to the re-sync, in round trips: the local work (walking and stat'ing every
  // file, the manifest) is the loopback run's, the same folder and hash cache in the same run.
  const resyncExtra = median(f.again) - median(f.loopbackAgain);
  rows.push({
    id: id('resync'),
    what: `${tag} unchanged re-sync of ${count(f.smallCount)} files`,
    ours: seconds(median(f.again)),
    baseline: `${seconds(median(f.loopbackAgain))} (the same re-sync through loopback); ${millis(rtt)} a round trip`,
    ratio: `${resyncExtra >= 0 ? '+' : ''}${(resyncExtra / rtt).toFixed(1)} round trips`,
    target: '< 3 round trips above loopback',
    met: resyncExtra / rtt < 3,
    note: `${m}; ${(median(f.again) / rtt).toFixed(1)} round trips of wall time in all`,
  });
  if (f.firstBatch.length) {
    const extra = median(f.firstBatch) - median(f.loopbackFirstBatch);
    rows.push({
      id: id('first-batch'),
      what: `${tag} submit -> first batch event, warm worker`,
      ours: seconds(median(f.firstBatch)),
      baseline: `${seconds(median(f.loopbackFirstBatch))} (the same job through loopback)`,
      ratio: `${extra >= 0 ? '+' : ''}${(extra / rtt).toFixed(1)} round trips`,
      // The target's 300 ms are the job's own start, which the loopback run measures.
      target: '< 4 round trips above loopback',
      met: extra < 4 * rtt,
      note: `${m}, each round loopback first, then each carriage; a fastai job on the digits, cancelled after its first batch`,
    });
  }
  const lat = (p) => percentile(f.latencies, p);
  rows.push({
    id: id('events.p50'),
    what: `${tag} event latency at 100 events/s, p50, above the one-way delay`,
    ours: millis(lat(50) - link.delayMs),
    baseline: `${millis(link.delayMs)} one way`,
    ratio: millis(lat(50)),
    target: '-',
    met: null,
    note: `${f.latencies.length} events`,
  });
  rows.push({
    id: id('events.p99'),
    what: `${tag} event latency at 100 events/s, p99, above the one-way delay`,
    ours: millis(lat(99) - link.delayMs),
    baseline: `${millis(link.delayMs)} one way`,
    ratio: millis(lat(99)),
    target: '< one-way delay + 10 ms',
    met: lat(99) - link.delayMs < 10,
    note: `${f.latencies.length} events`,
  });
  if (f.resumedMs !== undefined) {
    rows.push({
      id: id('resume'),
      what: `${tag} job stream after the link is cut for 2 s: link back -> next event`,
      ours: millis(f.resumedMs),
      baseline: `${millis(rtt)} a round trip`,
      ratio: `${(f.resumedMs / rtt).toFixed(1)} round trips`,
      target: '-',
      met: null,
      note: 'every seq once, in order',
    });
  }
  return rows;
}

async function profileRows(profile, ctx) {
  const { tp, a, root, quick, log, reps, carriages, sizes } = ctx;
  const { bigSize, pullSize, midSize } = sizes;
  const smallCount = quick ? 300 : 10_000;
  const pacedSeconds = quick ? 4 : 15;
  const links = { direct: await tp.link(ctx.agentPort, profile) };
  if (carriages.includes('wss')) links.wss = await tp.link(ctx.edge.port, profile);
  if (carriages.includes('jupyter')) links.jupyter = await tp.link(ctx.jupyter.port, profile);
  const sinkLink = await tp.link(ctx.sink.port, profile);
  const rsyncLink = ctx.rsync ? await tp.link(ctx.rsync.port, profile) : undefined;
  const link = links.direct;
  const rtt = 2 * link.delayMs;
  const clients = {};
  try {
    for (const c of carriages) {
      log(`${profile}: connecting${carriageLabel[c] || ' (direct TCP)'}`);
      clients[c] = await connect(carriageUrl(ctx, c, links[c].port), {
        timeoutMs: 600_000,
        webSocketCa: ctx.edge?.caPem,
      });
    }
    const dir = join(root, profile);
    await mkdir(dir);
    log(`${profile}: link capacity (raw TCP copy of ${bytes(bigSize)} through the proxy)`);
    await makeBigFile(join(dir, 'capacity.bin'), bigSize);
    const linkRate = median(await capacity(sinkLink.port, join(dir, 'capacity.bin'), bigSize, reps));
    await rm(join(dir, 'capacity.bin'), { force: true });
    const figures = {};
    const loopbackAgain = [];
    for (const c of carriages) {
      const client = clients[c];
      const label = `${profile}${carriageLabel[c]}`;
      const f = { smallCount, bigSize: c === 'direct' ? bigSize : midSize };
      f.pullSize = c === 'direct' ? pullSize : midSize;
      log(`${label}: first upload of one ${bytes(f.bigSize)} file, ${reps} times`);
      const uploads = await bigUploads(client, dir, f.bigSize, reps, label);
      f.big = uploads.rates;
      f.bigSend = uploads.sendRates;
      log(`${label}: pull of a ${bytes(f.pullSize)} artifact, ${reps} times`);
      f.pull = await pulls(client, ctx.writers[f.pullSize], f.pullSize, dir, reps);
      if (c === 'direct') {
        log(`${label}: ${count(smallCount)} small files, SDK and rsync`);
        const rsync = rsyncLink && ((from, to) => ctx.rsync.sync(from, to, rsyncLink.port));
        f.small = await smallFiles(client, dir, smallCount, reps, rsync, label);
        f.again = f.small.again;
        log(`${profile}: the same re-sync through loopback (its time without the link)`);
        loopbackAgain.push(
          ...(await resyncs(a.client, f.small.dir, f.small.cache, reps, `${label} loopback`)),
        );
      } else {
        // Files of their own (new to the agent), against direct's rsync over the same profile.
        log(`${label}: ${count(smallCount)} small files, then their unchanged re-sync`);
        await mkdir(join(dir, c));
        const own = await smallFiles(client, join(dir, c), smallCount, reps, undefined, label);
        f.small = { ours: own.ours, rsync: figures.direct.small.rsync };
        f.again = own.again;
      }
      log(`${label}: events at 100/s for ${pacedSeconds} s`);
      await waitForWarmWorker(a.pid);
      f.latencies = await pacedEvents(client, ctx.eventSpec, pacedSeconds, label);
      log(`${label}: the same with the link cut for 2 s`);
      f.resumedMs = await resumeAfterCut(client, ctx.eventSpec, pacedSeconds, links[c], label);
      figures[c] = f;
    }
    log(`${profile}: submit -> first batch (warm worker) through each carriage and through loopback`);
    const loopbackFirstBatch = [];
    for (const f of Object.values(figures)) f.firstBatch = [];
    // --quick (CI): through direct TCP only; each job waits for a fresh warm worker's torch import.
    for (let rep = 0; rep < reps; rep++) {
      loopbackFirstBatch.push(...(await firstBatches(a.client, ctx.trainSpec, a.pid, 1)));
      for (const c of quick ? ['direct'] : carriages) {
        figures[c].firstBatch.push(...(await firstBatches(clients[c], ctx.trainSpec, a.pid, 1)));
      }
    }
    for (const f of Object.values(figures)) {
      f.loopbackFirstBatch = loopbackFirstBatch;
      f.loopbackAgain = loopbackAgain;
    }
    const m = `median of ${reps}`;
    const shape = `${link.delayMs} ms one way, ${link.mbit} Mbit/s`;
    const rows = [
      {
        id: `link.${profile}.capacity`,
        what: `[${profile}] link capacity: raw TCP copy through the proxy (${shape})`,
        ours: rate(linkRate),
        baseline: `${rate((link.mbit * 1e6) / 8)} (the profile's cap)`,
        ratio: percent(linkRate / ((link.mbit * 1e6) / 8)),
        target: '-',
        met: null,
        note: m,
      },
    ];
    for (const c of carriages) rows.push(...carriageRows(profile, c, figures[c], { link, linkRate, rtt, m }));
    const raw = { profile, linkRate };
    for (const [c, f] of Object.entries(figures)) {
      const { latencies, small, ...rest } = f;
      raw[c] = {
        ...rest,
        small: small && { ours: small.ours, rsync: small.rsync },
        events: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
      };
    }
    return { rows, raw };
  } finally {
    for (const client of Object.values(clients)) await client.close().catch(() => undefined);
    for (const l of [...Object.values(links), sinkLink, rsyncLink]) await l?.close().catch(() => undefined);
  }
}

/** Bytes of the big upload, of the pull and of the carriages' upload and pull; `mib` sets all three. */
function sizesOf(quick, mib) {
  if (mib !== undefined) return { bigSize: mib * MiB, pullSize: mib * MiB, midSize: mib * MiB };
  if (quick) return { bigSize: 8 * MiB, pullSize: 8 * MiB, midSize: 8 * MiB };
  return { bigSize: 1024 * MiB, pullSize: 200 * MiB, midSize: 64 * MiB };
}

export async function run({ quick, log, link, reps: repsOption, carriages: carriagesOption, mib }) {
  const profiles = link ?? (quick ? ['lan'] : Object.keys(PROFILES));
  for (const p of profiles) {
    if (!PROFILES[p]) throw new Error(`--link: no profile "${p}" (${Object.keys(PROFILES).join(', ')})`);
  }
  const carriages = carriagesOption ?? ['direct', 'wss', 'jupyter'];
  if (carriages[0] !== 'direct' || carriages.some((c) => !(c in carriageLabel)))
    throw new Error('--carriages: direct first, then any of wss, jupyter');
  const reps = repsOption ?? (quick ? 1 : 3);
  const sizes = sizesOf(quick, mib);
  const root = await tempDir('link');
  const stops = [];
  let a;
  try {
    const tp = await startToxiproxy(log);
    stops.push(tp.stop);
    a = await startAgent({ warmWorkers: 1, extraArgs: ['--tls', '--ws-port', '0'] });
    const agentPort = a.agent.port;
    const dest = join(root, 'dest');
    await mkdir(dest);
    const sink = await startTcpSink(dest);
    stops.push(sink.stop);
    const rsync = (await hasProgram('rsync')) ? await startRsyncDaemon(root, dest) : undefined;
    if (rsync) stops.push(rsync.stop);
    let edge;
    if (carriages.includes('wss')) {
      await mkdir(join(root, 'edge'));
      await writeLoopbackCertificate(join(root, 'edge'), 'edge');
      edge = await startTlsEdge(a.agent.webSocketPort, join(root, 'edge'));
      stops.push(edge.stop);
    }
    let jupyter;
    if (carriages.includes('jupyter')) {
      jupyter = await startJupyterServer({ python });
      stops.push(() => jupyter.stop());
    }
    const workspace = join(root, 'workspace');
    await mkdir(workspace);
    for (const f of [EVENTS, ARTIFACT, TRAIN]) await copyFile(join(fixturesDir, f), join(workspace, f));
    // Set up through loopback: what is measured is what crosses the link.
    const ws = await a.client.datasets.upload(workspace, { hashCache: false });
    const digits = await a.client.datasets.upload(join(await makeDigits(root), 'train'), {
      hashCache: false,
    });
    const eventSpec = (args) => ({
      workspace: { datasetId: ws.dataset.id },
      entrypoint: EVENTS,
      args,
      gpuCount: 0,
    });
    const trainSpec = {
      workspace: { datasetId: ws.dataset.id },
      data: { datasetId: digits.dataset.id },
      entrypoint: TRAIN,
      args: ['1'],
      gpuCount: 0,
    };
    const writers = {};
    for (const size of new Set([sizes.pullSize, sizes.midSize])) {
      const job = await a.client.runScript({ ...eventSpec([String(size)]), entrypoint: ARTIFACT });
      await job.wait();
      writers[size] = job.id;
    }
    const rows = [];
    const raw = [];
    for (const profile of profiles) {
      const r = await profileRows(profile, {
        tp,
        a,
        agentPort,
        sink,
        rsync,
        edge,
        jupyter,
        root,
        quick,
        log,
        reps,
        carriages,
        sizes,
        eventSpec,
        trainSpec,
        writers,
      });
      rows.push(...r.rows);
      raw.push(r.raw);
      await rm(dest, { recursive: true, force: true });
      await mkdir(dest);
      await sleep(100);
    }
    return { rows, raw: { reps, carriages, profiles: raw } };
  } finally {
    await a?.close().catch(() => undefined);
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
