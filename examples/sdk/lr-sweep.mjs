// @ts-check
// Submits one job per learning rate, waits for all, and prints a comparison table.
//   GPULINK_URL=gpulink://... node examples/sdk/lr-sweep.mjs ds_<dataset id> 0.001 0.003 0.01
import { connect } from '@gpulink/sdk';

const [datasetId, ...rates] = process.argv.slice(2);
if (!datasetId) throw new Error('usage: lr-sweep.mjs DATASET_ID [LR...]');
const agent = await connect();
try {
  const lrs = rates.length ? rates.map(Number) : [1e-3, 3e-3, 1e-2];
  const jobs = await Promise.all(
    lrs.map((lr) =>
      agent.trainVision({
        name: `sweep-lr-${lr}`,
        tags: ['lr-sweep'],
        data: { datasetId },
        labels: { folder: { trainDir: 'train' } },
        pretrained: false,
        imageSize: 32,
        epochs: 2,
        fitMethod: 'fit_one_cycle',
        lr,
      }),
    ),
  );
  // The agent queues them per device; each wait() follows its own job's events.
  const results = await Promise.all(jobs.map((j) => j.wait().catch((e) => e)));
  console.log('lr        state      valid_loss  accuracy');
  results.forEach((r, i) => {
    const last = 'epochs' in r ? r.epochs.at(-1) : undefined;
    const state = 'state' in r ? r.state : `error: ${r.message}`;
    console.log(
      `${String(lrs[i]).padEnd(9)} ${String(state).padEnd(10)} ${last?.validLoss?.toFixed(4) ?? '-'}      ${last?.metrics.accuracy?.toFixed(3) ?? '-'}`,
    );
  });
} finally {
  await agent.close();
}
