// @ts-check
// Uploads an image folder (one sub-folder per label), trains a classifier on the agent, follows it
// live, and downloads the exported model.
//   GPULINK_URL=gpulink://... node examples/sdk/train-digits.mjs ./digits [epochs]
// Make the digits with: python -m gpulink_worker.sample_data digits ./digits
import { connect } from '@gpulink/sdk';

const [dir = './digits', epochs = '2'] = process.argv.slice(2);
const agent = await connect();
try {
  const { dataset, sentBytes } = await agent.datasets.upload(dir, { name: 'digits' });
  console.log(`dataset ${dataset.id}: ${dataset.fileCount} files, ${sentBytes} bytes sent`);

  const job = await agent.trainVision({
    data: { datasetId: dataset.id },
    labels: { folder: { trainDir: 'train' } },
    arch: 'resnet18',
    pretrained: false,
    imageSize: 32,
    epochs: Number(epochs),
    fitMethod: 'fit_one_cycle',
    lr: 0.01,
  });
  const summary = await job.wait({
    onEvent: (e) => {
      if (e.type === 'epochEnded')
        console.log(`epoch ${e.completedEpochs}: accuracy ${e.metrics.accuracy?.toFixed(3)}`);
    },
  });
  const model = await job.artifacts.download('export.pkl', './export.pkl');
  console.log(
    `${summary.state}: accuracy ${summary.epochs.at(-1)?.metrics.accuracy?.toFixed(3)}, model at ${model.path}`,
  );
} finally {
  await agent.close();
}
