// Issue 11: the kernel transport (`gpulink+jupyter://`) against the WebSocket carriage and direct TCP,
// one agent (TLS on all three), in the same run: a job's events (replayed from a finished job's log,
// and live), the latency of a unary call (GetInfo) and of events at 100/s, and dataset upload and
// artifact download. Each figure is a ratio to direct TCP; every process's CPU time is kept per figure,
// which says where the kernel transport spends it.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeBigFile } from '../lib/big-file.mjs';
import { CARRIAGES, carriageNames, startCarriages } from '../lib/carriages.mjs';
import { producerRate, receiver } from '../lib/event-receiver.mjs';
import { bytes, count, median, millis, now, percent, percentile, rate } from '../lib/figures.mjs';
import { cpuSeconds } from '../lib/processes.mjs';
import { runJob } from '../lib/runs.mjs';
import { fixturesDir, tempDir } from '../lib/setup.mjs';

export const name = 'transports';
export const aliases = ['kernel', 'carriages'];
export const describe = 'kernel transport and WebSocket carriage vs direct TCP: events, latency, MiB/s';

const MiB = 1024 * 1024;
const EVENTS = 'emit_events.py';
const ARTIFACT = 'write_artifact.py';

/** The carriages in a rotating order, so none always runs first (or right after a job). */
const rotated = (rep) => CARRIAGES.map((_, i) => CARRIAGES[(i + rep) % CARRIAGES.length]);

/** CPU seconds so far of this process (the SDK clients) and of the other processes of the run. */
function cpuNow(pids) {
  const self = process.cpuUsage();
  const out = { client: (self.user + self.system) / 1e6 };
  for (const [who, pid] of Object.entries(pids)) {
    try {
      if (pid) out[who] = cpuSeconds(pid);
    } catch {
      // Gone (a kernel restarted): not counted.
    }
  }
  return out;
}

/** Runs `fn`, timing it and reading each process's CPU seconds around it. */
async function measured(c, fn) {
  const pids = c.pids();
  const before = cpuNow(pids);
  const t0 = now();
  const result = await fn();
  const ms = now() - t0;
  const after = cpuNow(pids);
  const cpu = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? after[k])]));
  return { ...result, ms, cpu };
}

/** Median CPU milliseconds of each process per `unit` of work ("client 1.2 ms, kernel 3.4 ms, ..."). */
function cpuPer(runs, units) {
  const who = Object.keys(runs[0]?.cpu ?? {});
  return who.map((w) => `${w} ${millis(median(runs.map((r) => (r.cpu[w] * 1000) / units(r))))}`).join(', ');
}

async function followEvents(client, jobId) {
  const r = receiver();
  const job = await client.jobs.get(jobId);
  for await (const e of job.events()) if (e.type === 'log') r.take(e.text);
  return r;
}

