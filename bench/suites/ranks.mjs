// Issue 14: what a job on several GPUs costs to start. The warm pool holds one worker that has
// imported torch and fastai; a job of N GPUs runs under `accelerate launch`, which starts N fresh
// Pythons that each import them again. Measured on one agent that counts two stand-in GPUs
// (GPULINK_STAND_IN_GPUS: the ranks run on the CPU with gloo here, and on CUDA on a GPU machine):
// submit -> first batch event of the same vision fit on one GPU (warm) and on two, cancelled after
// its first batch.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { rawClients, unaryCall } from '@gpulink/gpu-agent/testing';
import { FitMethod, JobSpec } from '@gpulink/proto';
import { median, now, seconds, speedup } from '../lib/figures.mjs';
import { waitForWarmWorker } from '../lib/processes.mjs';
import { untilFirstBatch } from '../lib/runs.mjs';
import { makeDigits, startAgent, tempDir } from '../lib/setup.mjs';

export const name = 'ranks';
export const aliases = ['multi-gpu-start'];
export const describe = 'job start on two (stand-in) GPUs under accelerate launch, against one warm GPU';

/**
 * The same vision fit on `gpus` GPUs, submitted with the generated client: the SDK checks `gpus`
 * against GetInfo, which lists real GPUs only, and the stand-ins are the agent's count alone.
 */
function visionSpec(datasetId, gpus) {
  return JobSpec.fromPartial({
    name: `bench ranks ${gpus}`,
    gpuCount: gpus,
    task: {
      $case: 'vision',
      value: {
        data: { source: { $case: 'datasetId', value: datasetId } },
        labels: { method: { $case: 'folder', value: { trainDir: '', validDir: '' } } },
        pretrained: false,
        imageSize: 16,
        batchSize: 32,
        epochs: 1,
        fitMethod: FitMethod.FIT_METHOD_FIT_ONE_CYCLE,
        lr: { value: { $case: 'fixed', value: 0.01 } },
      },
    },
  });
}

/** Submit -> first batch event, in ms; the job is cancelled then, and waited for. */
async function firstBatch(a, raw, datasetId, gpus) {
  const t0 = now();
  const { job } = await unaryCall((cb) =>
    raw.jobs.submitJob({ spec: visionSpec(datasetId, gpus), idempotencyKey: '' }, raw.metadata(), cb),
  );
  return untilFirstBatch(await a.client.jobs.get(job.id), t0);
}

export async function run({ quick, log, reps: given }) {
  const reps = given ?? (quick ? 1 : 3);
  const root = await tempDir('ranks');
  let a;
  let raw;
  try {
    log('making the digits and starting an agent that counts two stand-in GPUs (--warm-workers 1)');
    const digits = join(await makeDigits(root), 'train');
    a = await startAgent({ warmWorkers: 1, env: { GPULINK_STAND_IN_GPUS: '2' } });
    const { dataset } = await a.client.datasets.upload(digits, { hashCache: false });
    raw = rawClients(a.agent.port, a.agent.token);
    const runs = { one: [], two: [] };
    for (let rep = 0; rep < reps; rep++) {
      // Alternating which goes first; each starts with the warm worker ready and nothing importing.
      for (const gpus of rep % 2 ? [2, 1] : [1, 2]) {
        await waitForWarmWorker(a.pid);
        log(`round ${rep + 1}/${reps}: ${gpus} GPU(s)`);
        (gpus === 1 ? runs.one : runs.two).push(await firstBatch(a, raw, dataset.id, gpus));
      }
    }
    const one = median(runs.one);
    const two = median(runs.two);
    const rows = [
      {
        id: 'start.ranks2',
        what: 'Job start on 2 GPUs (accelerate launch, 2 ranks): submit -> first batch event',
        ours: seconds(two),
        baseline: `${seconds(one)} (the same fit on 1 GPU, warm worker)`,
        ratio: speedup(two, one),
        target: '-',
        met: null,
        note: `median of ${reps}; +${seconds(two - one)}; stand-in GPUs (CPU ranks, gloo); each rank imports torch and fastai itself: the warm worker only coordinates`,
      },
    ];
    return { rows, raw: { reps, runs } };
  } finally {
    raw?.close();
    await a?.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
