// The builders' options against the generated JobSpec: what goes on the wire (in proto3 canonical
// JSON, the same form the agent hands the worker), that it survives the binary codec, and that
// reading a spec back gives the options that were given.
import { FitMethod, JobSpec } from '@gpulink/proto';
import { describe, expect, it } from 'vitest';
import { GpulinkError } from './errors.js';
import { fitMethods, type JobOptions, type JobTask, splitJobOptions } from './job-options.js';
import { fromJobSpec, toJobSpec } from './job-spec.js';

type Task = Exclude<JobTask, { type: 'unknown' }>;

function wire(task: Task, options: JobOptions = {}): unknown {
  const spec = toJobSpec(task, options);
  const decoded = JobSpec.decode(JobSpec.encode(spec).finish());
  expect(decoded).toEqual(spec);
  return JobSpec.toJSON(spec);
}

function refusal(task: Task): GpulinkError {
  try {
    toJobSpec(task, {});
  } catch (e) {
    expect(e).toBeInstanceOf(GpulinkError);
    return e as GpulinkError;
  }
  throw new Error('toJobSpec accepted it');
}

describe('toJobSpec', () => {
  it('sends only what the caller set, leaving every default to the agent', () => {
    expect(wire({ type: 'vision', data: { fastaiUrl: 'MNIST_SAMPLE' } })).toEqual({
      vision: { data: { fastaiUrl: 'MNIST_SAMPLE' } },
    });
    expect(wire({ type: 'tabular', data: { datasetId: 'd' }, csvPath: 't.csv', target: 'y' })).toEqual({
      tabular: { data: { datasetId: 'd' }, csvPath: 't.csv', target: 'y' },
    });
  });

  it("names every fit method of the contract, and only those, as the Learner's method", () => {
    const contract = Object.entries(FitMethod).filter(
      ([key, value]) => typeof value === 'number' && key.startsWith('FIT_METHOD_') && value !== 0,
    );
    expect(
      fitMethods.map((m) => FitMethod[`FIT_METHOD_${m.toUpperCase()}` as keyof typeof FitMethod]),
    ).toEqual(contract.map(([, value]) => value));
    for (const fitMethod of fitMethods) {
      const json = wire({ type: 'vision', data: { datasetId: 'd' }, fitMethod }) as { vision: object };
      expect(json.vision).toEqual({
        data: { datasetId: 'd' },
        fitMethod: `FIT_METHOD_${fitMethod.toUpperCase()}`,
      });
    }
  });

  it('maps every vision option and the common job options', () => {
    const json = wire(
      {
        type: 'vision',
        data: { datasetId: 'ds_1', subdir: 'images' },
        labels: { fileNameRegex: '^(.*)_\\d+\\.jpg$' },
        arch: 'resnet34',
        pretrained: false,
        imageSize: 128,
        batchSize: 32,
        validPct: 0.1,
        seed: 7,
        epochs: 3,
        lr: 'find',
        fitMethod: 'fine_tune',
        freezeEpochs: 2,
        metrics: ['accuracy', 'error_rate'],
        fp16: true,
      },
      {
        name: 'pets',
        tags: ['a', 'b'],
        gpus: 0,
        maxDurationMs: 60_000,
        stallWarningMs: 5_000,
        checkpoint: true,
      },
    );
    expect(json).toEqual({
      name: 'pets',
      tags: ['a', 'b'],
      gpuCount: 0,
      timeoutMs: 60000,
      stallWarningMs: 5000,
      checkpoint: { everyEpoch: true },
      vision: {
        data: { datasetId: 'ds_1', subdir: 'images' },
        labels: { fileNameRegex: { pattern: '^(.*)_\\d+\\.jpg$' } },
        arch: 'resnet34',
        pretrained: false,
        imageSize: 128,
        batchSize: 32,
        validPct: 0.1,
        seed: 7,
        epochs: 3,
        lr: { find: true },
        fitMethod: 'FIT_METHOD_FINE_TUNE',
        freezeEpochs: 2,
        metrics: ['accuracy', 'error_rate'],
        fp16: true,
      },
    });
  });

  it('maps CSV and folder labels', () => {
    const csv = wire({
      type: 'vision',
      data: { agentPath: '/data/x' },
      labels: { csv: { path: 'labels.csv', labelColumn: 'y', validColumn: 'is_valid' } },
      lr: 0.003,
    }) as { vision: Record<string, unknown> };
    expect(csv.vision.labels).toEqual({
      csv: { csvPath: 'labels.csv', labelColumn: 'y', validColumn: 'is_valid' },
    });
    expect(csv.vision.lr).toEqual({ fixed: 0.003 });
    const folder = wire({
      type: 'vision',
      data: { url: 'https://example.com/x.tgz' },
      labels: { folder: { trainDir: 'train', validDir: 'valid' } },
    }) as { vision: Record<string, unknown> };
    expect(folder.vision.labels).toEqual({ folder: { trainDir: 'train', validDir: 'valid' } });
  });

  it('maps tabular options', () => {
    expect(
      wire({
        type: 'tabular',
        data: { datasetId: 'ds_2' },
        csvPath: 'adult.csv',
        target: 'salary',
        categoricalColumns: ['workclass'],
        continuousColumns: ['age'],
        procs: ['categorify', 'normalize'],
        layers: [100, 50],
        fitMethod: 'fit',
        regression: true,
        epochs: 2,
      }),
    ).toEqual({
      tabular: {
        data: { datasetId: 'ds_2' },
        csvPath: 'adult.csv',
        target: 'salary',
        categoricalColumns: ['workclass'],
        continuousColumns: ['age'],
        procs: ['TABULAR_PROC_CATEGORIFY', 'TABULAR_PROC_NORMALIZE'],
        layers: [100, 50],
        epochs: 2,
        fitMethod: 'FIT_METHOD_FIT',
        regression: true,
      },
    });
  });

  it('maps lrFind, runScript and predict', () => {
    expect(
      wire({
        type: 'lrFind',
        tabular: { data: { datasetId: 'ds_2' }, csvPath: 't.csv', target: 'y' },
        startLr: 1e-6,
        endLr: 1,
        iterations: 50,
      }),
    ).toEqual({
      lrFind: {
        tabular: { data: { datasetId: 'ds_2' }, csvPath: 't.csv', target: 'y' },
        startLr: 1e-6,
        endLr: 1,
        numIterations: 50,
      },
    });
    expect(
      wire({
        type: 'script',
        workspace: { datasetId: 'ds_ws' },
        entrypoint: 'train.py',
        args: ['--epochs', '2'],
        env: { SEED: '1' },
        data: { fastaiUrl: 'PETS' },
      }),
    ).toEqual({
      script: {
        workspace: { datasetId: 'ds_ws' },
        entrypoint: 'train.py',
        args: ['--epochs', '2'],
        env: { SEED: '1' },
        data: { fastaiUrl: 'PETS' },
      },
    });
    expect(
      wire({
        type: 'predict',
        model: { jobId: 'job_1', artifact: 'model.pkl' },
        inputs: { datasetId: 'ds_in' },
        inputPaths: ['a.png'],
        topK: 1,
      }),
    ).toEqual({
      predict: {
        modelJobId: 'job_1',
        modelArtifact: 'model.pkl',
        inputs: { datasetId: 'ds_in' },
        inputPaths: ['a.png'],
        topK: 1,
      },
    });
    expect(wire({ type: 'predict', model: 'job_2', inputs: { datasetId: 'd' } })).toEqual({
      predict: { modelJobId: 'job_2', inputs: { datasetId: 'd' } },
    });
  });

  it('refuses what cannot be expressed, naming the option', () => {
    const twoSources = { datasetId: 'a', url: 'b' } as unknown as { datasetId: string };
    expect(refusal({ type: 'vision', data: twoSources }).message).toBe(
      'INVALID_ARGUMENT: vision.data: give only one of datasetId, url',
    );
    expect(refusal({ type: 'vision', data: {} as { datasetId: string } }).message).toMatch(
      /vision\.data: expected one of datasetId, agentPath, url, fastaiUrl/,
    );
    expect(refusal({ type: 'vision', data: { datasetId: 'a' }, lr: -1 }).message).toMatch(
      /vision\.lr: expected a positive number or 'find'/,
    );
    expect(
      refusal({ type: 'tabular', data: { datasetId: 'a' }, csvPath: 'x.csv', target: '' }).message,
    ).toMatch(/tabular\.target/);
    const fineTune = 'fine_tune' as 'fit';
    expect(
      refusal({
        type: 'tabular',
        data: { datasetId: 'a' },
        csvPath: 'x.csv',
        target: 'y',
        fitMethod: fineTune,
      }).message,
    ).toMatch(/fine_tune needs a pretrained model/);
    expect(refusal({ type: 'script', workspace: { datasetId: 'a' }, entrypoint: '' }).message).toMatch(
      /runScript\.entrypoint/,
    );
    expect(refusal({ type: 'predict', model: '', inputs: { datasetId: 'a' } }).message).toMatch(
      /predict\.model/,
    );
  });
});