export async function run({ quick, log }) {
  const reps = quick ? 1 : 3;
  const flood = quick ? 10_000 : 50_000;
  const pacedSeconds = quick ? 4 : 10;
  const calls = quick ? 50 : 300;
  const size = quick ? 16 * MiB : 128 * MiB;
  const root = await tempDir('transports');
  let c;
  try {
    const workspace = join(root, 'workspace');
    await mkdir(workspace);
    for (const f of [EVENTS, ARTIFACT]) await copyFile(join(fixturesDir, f), join(workspace, f));
    await mkdir(join(root, 'big'));
    await makeBigFile(join(root, 'big', 'one.bin'), size);
    log('starting the agent (--tls --ws-port 0), its HTTPS edge and a Jupyter server; opening the kernel');
    c = await startCarriages(root);
    const { clients } = c;
    const ws = await clients.direct.datasets.upload(workspace, { hashCache: false });
    const spec = (entrypoint, args) => ({
      workspace: { datasetId: ws.dataset.id },
      entrypoint,
      args,
      gpuCount: 0,
    });
    const per = () => Object.fromEntries(CARRIAGES.map((k) => [k, []]));

    const live = per();
    let floodJob;
    for (let rep = 0; rep < reps; rep++) {
      log(`live ${rep + 1}/${reps}: a job writing ${count(flood)} events, followed through each carriage`);
      for (const k of rotated(rep)) {
        const r = receiver();
        let producer = Number.NaN;
        const { jobId } = await runJob(
          () => clients[k].runScript(spec(EVENTS, ['flood', String(flood)])),
          (e) => {
            if (e.type !== 'log') return;
            r.take(e.text);
            producer = producerRate(e.text) ?? producer;
          },
        );
        if (r.n !== flood || r.outOfOrder)
          throw new Error(`${k}: ${r.n} of ${flood} events, ${r.outOfOrder} out of order`);
        live[k].push({ perSecond: r.perSecond(), producer });
        floodJob ??= jobId;
      }
    }

    const replay = per();
    for (let rep = 0; rep < reps; rep++) {
      log(`replay ${rep + 1}/${reps}: the finished job's ${count(flood)} events from its log`);
      for (const k of rotated(rep)) {
        const m = await measured(c, async () => ({ r: await followEvents(clients[k], floodJob) }));
        if (m.r.n !== flood) throw new Error(`${k}: replayed ${m.r.n} of ${flood} events`);
        replay[k].push({ perSecond: flood / (m.ms / 1000), ms: m.ms, cpu: m.cpu });
      }
    }

    const unary = per();
    for (let rep = 0; rep < reps; rep++) {
      log(`GetInfo ${rep + 1}/${reps}: ${calls} calls in a row through each carriage`);
      for (const k of rotated(rep)) {
        for (let i = 0; i < 10; i++) await clients[k].getInfo();
        const m = await measured(c, async () => {
          const ms = [];
          for (let i = 0; i < calls; i++) {
            const t0 = now();
            await clients[k].getInfo();
            ms.push(now() - t0);
          }
          return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: Math.max(...ms) };
        });
        unary[k].push(m);
      }
    }

    const paced = per();
    for (let rep = 0; rep < reps; rep++) {
      log(
        `100 events/s for ${pacedSeconds} s, ${rep + 1}/${reps}: one job, watched through all three at once`,
      );
      const job = await clients.direct.runScript(spec(EVENTS, ['paced', '100', String(pacedSeconds), '1.5']));
      const rs = await Promise.all(CARRIAGES.map((k) => followEvents(clients[k], job.id)));
      CARRIAGES.forEach((k, i) => {
        const r = rs[i];
        if (r.n !== 100 * pacedSeconds) throw new Error(`${k}: ${r.n} of ${100 * pacedSeconds} paced events`);
        paced[k].push({
          p50: percentile(r.latencies, 50),
          p99: percentile(r.latencies, 99),
          max: Math.max(...r.latencies),
        });
      });
    }

    const up = per();
    for (let rep = 0; rep < reps; rep++) {
      log(`upload ${rep + 1}/${reps}: one ${bytes(size)} file through each carriage`);
      for (const k of rotated(rep)) {
        const m = await measured(c, async () => {
          let sending = Number.NaN;
          const t0 = now();
          const result = await clients[k].datasets.upload(join(root, 'big'), {
            hashCache: false,
            onProgress: (p) => {
              if (p.phase === 'uploading' && Number.isNaN(sending)) sending = now() - t0;
            },
          });
          if (result.sentBytes !== size)
            throw new Error(`${k}: a first upload sent ${result.sentBytes} of ${size} bytes`);
          return { hashMs: sending, datasetId: result.dataset.id };
        });
        // Outside the timing: the next round's upload must find no blob of this one.
        await clients[k].datasets.delete(m.datasetId);
        up[k].push({ ms: m.ms, hashMs: m.hashMs, sendMs: m.ms - m.hashMs, cpu: m.cpu });
      }
    }

    log(`download: an artifact of ${bytes(size)}`);
    let sha;
    const { jobId: artifactJob } = await runJob(
      () => clients.direct.runScript(spec(ARTIFACT, [String(size)])),
      (e) => {
        if (e.type === 'artifact') sha = e.artifact.sha256;
      },
    );
    const down = per();
    for (let rep = 0; rep < reps; rep++) {
      log(`download ${rep + 1}/${reps}: the artifact through each carriage`);
      for (const k of rotated(rep)) {
        const job = await clients[k].jobs.get(artifactJob);
        const dest = join(root, `download-${k}.bin`);
        const m = await measured(c, async () => ({ result: await job.artifacts.download('blob.bin', dest) }));
        if (m.result.sha256 !== sha) throw new Error(`${k}: the download's sha256 differs from the agent's`);
        await rm(dest, { force: true });
        down[k].push({ ms: m.ms, cpu: m.cpu });
      }
    }

    return {
      rows: rowsOf({ reps, flood, pacedSeconds, calls, size, live, replay, unary, paced, up, down }),
      raw: { reps, flood, pacedSeconds, calls, size, live, replay, unary, paced, upload: up, download: down },
    };
  } finally {
    await c?.close();
    await rm(root, { recursive: true, force: true });
  }
}

