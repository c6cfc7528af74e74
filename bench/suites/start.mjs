// Issue 8, items 1 and 2: job start (submit -> first batch event) with and without the warm pool, and
// the training overhead, against the same fastai script run with `python` directly. One set of runs
// serves both: each run reports its first batch, its fit time and its end-to-end time.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { median, overhead, seconds, speedup } from '../lib/figures.mjs';
import { waitForNoWorkers, waitForWarmWorker } from '../lib/processes.mjs';
import { runJob, runPythonDirect } from '../lib/runs.mjs';
import { fixturesDir, makeDigits, startAgent, tempDir } from '../lib/setup.mjs';

export const name = 'start';
export const aliases = ['job-start', 'training'];
export const describe = 'job start (warm / cold) and training overhead vs python directly';

const SCRIPT = 'train_digits.py';

export async function run({ quick, log }) {
  const reps = quick ? 1 : 3;
  const epochs = quick ? 2 : 4;
  const root = await tempDir('start');
  const agents = [];
  try {
    log('making the digits and starting two agents (--warm-workers 0 and 1)');
    const digits = join(await makeDigits(root), 'train');
    const workspace = join(root, 'workspace');
    await mkdir(workspace);
    await copyFile(join(fixturesDir, SCRIPT), join(workspace, SCRIPT));
    const cold = await startAgent({ warmWorkers: 0 });
    agents.push(cold);
    const warm = await startAgent({ warmWorkers: 1 });
    agents.push(warm);
    const specs = new Map();
    for (const a of [cold, warm]) {
      const ws = await a.client.datasets.upload(workspace, { hashCache: false });
      const data = await a.client.datasets.upload(digits, { hashCache: false });
      specs.set(a, {
        workspace: { datasetId: ws.dataset.id },
        data: { datasetId: data.dataset.id },
        entrypoint: SCRIPT,
        args: [String(epochs)],
        gpuCount: 0,
      });
    }

    const runs = { direct: [], cold: [], warm: [] };
    const direct = async () => {
      const r = { firstBatchMs: Number.NaN, fitS: Number.NaN };
      const { ms } = await runPythonDirect(join(workspace, SCRIPT), [String(epochs)], {
        cwd: workspace,
        env: { GPULINK_DATA: digits },
        onLine: (line, at) => {
          // fastai's console progress bar may precede the mark on the same line.
          if (line.includes('BENCH first_batch') && Number.isNaN(r.firstBatchMs)) r.firstBatchMs = at;
          const fit = /BENCH fit_seconds ([\d.]+)/.exec(line);
          if (fit) r.fitS = Number(fit[1]);
        },
      });
      runs.direct.push({ ...r, totalMs: ms });
    };
    const viaAgent = (a, into) => async () => {
      const r = { firstBatchMs: Number.NaN, fitS: Number.NaN };
      const { ms } = await runJob(
        () => a.client.runScript(specs.get(a)),
        (e, at) => {
          if (e.type === 'batch' && Number.isNaN(r.firstBatchMs)) r.firstBatchMs = at;
          const fit = e.type === 'log' ? /^BENCH fit_seconds ([\d.]+)/.exec(e.text) : null;
          if (fit) r.fitS = Number(fit[1]);
        },
      );
      into.push({ ...r, totalMs: ms });
    };
    const kinds = [
      ['python directly', direct],
      ['agent, no warm pool', viaAgent(cold, runs.cold)],
      ['agent, warm pool', viaAgent(warm, runs.warm)],
    ];
    for (let rep = 0; rep < reps; rep++) {
      // A different order each round, so a drift in the machine's load does not favour one kind.
      for (let k = 0; k < kinds.length; k++) {
        const [label, fn] = kinds[(k + rep) % kinds.length];
        // Nothing else may be importing torch meanwhile: the warm agent's next spare must be ready
        // (and is then idle, blocked on its stdin), the cold agent must have no worker left.
        await waitForWarmWorker(warm.pid);
        await waitForNoWorkers(cold.pid);
        log(`round ${rep + 1}/${reps}: ${label}`);
        await fn();
      }
    }

    const m = (list, key) => median(list.map((r) => r[key]));
    const d = {
      first: m(runs.direct, 'firstBatchMs'),
      total: m(runs.direct, 'totalMs'),
      fit: m(runs.direct, 'fitS') * 1000,
    };
    const c = {
      first: m(runs.cold, 'firstBatchMs'),
      total: m(runs.cold, 'totalMs'),
      fit: m(runs.cold, 'fitS') * 1000,
    };
    const w = {
      first: m(runs.warm, 'firstBatchMs'),
      total: m(runs.warm, 'totalMs'),
      fit: m(runs.warm, 'fitS') * 1000,
    };
    const n = `median of ${reps}`;
    const rows = [
      {
        id: 'start.warm',
        what: 'Job start, warm pool: submit -> first batch event',
        ours: seconds(w.first),
        baseline: `${seconds(d.first)} (python directly, to its first batch)`,
        ratio: speedup(w.first, d.first),
        target: '>= 5x faster',
        met: d.first / w.first >= 5,
        note: n,
      },
      {
        id: 'start.cold',
        what: 'Job start, no warm pool (--warm-workers 0): submit -> first batch event',
        ours: seconds(c.first),
        baseline: `${seconds(d.first)} (python directly)`,
        ratio: speedup(c.first, d.first),
        target: '-',
        met: null,
        note: n,
      },
      {
        id: 'training.end-to-end',
        what: `Training end to end, ${epochs} epochs small CNN on CPU (agent without warm pool: both import torch)`,
        ours: seconds(c.total),
        baseline: `${seconds(d.total)} (python directly, spawn -> exit)`,
        ratio: overhead(c.total, d.total),
        target: '<= +3%',
        met: c.total / d.total - 1 <= 0.03,
        note: `${n}; submit -> succeeded at the SDK`,
      },
      {
        id: 'training.end-to-end.warm',
        what: 'Training end to end, same fit, agent with warm pool',
        ours: seconds(w.total),
        baseline: `${seconds(d.total)} (python directly)`,
        ratio: overhead(w.total, d.total),
        target: '-',
        met: null,
        note: `${n}; the warm pool hides the import`,
      },
      {
        id: 'training.fit',
        what: 'Training: fit_one_cycle time inside the job, agent without warm pool (callback + event stream)',
        ours: seconds(c.fit),
        baseline: `${seconds(d.fit)} (python directly)`,
        ratio: overhead(c.fit, d.fit),
        target: '<= +3%',
        met: c.fit / d.fit - 1 <= 0.03,
        note: n,
      },
      {
        id: 'training.fit.warm',
        what: 'Training: fit time inside the job, agent with warm pool',
        ours: seconds(w.fit),
        baseline: `${seconds(d.fit)} (python directly)`,
        ratio: overhead(w.fit, d.fit),
        target: '-',
        met: null,
        note: `${n}; the replacement warm worker imports torch beside the job`,
      },
    ];
    return { rows, raw: { epochs, reps, runs, medians: { direct: d, cold: c, warm: w } } };
  } finally {
    for (const a of agents) await a.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