describe('fromJobSpec', () => {
  it.each<[string, Task]>([
    [
      'vision',
      {
        type: 'vision',
        data: { datasetId: 'ds_1', subdir: 'img' },
        labels: { csv: { path: 'l.csv', fileColumn: 'f' } },
        arch: 'resnet50',
        pretrained: true,
        imageSize: 64,
        epochs: 4,
        lr: 0.01,
        fitMethod: 'fit_one_cycle',
        metrics: ['accuracy'],
      },
    ],
    [
      'tabular',
      {
        type: 'tabular',
        data: { agentPath: '/d' },
        csvPath: 'a.csv',
        target: 'y',
        procs: ['fillMissing'],
        validPct: 0.25,
        seed: 0,
        epochs: 1,
        lr: 'find',
      },
    ],
    [
      'lrFind',
      {
        type: 'lrFind',
        vision: { data: { fastaiUrl: 'MNIST_TINY' }, labels: { folder: {} }, arch: 'resnet18' },
        iterations: 20,
      },
    ],
    ['script', { type: 'script', workspace: { datasetId: 'w' }, entrypoint: 'main.py', env: { A: '1' } }],
    ['predict', { type: 'predict', model: 'job_9', inputs: { url: 'https://x/y.zip' }, topK: 5 }],
  ])('reads back the %s options that were given', (_name, task) => {
    const options: JobOptions = {
      name: 'n',
      tags: ['t'],
      gpus: 1,
      maxDurationMs: 10,
      checkpoint: { keepLast: 2 },
    };
    const back = fromJobSpec(JobSpec.decode(JobSpec.encode(toJobSpec(task, options)).finish()));
    expect(back.task).toEqual(task);
    expect(back.options).toEqual({ ...options, checkpoint: { everyEpoch: true, keepLast: 2 } });
  });

  it('reads a spec without a task as unknown', () => {
    expect(fromJobSpec(JobSpec.fromPartial({ name: 'x' })).task).toEqual({ type: 'unknown' });
  });
});

describe('splitJobOptions', () => {
  it('separates the common job options from the task', () => {
    const { task, job } = splitJobOptions({
      data: { datasetId: 'd' },
      epochs: 2,
      name: 'x',
      idempotencyKey: 'k',
      tags: ['t'],
    });
    expect(task).toEqual({ data: { datasetId: 'd' }, epochs: 2 });
    expect(job).toMatchObject({ name: 'x', idempotencyKey: 'k', tags: ['t'] });
  });
});