function rowsOf({ reps, flood, pacedSeconds, calls, size, live, replay, unary, paced, up, down }) {
  const n = `median of ${reps}`;
  const others = CARRIAGES.filter((k) => k !== 'direct');
  const of = (runs, f) => median(runs.map(f));
  const faster = (id, what, runs, value, format, note) =>
    others.map((k) => ({
      id: `transports.${id}.${k}`,
      what: `${carriageNames[k]}: ${what}`,
      ours: format(of(runs[k], value)),
      baseline: `${format(of(runs.direct, value))} (direct TCP)`,
      ratio: `${percent(of(runs[k], value) / of(runs.direct, value))} of direct`,
      target: '-',
      met: null,
      note: note(k),
    }));
  const slower = (id, what, runs, value, note) =>
    others.map((k) => {
      const ours = of(runs[k], value);
      const base = of(runs.direct, value);
      return {
        id: `transports.${id}.${k}`,
        what: `${carriageNames[k]}: ${what}`,
        ours: millis(ours),
        baseline: `${millis(base)} (direct TCP)`,
        ratio: `${(ours / base).toFixed(1)}x direct (+${millis(ours - base)})`,
        target: '-',
        met: null,
        note: note(k),
      };
    });
  const perSecond = (v) => `${count(v)}/s`;
  const bytesPerSecond = (ms) => size / (ms / 1000);
  const cpu = (runs, units, unit) => (k) => `${n}; CPU per ${unit}: ${cpuPer(runs[k], units)}`;
  return [
    ...faster(
      'replay',
      `events/s, replay of a finished job's ${count(flood)} events`,
      replay,
      (r) => r.perSecond,
      perSecond,
      cpu(replay, () => flood / 1000, '1,000 events'),
    ),
    ...faster(
      'live',
      `events/s, live, a job writing ${count(flood)} events`,
      live,
      (r) => r.perSecond,
      perSecond,
      (k) => `${n}; the writer managed ${count(of(live[k], (r) => r.producer))}/s`,
    ),
    ...slower(
      'getinfo.p50',
      `GetInfo p50 (${calls} calls in a row)`,
      unary,
      (r) => r.p50,
      cpu(unary, () => calls, 'call'),
    ),
    ...slower(
      'getinfo.p99',
      'GetInfo p99',
      unary,
      (r) => r.p99,
      (k) => `${n}; worst ${millis(of(unary[k], (r) => r.max))}`,
    ),
    ...slower(
      'events.p50',
      'events at 100/s: p50 latency, write -> SDK',
      paced,
      (r) => r.p50,
      () => `${n} jobs of ${pacedSeconds} s, each watched through the three carriages at once`,
    ),
    ...slower(
      'events.p99',
      'events at 100/s: p99 latency',
      paced,
      (r) => r.p99,
      (k) => `${n}; worst ${millis(of(paced[k], (r) => r.max))}`,
    ),
    ...faster(
      'upload',
      `upload of one ${bytes(size)} file, send + commit`,
      up,
      (r) => bytesPerSecond(r.sendMs),
      rate,
      (k) =>
        `${cpu(up, () => size / MiB, 'MiB')(k)}; the whole call, the SDK's hash included: ${rate(of(up[k], (r) => bytesPerSecond(r.ms)))}`,
    ),
    ...faster(
      'download',
      `download of a ${bytes(size)} artifact (sha256 checked)`,
      down,
      (r) => bytesPerSecond(r.ms),
      rate,
      cpu(down, () => size / MiB, 'MiB'),
    ),
  ];
}
