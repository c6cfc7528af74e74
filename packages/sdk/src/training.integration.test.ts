// The task builders end to end: upload real data, train with fastai on the CPU through the real agent
// and worker, follow the events, wait for the summary, download the model, predict with it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentClient, connect } from './client.js';
import { GpulinkError } from './errors.js';
import { JobFailedError } from './job-failed-error.js';
import { jobSpecDefaults } from './job-options.js';
import type { Job } from './jobs.js';
import {
  makeBreastCancerCsv,
  makeDigits,
  sha256Of,
  smallDigitsJob,
  startTestAgent,
  type TestAgent,
  tempDir,
  writeFiles,
} from './test-utils/real-agent.js';
import type { JobEvent, JobEventType } from './types.js';

let agent: TestAgent;
let client: AgentClient;
let dir: string;

beforeAll(async () => {
  dir = await tempDir('training');
  await Promise.all([
    makeDigits(join(dir, 'digits')),
    makeBreastCancerCsv(join(dir, 'tabular', 'breast_cancer.csv')),
  ]);
  agent = await startTestAgent({ warmWorkers: 1 });
  client = await connect(agent.url);
});

afterAll(async () => {
  await client?.close();
  await agent?.stop();
});

describe('trainVision, then predict with its model', () => {
  let job: Job;
  let events: JobEvent[];
  let digitsId: string;

  beforeAll(async () => {
    const upload = await client.datasets.upload(join(dir, 'digits'), { name: 'digits', hashCache: false });
    digitsId = upload.dataset.id;
    job = await client.trainVision({
      data: { datasetId: digitsId },
      labels: { folder: { trainDir: 'train' } },
      arch: 'resnet18',
      pretrained: false,
      imageSize: 28,
      batchSize: 64,
      epochs: 1,
      lr: 0.01,
      fitMethod: 'fit_one_cycle',
      metrics: ['accuracy'],
      name: 'digits-sdk',
      tags: ['sdk-test'],
    });
    events = [];
    for await (const e of job.events()) events.push(e);
  });

  it('reads the job back with the options it was given', async () => {
    const info = await job.refresh();
    expect(info).toMatchObject({ name: 'digits-sdk', tags: ['sdk-test'], state: 'succeeded' });
    expect(info.task).toMatchObject({
      type: 'vision',
      arch: 'resnet18',
      imageSize: 28,
      fitMethod: 'fit_one_cycle',
    });
    const listed = await client.jobs.list({ tags: ['sdk-test'] });
    expect(listed.map((j) => j.id)).toEqual([job.id]);
  });

  it('streams the training as typed events', () => {
    const types = new Set<JobEventType>(events.map((e) => e.type));
    for (const t of ['state', 'fitStarted', 'batch', 'epochEnded', 'artifact'] as const)
      expect(types).toContain(t);
    const fit = events.find((e) => e.type === 'fitStarted');
    expect(fit).toMatchObject({ epochs: 1, metricNames: ['accuracy'] });
    const batch = events.find((e) => e.type === 'batch' && e.phase === 'train');
    expect(batch).toMatchObject({ phase: 'train', smoothLoss: expect.any(Number) });
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
  });

  it('waits for a summary with the epoch metrics and the model', async () => {
    const summary = await job.wait();
    expect(summary.state).toBe('succeeded');
    expect(summary.epochs).toHaveLength(1);
    const accuracy = summary.epochs[0]?.metrics.accuracy;
    expect(accuracy).toBeGreaterThanOrEqual(0);
    expect(accuracy).toBeLessThanOrEqual(1);
    expect(summary.artifacts.map((a) => a.name)).toContain('export.pkl');
    if (summary.interpretation) expect(summary.interpretation.classes).toHaveLength(10);
  });

  it('downloads the exported model intact', async () => {
    const [model] = (await job.artifacts.list()).filter((a) => a.name === 'export.pkl');
    const result = await job.artifacts.download('export.pkl', `${join(dir, 'models')}/`);
    expect(result.path).toBe(join(dir, 'models', 'export.pkl'));
    expect(result.sha256).toBe(model?.sha256);
    expect(await sha256Of(result.path)).toBe(model?.sha256);
  });

  it('labels held-out digits with the trained model', async () => {
    const predict = await client.predict({
      model: job.id,
      inputs: { datasetId: digitsId, subdir: 'holdout' },
      topK: 2,
    });
    const summary = await predict.wait();
    expect(summary.predictions).toHaveLength(10);
    for (const p of summary.predictions ?? []) {
      expect(p.input).toMatch(/\.png$/);
      expect(p.top).toHaveLength(2);
    }
  });
});

