// The gpu-check's fit section: the same fastai fit through the agent and run directly
// (direct_fit.py), fp16 off and on, images/s of each and their ratio; and, from the fit through the
// agent, the job's worker in the stats stream with its GPU memory.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { must } from './report.mjs';

const run = promisify(execFile);
const MIB = 1024 * 1024;
/** Through the agent at least this share of direct fastai's images/s (issue #14). */
const RATIO_TARGET = 0.98;

/**
 * The fit, sized to take seconds per epoch: on a GPU a model the GPU has work with, on the CPU the
 * smallest that still trains. The first epoch warms up (cuDNN, allocator, DataLoader workers) and is
 * not counted.
 */
export const FIT = {
  gpu: { arch: 'resnet50', imageSize: 224, batchSize: 64, epochs: 6 },
  dry: { arch: 'resnet18', imageSize: 16, batchSize: 64, epochs: 2 },
};
const COMMON = { lr: 0.01, validPct: 0.2, seed: 42 };

/** Images per second over the epochs after the first. */
function imagesPerSecond(trainItems, epochSeconds) {
  const counted = epochSeconds.length > 1 ? epochSeconds.slice(1) : epochSeconds;
  const seconds = counted.reduce((a, b) => a + b, 0);
  return seconds > 0 ? (trainItems * counted.length) / seconds : 0;
}

async function fitThroughAgent(agent, datasetId, fit, fp16) {
  const job = await agent.trainVision({
    name: `gpu-check fit fp16=${fp16}`,
    data: { datasetId },
    labels: { folder: { trainDir: 'train' } },
    pretrained: false,
    fitMethod: 'fit_one_cycle',
    fp16,
    maxDurationMs: 240_000,
    ...fit,
    ...COMMON,
  });
  // The agent-wide stats stream while the job runs: its worker's RSS and GPU memory.
  const stop = new AbortController();
  const own = [];
  const watching = (async () => {
    try {
      for await (const s of agent.stats({ intervalMs: 500, signal: stop.signal }))
        own.push(...s.processes.filter((p) => p.jobId === job.id));
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    }
  })();
  let trainItems = 0;
  let state = '';
  let failure = '';
  const epochSeconds = [];
  const warnings = [];
  try {
    for await (const e of job.events()) {
      if (e.type === 'fitStarted') trainItems = e.trainItems;
      else if (e.type === 'epochEnded')
        epochSeconds.push({ s: e.durationMs / 1000, acc: e.metrics.accuracy });
      else if (e.type === 'warning') warnings.push(e.code);
      else if (e.type === 'error') failure = e.error.message;
      else if (e.type === 'state') state = e.state;
    }
  } finally {
    stop.abort();
    await watching;
  }
  must(state === 'succeeded', `the job ended ${state || 'without a state'}${failure ? `: ${failure}` : ''}`);
  must(epochSeconds.length === fit.epochs, `${epochSeconds.length} epochs ended, not ${fit.epochs}`);
  return {
    imagesPerSecond: imagesPerSecond(
      trainItems,
      epochSeconds.map((e) => e.s),
    ),
    accuracy: epochSeconds.at(-1)?.acc,
    warnings,
    processes: own,
  };
}

async function fitDirectly(o, dataDir, fit, fp16) {
  const args = [o.directFit, `${dataDir}/train`, '--arch', fit.arch, '--size', String(fit.imageSize)];
  args.push('--bs', String(fit.batchSize), '--epochs', String(fit.epochs), '--lr', String(COMMON.lr));
  args.push(
    '--valid-pct',
    String(COMMON.validPct),
    '--seed',
    String(COMMON.seed),
    ...(fp16 ? ['--fp16'] : []),
  );
  const { stdout } = await run(o.python, args, { timeout: 240_000, maxBuffer: 16 * MIB });
  const r = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
  must(
    r.epochSeconds?.length === fit.epochs,
    `${r.epochSeconds?.length ?? 0} epochs timed, not ${fit.epochs}`,
  );
  return { ...r, imagesPerSecond: imagesPerSecond(r.trainItems, r.epochSeconds) };
}

const fmt = (r) => `${r.imagesPerSecond.toFixed(1)} images/s, accuracy ${r.accuracy?.toFixed(3) ?? '?'}`;

/** The fit section and the per-process section, into `report`. */
export async function fitChecks(report, { agent, datasetId, dataDir, o, gpu }) {
  const S = 'fit: through the agent and directly';
  const fit = gpu ? FIT.gpu : FIT.dry;
  report.note(
    S,
    `${fit.arch}, ${fit.imageSize} px, batch ${fit.batchSize}, ${fit.epochs} epochs of fit_one_cycle on the digits; ` +
      'images/s over the epochs after the first',
  );
  let processes = [];
  for (const fp16 of [false, true]) {
    const label = `fp16 ${fp16 ? 'on' : 'off'}`;
    let viaAgent;
    let direct;
    await report.check(S, `through the agent, ${label}`, async () => {
      viaAgent = await fitThroughAgent(agent, datasetId, fit, fp16);
      if (!fp16) processes = viaAgent.processes;
      const cpuWarned = viaAgent.warnings.includes('fp16_on_cpu');
      if (fp16 && !gpu) must(cpuWarned, 'fp16 on the CPU trained without the fp16_on_cpu warning');
      if (gpu) must(!cpuWarned, 'the job warned fp16_on_cpu: it did not train on the GPU');
      return fmt(viaAgent);
    });
    await report.check(S, `directly, ${label}`, async () => {
      direct = await fitDirectly(o, dataDir, fit, fp16);
      if (gpu) must(direct.device.startsWith('cuda') && direct.fp16 === fp16, `ran on ${direct.device}`);
      return `${fmt(direct)} (${direct.device}${direct.fp16 ? ', fp16' : ''})`;
    });
    const name = `through the agent / directly, ${label}`;
    if (!viaAgent || !direct) {
      report.skip(S, name, 'a fit above failed');
      continue;
    }
    const ratio = viaAgent.imagesPerSecond / direct.imagesPerSecond;
    const said = `${(ratio * 100).toFixed(1)}% (target >= ${RATIO_TARGET * 100}%)`;
    if (gpu) {
      await report.check(S, name, () => {
        must(ratio >= RATIO_TARGET, said);
        return said;
      });
    } else {
      report.skip(S, name, `${said}: judged on a GPU only (CPU timings on shared cores say nothing of it)`);
    }
  }

  const P = 'per-process memory in the stats stream';
  await report.check(P, "the job's worker is in the stream", () => {
    must(processes.length > 0, 'no sample of the stats stream named the fit job while it ran');
    const rss = Math.max(...processes.map((p) => p.rssBytes));
    must(rss > 0, 'the worker was listed with 0 bytes RSS');
    return `pid ${processes[0]?.pid}, ${processes.length} samples, peak RSS ${(rss / MIB).toFixed(0)} MiB`;
  });
  if (!gpu) {
    report.skip(P, 'its GPU memory', 'GPU only: the stand-in nvidia-smi lists no compute processes');
    return;
  }
  await report.check(P, 'its GPU memory', () => {
    const peak = Math.max(0, ...processes.map((p) => p.gpuMemoryBytes));
    must(peak > 0, "nvidia-smi --query-compute-apps never showed the worker's pid holding GPU memory");
    return `peak ${(peak / MIB).toFixed(0)} MiB`;
  });
}
