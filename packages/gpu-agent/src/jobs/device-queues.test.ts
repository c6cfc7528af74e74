import { describe, expect, it } from 'vitest';
import { DeviceQueues, deviceNeed } from './device-queues.js';

const gpus = (count: number) => ({ kind: 'gpus', count }) as const;

describe('DeviceQueues', () => {
  it('gives a job of N GPUs N free ones, and queues it until they are free', () => {
    const q = new DeviceQueues(() => 4);
    q.add('a', gpus(1));
    q.add('b', gpus(2));
    expect(q.place()).toEqual([
      { id: 'a', gpus: [0] },
      { id: 'b', gpus: [1, 2] },
    ]);
    q.add('c', gpus(2));
    expect(q.place()).toEqual([]); // one GPU free, two asked for
    expect(q.position('c')).toBe(2);
    q.remove('a');
    expect(q.place()).toEqual([{ id: 'c', gpus: [0, 3] }]);
  });

  it('lets no smaller job overtake one that waits for its GPUs', () => {
    const q = new DeviceQueues(() => 2);
    q.add('running', gpus(1));
    q.add('wide', gpus(2));
    q.add('small', gpus(1));
    expect(q.place()).toEqual([{ id: 'running', gpus: [0] }]);
    q.remove('running');
    expect(q.place()).toEqual([{ id: 'wide', gpus: [0, 1] }]);
  });

  it('runs one CPU job at a time beside the GPU jobs', () => {
    const q = new DeviceQueues(() => 1);
    q.add('cpu1', { kind: 'cpu' });
    q.add('cpu2', { kind: 'cpu' });
    q.add('gpu', gpus(1));
    expect(q.place().map((p) => p.id)).toEqual(['cpu1', 'gpu']);
    expect(q.position('cpu2')).toBe(1);
    q.remove('cpu1');
    expect(q.place()).toEqual([{ id: 'cpu2', gpus: [] }]);
  });

  it('reads records of before several GPUs ("cuda:0") as one GPU', () => {
    expect(deviceNeed('cuda:0', undefined)).toEqual(gpus(1));
    expect(deviceNeed('cuda', 3)).toEqual(gpus(3));
    expect(deviceNeed('cpu', undefined)).toEqual({ kind: 'cpu' });
  });
});