describe("the contract's defaults and constraints, through the SDK", () => {
  let digitsId: string;
  beforeAll(async () => {
    digitsId = (await client.datasets.upload(join(dir, 'digits'), { hashCache: false })).dataset.id;
  });

  it('sends no arch or epochs when none are given, and the job trains with the defaults', async () => {
    const { arch: _arch, epochs: _epochs, ...given } = smallDigitsJob(digitsId, { tags: ['defaults'] });
    const job = await client.trainVision(given);
    const summary = await job.wait();
    expect(summary.state).toBe('succeeded');
    expect(summary.epochs).toHaveLength(jobSpecDefaults.fit.epochs);
    const info = await job.refresh();
    // The job reads back as it was submitted: the SDK sent neither, the agent filled both in.
    expect(info.task).toMatchObject({ type: 'vision', imageSize: 16 });
    expect(info.task).not.toHaveProperty('arch');
    expect(info.task).not.toHaveProperty('epochs');
  });

  it('leaves the valid_pct range to the agent, which refuses it once with INVALID_ARGUMENT', async () => {
    const before = (await client.jobs.list()).length;
    const refused = await client
      .trainVision(smallDigitsJob(digitsId, { validPct: 1.5 }))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GpulinkError);
    expect(refused).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'INVALID_ARGUMENT: spec.vision.valid_pct: must be between 0 and 1 (exclusive)',
    });
    expect(await client.jobs.list()).toHaveLength(before);
  });
});

describe('trainTabular', () => {
  it('trains on a CSV with the learning-rate finder choosing the rate, then predicts every row of a larger one', async () => {
    const { dataset } = await client.datasets.upload(join(dir, 'tabular'), { hashCache: false });
    const job = await client.trainTabular({
      data: { datasetId: dataset.id },
      csvPath: 'breast_cancer.csv',
      target: 'diagnosis',
      epochs: 1,
      lr: 'find',
    });
    const summary = await job.wait();
    expect(summary.epochs).toHaveLength(1);
    expect(summary.lrFind?.suggestions.length).toBeGreaterThan(0);
    expect(summary.lrFind?.lrs.length).toBe(summary.lrFind?.losses.length);

    // 1,707 rows: the worker reports predictions 1,000 per event, and the summary holds them all.
    const csv = await readFile(join(dir, 'tabular', 'breast_cancer.csv'), 'utf8');
    const [header, ...rows] = csv.trimEnd().split('\n');
    await writeFiles(join(dir, 'many-rows'), { 'rows.csv': [header, ...rows, ...rows, ...rows].join('\n') });
    const inputs = await client.datasets.upload(join(dir, 'many-rows'), { hashCache: false });
    const predict = await client.predict({ model: job.id, inputs: { datasetId: inputs.dataset.id } });
    const batches = [];
    for await (const e of predict.events()) if (e.type === 'predictions') batches.push(e.predictions.length);
    expect(batches).toEqual([1000, 3 * rows.length - 1000]);
    const predicted = (await predict.wait()).predictions ?? [];
    expect(predicted.map((p) => p.input)).toEqual(
      Array.from({ length: 3 * rows.length }, (_, i) => `rows.csv#${i}`),
    );
  });

  it('rejects with JobFailedError when the data is wrong', async () => {
    const { dataset } = await client.datasets.upload(join(dir, 'tabular'), { hashCache: false });
    const submitted = await client
      .trainTabular({ data: { datasetId: dataset.id }, csvPath: 'missing.csv', target: 'diagnosis' })
      .catch((e: unknown) => e);
    // The agent may refuse the spec up front (INVALID_ARGUMENT) or fail the job when it loads the data.
    if (submitted instanceof Error) {
      expect(submitted.message).toMatch(/^(INVALID_ARGUMENT|NOT_FOUND|FAILED_PRECONDITION): .*csv_path/);
      return;
    }
    const error = await (submitted as Job).wait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect((error as JobFailedError).summary.state).toBe('failed');
  });
});
