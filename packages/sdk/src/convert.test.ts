import { ErrorKind, JobEvent, Job as JobProto, JobState, LogStream } from '@gpulink/proto';
import { describe, expect, it } from 'vitest';
import { agentInfo, jobEvent, jobInfo, jobState, jobStateToProto } from './convert.js';
import type { JobEventType, JobState as SdkJobState } from './types.js';

const time = new Date('2026-11-27T08:00:00.000Z');
const sample = {
  time,
  gpus: [
    {
      index: 0,
      uuid: 'GPU-1',
      name: 'Tesla T4',
      memoryTotalBytes: 16e9,
      memoryUsedBytes: 1e9,
      memoryFreeBytes: 15e9,
      utilizationGpuPercent: 87,
      powerDrawWatts: 70.5,
    },
  ],
  host: { memoryTotalBytes: 13e9, memoryAvailableBytes: 10e9, cpuPercent: 12.5, cpuCount: 2 },
  processes: [{ jobId: 'job_1', pid: 42, rssBytes: 2e9, gpuMemoryBytes: 1e9 }],
};

function event(kind: unknown): JobEvent {
  return JobEvent.fromPartial({ seq: 5, time, jobId: 'job_1', attempt: 2, kind } as Partial<JobEvent>);
}

describe('jobEvent', () => {
  it('keeps seq, time, jobId and attempt on every event', () => {
    expect(
      jobEvent(event({ $case: 'log', value: { stream: LogStream.LOG_STREAM_STDERR, text: 'hi' } })),
    ).toEqual({
      seq: 5,
      time,
      jobId: 'job_1',
      attempt: 2,
      type: 'log',
      stream: 'stderr',
      text: 'hi',
    });
  });

  it.each<[JobEventType, unknown, Record<string, unknown>]>([
    [
      'state',
      {
        $case: 'stateChanged',
        value: {
          state: JobState.JOB_STATE_CANCELLED,
          previous: JobState.JOB_STATE_RUNNING,
          reason: 'by user',
        },
      },
      { state: 'cancelled', previous: 'running', reason: 'by user' },
    ],
    [
      'fitStarted',
      {
        $case: 'fitStarted',
        value: {
          nEpoch: 3,
          trainBatches: 10,
          validBatches: 2,
          metricNames: ['accuracy'],
          fitIndex: 1,
          trainItems: 640,
        },
      },
      {
        epochs: 3,
        startEpoch: 0,
        validItems: 0,
        trainBatches: 10,
        validBatches: 2,
        metricNames: ['accuracy'],
        fitIndex: 1,
        trainItems: 640,
      },
    ],
    [
      'batch',
      { $case: 'batch', value: { epoch: 1, iter: 4, nIter: 10, training: false, itemsPerSecond: 300 } },
      {
        fitIndex: 0,
        epoch: 1,
        iter: 4,
        iters: 10,
        phase: 'valid',
        smoothLoss: undefined,
        lr: undefined,
        itemsPerSecond: 300,
      },
    ],
    [
      'epochEnded',
      {
        $case: 'epochEnded',
        value: {
          epoch: 0,
          nEpoch: 2,
          trainLoss: 0.5,
          metrics: [
            { name: 'accuracy', value: 0.9 },
            { name: 'error_rate', value: 0.1 },
          ],
          durationMs: 1200,
          cudaMemory: { allocatedBytes: 1, reservedBytes: 2, peakAllocatedBytes: 3 },
          completedEpochs: 1,
        },
      },
      {
        fitIndex: 0,
        epoch: 0,
        epochs: 2,
        trainLoss: 0.5,
        validLoss: undefined,
        metrics: { accuracy: 0.9, error_rate: 0.1 },
        durationMs: 1200,
        cudaMemory: { allocatedBytes: 1, reservedBytes: 2, peakAllocatedBytes: 3 },
        completedEpochs: 1,
      },
    ],
    [
      'lrFind',
      {
        $case: 'lrFindResult',
        value: { lrs: [1e-5, 1e-3], losses: [2, 1], suggestions: [{ method: 'valley', lr: 1e-3 }] },
      },
      { lrs: [1e-5, 1e-3], losses: [2, 1], suggestions: [{ method: 'valley', lr: 1e-3 }] },
    ],
    [
      'stats',
      { $case: 'stats', value: sample },
      {
        sample: {
          ...sample,
          gpus: [expect.objectContaining({ powerDrawWatts: 70.5, temperatureCelsius: undefined })],
        },
      },
    ],
    [
      'artifact',
      {
        $case: 'artifact',
        value: { name: 'export.pkl', sizeBytes: 10, sha256: 'ab', kind: 'model', createdAt: time },
      },
      { artifact: { name: 'export.pkl', sizeBytes: 10, sha256: 'ab', kind: 'model', createdAt: time } },
    ],
    [
      'interpretation',
      {
        $case: 'interpretation',
        value: {
          classes: ['3', '7'],
          confusionMatrix: [5, 1, 0, 6],
          mostConfused: [{ actual: '3', predicted: '7', count: 1 }],
        },
      },
      {
        classes: ['3', '7'],
        confusionMatrix: [
          [5, 1],
          [0, 6],
        ],
        mostConfused: [{ actual: '3', predicted: '7', count: 1 }],
      },
    ],
    [
      'lrFindProgress',
      { $case: 'lrFindProgress', value: { iter: 12, nIter: 100, lr: 3e-6, smoothLoss: 2.5 } },
      { iter: 12, iters: 100, lr: 3e-6, smoothLoss: 2.5 },
    ],
    [
      'phase',
      { $case: 'phase', value: { description: 'exporting the model' } },
      { description: 'exporting the model' },
    ],
    [
      'warning',
      { $case: 'warning', value: { code: 'stalled', message: 'no progress for 120 s' } },
      { code: 'stalled', message: 'no progress for 120 s', stats: undefined },
    ],
    [
      'error',
      {
        $case: 'error',
        value: {
          kind: ErrorKind.ERROR_KIND_KILLED,
          message: 'killed',
          signal: 'SIGKILL',
          postMortem: { logs: [{ stream: LogStream.LOG_STREAM_AGENT, text: 'oom?' }], stats: [sample] },
        },
      },
      {
        error: expect.objectContaining({
          kind: 'killed',
          message: 'killed',
          signal: 'SIGKILL',
          exceptionType: undefined,
          postMortem: {
            logs: [{ stream: 'agent', text: 'oom?' }],
            stats: [expect.objectContaining({ time })],
          },
        }),
      },
    ],
    [
      'predictions',
      {
        $case: 'predictions',
        value: {
          items: [{ input: 'a.png', label: '3', probability: 0.8, top: [{ name: '3', value: 0.8 }] }],
        },
      },
      {
        predictions: [
          { input: 'a.png', label: '3', probability: 0.8, top: [{ label: '3', probability: 0.8 }] },
        ],
      },
    ],
  ])('maps %s events', (type, kind, fields) => {
    expect(jobEvent(event(kind))).toEqual({ seq: 5, time, jobId: 'job_1', attempt: 2, type, ...fields });
  });

  it('skips kinds and states this SDK does not know', () => {
    expect(jobEvent(event(undefined))).toBeUndefined();
    expect(jobEvent(event({ $case: 'stateChanged', value: { state: 42 } }))).toBeUndefined();
  });
});

