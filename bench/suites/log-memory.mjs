// Issue 15, defect 5: the agent's memory against the length of a job's log and the number of its
// watchers. A script job prints 1,000,000 lines while one client follows it; then 100 clients replay
// its log at once. The figures are the agent's peak RSS (VmHWM, reset before each phase) against its
// idle RSS in the same run. The bound is the one the chaos suite asserts on a smaller log
// (packages/gpu-agent/src/chaos/log-memory.integration.test.ts): growth under 128 MB.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { count, sleep } from '../lib/figures.mjs';
import { peakRssBytes, resetPeakRss, rssBytes } from '../lib/processes.mjs';
import { startAgent, tempDir } from '../lib/setup.mjs';

export const name = 'log-memory';
export const aliases = ['logmem'];
export const describe = 'agent RSS during a 1,000,000-line job and 100 concurrent replays of it vs idle';

const GROWTH_BOUND = 128 * 1024 * 1024;
const mb = (n) => `${(n / 1e6).toFixed(0)} MB`;

const LOUD = 'import sys\nfor i in range(int(sys.argv[1])):\n    print(f"{i:08d} " + "x" * 90)\n';

export async function run({ quick, log }) {
  const lines = quick ? 100_000 : 1_000_000;
  const replays = quick ? 10 : 100;
  const replayWindowMs = quick ? 5_000 : 20_000;
  const root = await tempDir('log-memory');
  let a;
  try {
    const ws = join(root, 'workspace');
    await mkdir(ws);
    await writeFile(join(ws, 'loud.py'), LOUD);
    a = await startAgent({ warmWorkers: 0 });
    const { dataset } = await a.client.datasets.upload(ws, { hashCache: false });
    await sleep(2_000);
    const idle = rssBytes(a.pid);

    log(`a job that prints ${count(lines)} lines, followed by one client`);
    resetPeakRss(a.pid);
    const job = await a.client.runScript({
      workspace: { datasetId: dataset.id },
      entrypoint: 'loud.py',
      args: [String(lines)],
      gpuCount: 0,
    });
    let logged = 0;
    let last;
    for await (const e of job.events()) {
      if (e.type === 'log') logged++;
      last = e;
    }
    if (logged !== lines || last?.state !== 'succeeded')
      throw new Error(`the job ended ${last?.state} after ${logged} of ${lines} lines`);
    const duringJob = peakRssBytes(a.pid);

    log(`${replays} concurrent replays of its log for ${replayWindowMs / 1000} s`);
    await sleep(2_000);
    resetPeakRss(a.pid);
    const stop = new AbortController();
    const seen = new Array(replays).fill(0);
    const replaying = seen.map(async (_, i) => {
      const handle = await a.client.jobs.get(job.id);
      try {
        for await (const _e of handle.events({ replayOnly: true, signal: stop.signal })) seen[i]++;
      } catch (error) {
        if (!stop.signal.aborted) throw error;
      }
    });
    await sleep(replayWindowMs);
    const duringReplays = peakRssBytes(a.pid);
    stop.abort();
    await Promise.all(replaying);
    if (seen.some((n) => n === 0)) throw new Error('a replay got no events');
    const replayed = seen.reduce((x, y) => x + y, 0);

    const row = (id, what, peak, note) => ({
      id,
      what,
      ours: mb(peak),
      baseline: `${mb(idle)} (idle)`,
      ratio: `+${mb(peak - idle)}`,
      target: `< +${mb(GROWTH_BOUND)}`,
      met: peak - idle < GROWTH_BOUND,
      note,
    });
    return {
      rows: [
        row(
          'logmem.rss.job',
          `Agent memory (RSS, peak) during a ${count(lines)}-line job`,
          duringJob,
          'one client following it live',
        ),
        row(
          'logmem.rss.replays',
          `Agent memory (RSS, peak) during ${replays} concurrent replays of that log`,
          duringReplays,
          `${count(replayed)} events replayed in ${replayWindowMs / 1000} s`,
        ),
      ],
      raw: { lines, replays, replayWindowMs, idle, duringJob, duringReplays, replayed, perReplay: seen },
    };
  } finally {
    await a?.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
