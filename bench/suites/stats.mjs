// Issue 8, item 5: what the stats sampler costs the agent. CPU of the agent process while 1 and 100
// WatchStats subscribers receive samples at 1 Hz, beside `nvidia-smi -lms 1000` alone as the baseline,
// and the agent's resident memory idle and with 100 watchers of a running job.
//
// On a machine without a GPU, "nvidia-smi" is the STAND-IN from the agent's tests (a Node script that
// replays recorded rows), so the baseline and the sampler's GPU path are the stand-in's, not NVIDIA's.
import { spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { median, sleep } from '../lib/figures.mjs';
import { childrenOf, clockTicks, cpuSeconds, cpuShareOver, waitForWarmWorker } from '../lib/processes.mjs';
import { installNvidiaSmiStandIn, nvidiaGpus, startAgent, tempDir } from '../lib/setup.mjs';

export const name = 'stats';
export const aliases = ['sampler'];
export const describe = 'agent CPU with 1 / 100 WatchStats subscribers vs nvidia-smi alone; agent RSS';

/** Megabytes (10^6), the unit of the memory target. */
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

/** Opens `n` stats streams at 1 Hz; returns how many samples arrived and a close(). */
function watchStats(client, n) {
  const controller = new AbortController();
  // One signal ends all the streams; each adds its own listener.
  setMaxListeners(n + 10, controller.signal);
  const counts = new Array(n).fill(0);
  const loops = counts.map(async (_, i) => {
    try {
      for await (const _sample of client.stats({ intervalMs: 1000, signal: controller.signal })) counts[i]++;
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  });
  return {
    counts,
    async close() {
      controller.abort();
      await Promise.all(loops);
    },
  };
}

/** CPU share of a program alone: `command` run for `ms`, then stopped. */
async function programAlone(command, args, env, ms) {
  const child = spawn(command, args, { stdio: 'ignore', env });
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  try {
    await sleep(1000);
    return (await cpuShareOver(child.pid, ms)).share;
  } finally {
    child.kill('SIGTERM');
  }
}

export async function run({ quick, log }) {
  const windowMs = quick ? 6_000 : 15_000;
  const watchers = 100;
  const root = await tempDir('stats');
  let a;
  let standIn;
  try {
    const real = (await nvidiaGpus()).length > 0;
    let env = {};
    if (!real) {
      const installed = await installNvidiaSmiStandIn();
      if (installed.error) throw new Error(installed.error);
      standIn = installed.dir;
      env = { PATH: `${standIn}:${process.env.PATH}` };
    }
    const smiLabel = real ? 'nvidia-smi' : 'STAND-IN nvidia-smi (no GPU here)';
    log(`using ${smiLabel}`);

    log(`baseline: nvidia-smi -lms 1000 alone for ${windowMs / 1000} s`);
    const smiAlone = await programAlone(
      'nvidia-smi',
      ['--query-gpu=index,memory.used', '--format=csv,noheader,nounits', '-lms', '1000'],
      { ...process.env, ...env },
      windowMs,
    );

    // The default configuration: one warm worker, which is a separate process (not in the agent's RSS).
    a = await startAgent({ warmWorkers: 1, env });
    await waitForWarmWorker(a.pid);
    await sleep(2000);
    log(`agent idle for ${windowMs / 1000} s`);
    const idle = await cpuShareOver(a.pid, windowMs);
    const idleRss = median(idle.rssSamples);

    const sampler = async (n) => {
      const w = watchStats(a.client, n);
      try {
        // Let the sampler and the streams settle before measuring.
        await sleep(3000);
        const smi = childrenOf(a.pid).find((c) => c.cmdline.includes('nvidia-smi'));
        const smiStart = smi ? cpuSeconds(smi.pid) : 0;
        const t0 = performance.now();
        const before = w.counts.reduce((x, y) => x + y, 0);
        const m = await cpuShareOver(a.pid, windowMs);
        const secondsPassed = (performance.now() - t0) / 1000;
        const samples = w.counts.reduce((x, y) => x + y, 0) - before;
        return {
          share: m.share,
          rss: median(m.rssSamples),
          samplesPerWatcherPerSecond: samples / n / secondsPassed,
          smiShare: smi ? (cpuSeconds(smi.pid) - smiStart) / secondsPassed : Number.NaN,
        };
      } finally {
        await w.close();
      }
    };
    log(`1 WatchStats subscriber for ${windowMs / 1000} s`);
    const one = await sampler(1);
    await sleep(4000);
    log(`${watchers} WatchStats subscribers for ${windowMs / 1000} s`);
    const many = await sampler(watchers);
    for (const [label, m] of [
      ['1', one],
      [String(watchers), many],
    ]) {
      // A subscriber at 1 Hz that got far fewer samples means the figure is for a sampler not doing its job.
      if (!(m.samplesPerWatcherPerSecond > 0.8))
        throw new Error(`${label} subscriber(s) got ${m.samplesPerWatcherPerSecond.toFixed(2)} samples/s`);
    }

    log(`${watchers} watchers of a running job`);
    const ws = join(root, 'workspace');
    await mkdir(ws);
    // A job that prints for a while: its watchers hold streams open while events flow.
    await writeFile(
      join(ws, 'lines.py'),
      'import time\nfor i in range(int(__import__("sys").argv[1])):\n    print(f"line {i}", flush=True)\n    time.sleep(0.05)\n',
    );
    const { dataset } = await a.client.datasets.upload(ws, { hashCache: false });
    await waitForWarmWorker(a.pid);
    const lines = Math.ceil((windowMs + 8000) / 50);
    const job = await a.client.runScript({
      workspace: { datasetId: dataset.id },
      entrypoint: 'lines.py',
      args: [String(lines)],
      gpuCount: 0,
    });
    const seen = new Array(watchers).fill(0);
    const follow = seen.map(async (_, i) => {
      for await (const e of job.events()) if (e.type === 'log') seen[i]++;
    });
    await sleep(3000);
    const busy = await cpuShareOver(a.pid, windowMs);
    await Promise.all(follow);
    if (seen.some((n) => n !== seen[0]) || (seen[0] ?? 0) < lines)
      throw new Error(`job watchers saw different logs: ${Math.min(...seen)}..${Math.max(...seen)} lines`);
    const busyRss = Math.max(...busy.rssSamples);

    // /proc counts CPU in clock ticks: below a few ticks per window a share is noise, and so is a ratio to it.
    const floor = 3 / clockTicks / (windowMs / 1000);
    const cpu = (share) =>
      share < floor ? `< ${(floor * 100).toFixed(2)}%` : `${(share * 100).toFixed(2)}%`;
    const times = (share) =>
      smiAlone < floor ? 'n/a (baseline below resolution)' : `${(share / smiAlone).toFixed(1)}x`;
    const smiNote = real ? 'real nvidia-smi' : 'STAND-IN nvidia-smi: a Node script replaying recorded rows';
    const rows = [
      {
        id: 'stats.cpu.1',
        what: 'Stats sampler: agent CPU, 1 WatchStats subscriber at 1 Hz',
        ours: `${cpu(one.share)} of a core`,
        baseline: `${cpu(smiAlone)} (${real ? '' : 'STAND-IN '}nvidia-smi -lms 1000 alone)`,
        ratio: times(one.share),
        target: '-',
        met: null,
        note: `${smiNote}; agent idle with no subscriber: ${cpu(idle.share)}; sampler child: ${cpu(one.smiShare)}`,
      },
      {
        id: 'stats.cpu.100',
        what: `Stats sampler: agent CPU, ${watchers} WatchStats subscribers at 1 Hz`,
        ours: `${cpu(many.share)} of a core`,
        baseline: `${cpu(smiAlone)} (${real ? '' : 'STAND-IN '}nvidia-smi -lms 1000 alone)`,
        ratio: times(many.share),
        target: '-',
        met: null,
        note: `${smiNote}; still one sampler child: ${cpu(many.smiShare)}`,
      },
      {
        id: 'stats.rss.idle',
        what: 'Agent memory (RSS of the agent process), idle',
        ours: mb(idleRss),
        baseline: '-',
        ratio: '-',
        target: '< 100 MB',
        met: idleRss < 100e6,
        note: 'the warm worker is a separate process, not counted',
      },
      {
        id: 'stats.rss.watchers',
        what: `Agent memory (RSS, peak), ${watchers} watchers of a running job`,
        ours: mb(busyRss),
        baseline: `${mb(idleRss)} (idle)`,
        ratio: `+${mb(busyRss - idleRss)}`,
        target: '-',
        met: null,
        note: `agent CPU meanwhile: ${cpu(busy.share)}`,
      },
    ];
    return {
      rows,
      raw: {
        windowMs,
        nvidiaSmi: real ? 'real' : 'stand-in',
        smiAloneShare: smiAlone,
        idle: { share: idle.share, rss: idle.rssSamples },
        one,
        many,
        jobWatchers: { watchers, linesEach: seen[0], share: busy.share, rss: busy.rssSamples },
      },
    };
  } finally {
    await a?.close().catch(() => undefined);
    if (standIn) await rm(standIn, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
}