describe('job states', () => {
  it('maps every state both ways', () => {
    const states: SdkJobState[] = [
      'queued',
      'starting',
      'running',
      'succeeded',
      'failed',
      'cancelled',
      'interrupted',
    ];
    for (const s of states) expect(jobState(jobStateToProto(s))).toBe(s);
    expect(() => jobState(JobState.JOB_STATE_UNSPECIFIED)).toThrow(/upgrade it/);
  });
});

describe('jobInfo and agentInfo', () => {
  it('maps a job record with its task read back from the spec', () => {
    const info = jobInfo(
      JobProto.fromPartial({
        id: 'job_1',
        spec: {
          name: 'digits',
          tags: ['x'],
          task: {
            $case: 'vision',
            value: { data: { source: { $case: 'datasetId', value: 'ds_1' } }, arch: 'resnet18' },
          },
        },
        state: JobState.JOB_STATE_FAILED,
        createdAt: time,
        lastSeq: 9,
        attempt: 1,
        error: { kind: ErrorKind.ERROR_KIND_DATA, message: 'no images' },
      }),
    );
    expect(info).toMatchObject({
      id: 'job_1',
      name: 'digits',
      tags: ['x'],
      task: { type: 'vision', data: { datasetId: 'ds_1' }, arch: 'resnet18' },
      state: 'failed',
      stateReason: undefined,
      createdAt: time,
      lastSeq: 9,
      error: { kind: 'data', message: 'no images' },
      checkpoint: undefined,
    });
  });

  it('turns empty version strings into undefined', () => {
    const info = agentInfo({
      agentVersion: '0.1.0',
      protocolRevision: 1,
      capabilities: ['task.vision'],
      hostname: 'h',
      platform: 'linux-x64',
      startedAt: time,
      pythonExecutable: '/usr/bin/python3',
      pythonVersion: '3.11.7',
      torchVersion: '',
      fastaiVersion: '',
      cudaVersion: '',
      cudnnVersion: '',
      cudaAvailable: false,
      cudnnEnabled: false,
      gpus: [],
      environmentError: 'torch is not installed',
    });
    expect(info).toMatchObject({
      pythonVersion: '3.11.7',
      torchVersion: undefined,
      environmentError: 'torch is not installed',
    });
  });
});
