// Issue 8, item 3: the event path, worker -> agent -> SDK. A script job writes `log` events on its
// event pipe (fd 3) as fast as it can (sustained events/s at the SDK), then at 100 events/s (latency
// from the write, timestamped inside the event, to the SDK's yield). The baseline is the same Python
// writer on a pipe read by Node directly (readline + JSON.parse): the floor without the agent.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { producerRate, receiver } from '../lib/event-receiver.mjs';
import { count, median, millis, percent, percentile } from '../lib/figures.mjs';
import { waitForWarmWorker } from '../lib/processes.mjs';
import { runJob, runPythonDirect } from '../lib/runs.mjs';
import { fixturesDir, startAgent, tempDir } from '../lib/setup.mjs';

export const name = 'events';
export const aliases = ['event-path'];
export const describe = 'worker -> SDK events/s and latency at 100 events/s vs a bare pipe';

const SCRIPT = 'emit_events.py';

function direct(workspace, args) {
  const r = receiver();
  let wrote = Number.NaN;
  return runPythonDirect(join(workspace, SCRIPT), args, {
    cwd: workspace,
    env: { BENCH_EVENTS_FD: '3' },
    onLine: (line) => {
      wrote = producerRate(line) ?? wrote;
    },
    stdio3: (pipe) =>
      createInterface({ input: pipe }).on('line', (line) => r.take(JSON.parse(line).log.text)),
  }).then(() => ({ r, producerPerSecond: wrote }));
}

async function viaAgent(a, spec, args) {
  const r = receiver();
  let wrote = Number.NaN;
  await waitForWarmWorker(a.pid);
  await runJob(
    () => a.client.runScript({ ...spec, args }),
    (e) => {
      if (e.type !== 'log') return;
      r.take(e.text);
      wrote = producerRate(e.text) ?? wrote;
    },
  );
  return { r, producerPerSecond: wrote };
}

export async function run({ quick, log }) {
  const flood = quick ? 10_000 : 50_000;
  const reps = quick ? 1 : 3;
  const pacedSeconds = quick ? 5 : 15;
  const root = await tempDir('events');
  let a;
  try {
    const workspace = join(root, 'workspace');
    await mkdir(workspace);
    await copyFile(join(fixturesDir, SCRIPT), join(workspace, SCRIPT));
    a = await startAgent({ warmWorkers: 1 });
    const ws = await a.client.datasets.upload(workspace, { hashCache: false });
    const spec = { workspace: { datasetId: ws.dataset.id }, entrypoint: SCRIPT, gpuCount: 0 };

    const floods = { direct: [], agent: [] };
    for (let rep = 0; rep < reps; rep++) {
      log(`flood ${rep + 1}/${reps}: ${count(flood)} events, directly and through the agent`);
      floods.direct.push(await direct(workspace, ['flood', String(flood)]));
      floods.agent.push(await viaAgent(a, spec, ['flood', String(flood)]));
    }
    for (const f of floods.agent) {
      if (f.r.n !== flood || f.r.outOfOrder)
        throw new Error(`the SDK saw ${f.r.n} of ${flood} events, ${f.r.outOfOrder} out of order`);
    }
    log(`100 events/s for ${pacedSeconds} s, directly and through the agent`);
    const pacedArgs = ['paced', '100', String(pacedSeconds)];
    const pacedDirect = (await direct(workspace, pacedArgs)).r;
    const pacedAgent = (await viaAgent(a, spec, pacedArgs)).r;

    const directRate = median(floods.direct.map((f) => f.r.perSecond()));
    const agentRate = median(floods.agent.map((f) => f.r.perSecond()));
    const producerRate = median(floods.agent.map((f) => f.producerPerSecond));
    const lat = (r, p) => percentile(r.latencies, p);
    const rows = [
      {
        id: 'events.throughput',
        what: `Event path: sustained events/s, worker pipe -> SDK (${count(flood)} log events)`,
        ours: `${count(agentRate)}/s`,
        baseline: `${count(directRate)}/s (same writer, bare pipe -> Node)`,
        ratio: percent(agentRate / directRate),
        target: '>= 10,000/s',
        met: agentRate >= 10_000,
        note: `median of ${reps}; the writer alone managed ${count(producerRate)}/s into the agent's pipe`,
      },
      {
        id: 'events.latency.p50',
        what: 'Event path at 100 events/s: p50 latency, worker write -> SDK yield',
        ours: millis(lat(pacedAgent, 50)),
        baseline: `${millis(lat(pacedDirect, 50))} (bare pipe)`,
        ratio: `+${millis(lat(pacedAgent, 50) - lat(pacedDirect, 50))}`,
        target: '-',
        met: null,
        note: `${pacedAgent.latencies.length} events`,
      },
      {
        id: 'events.latency.p99',
        what: 'Event path at 100 events/s: p99 latency, worker write -> SDK yield',
        ours: millis(lat(pacedAgent, 99)),
        baseline: `${millis(lat(pacedDirect, 99))} (bare pipe)`,
        ratio: `+${millis(lat(pacedAgent, 99) - lat(pacedDirect, 99))}`,
        target: '< 50 ms',
        met: lat(pacedAgent, 99) < 50,
        note: `${pacedAgent.latencies.length} events`,
      },
    ];
    const summary = (r) => ({
      n: r.n,
      perSecond: r.perSecond(),
      p50: lat(r, 50),
      p90: lat(r, 90),
      p99: lat(r, 99),
      max: Math.max(...r.latencies),
    });
    return {
      rows,
      raw: {
        flood,
        floods: {
          direct: floods.direct.map((f) => ({ ...summary(f.r), producerPerSecond: f.producerPerSecond })),
          agent: floods.agent.map((f) => ({ ...summary(f.r), producerPerSecond: f.producerPerSecond })),
        },
        paced: { seconds: pacedSeconds, direct: summary(pacedDirect), agent: summary(pacedAgent) },
      },
    };
  } finally {
    await a?.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
