// DeleteDataset on a real agent and worker: refused, changing nothing, while a job that may still run
// reads the dataset (as its workspace or its data); taken once no such job is left.
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { type Dataset, isTerminalJobState, JobSpec, JobState } from '@gpulink/proto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClients, unaryCall } from '../test-utils/clients.js';
import { startTestAgent, type TestAgent } from '../testing.js';

let agent: TestAgent;
let c: ReturnType<typeof rawClients>;

beforeAll(async () => {
  // No warm worker and one job at a time: the second job stays queued behind the first.
  agent = await startTestAgent({ warmWorkers: 0 });
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
});

/** Uploads one file as a dataset through PrepareUpload, UploadBlobs and CommitDataset. */
async function uploadOne(name: string, path: string, text: string): Promise<string> {
  const data = Buffer.from(text);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const files = [{ path, sizeBytes: data.length, sha256 }];
  await unaryCall((cb) => c.data.prepareUpload({ name, files }, c.metadata(), cb));
  await new Promise((resolve, reject) => {
    const s = c.data.uploadBlobs(c.metadata(), (e, r) => (e ? reject(e) : resolve(r)));
    s.write({ sha256, offset: 0, data, sizeBytes: data.length });
    s.end();
  });
  const r = await unaryCall<{ dataset?: Dataset }>((cb) =>
    c.data.commitDataset({ name, files }, c.metadata(), cb),
  );
  return r.dataset?.id as string;
}

const ref = (datasetId: string) => ({ source: { $case: 'datasetId' as const, value: datasetId } });
async function submit(workspaceId: string, dataId?: string): Promise<string> {
  const spec = JobSpec.fromPartial({
    task: {
      $case: 'script',
      value: { workspace: ref(workspaceId), entrypoint: 'slow.py', ...(dataId ? { data: ref(dataId) } : {}) },
    },
  } as JobSpec);
  const r = await unaryCall<{ job?: { id: string } }>((cb) =>
    c.jobs.submitJob({ spec, idempotencyKey: '' }, c.metadata(), cb),
  );
  return r.job?.id as string;
}
const deleteDataset = (datasetId: string) =>
  unaryCall<object>((cb) => c.data.deleteDataset({ datasetId }, c.metadata(), cb));
const cancel = (jobId: string) =>
  unaryCall<object>((cb) => c.jobs.cancelJob({ jobId, reason: 'test' }, c.metadata(), cb));
const stateOf = async (jobId: string) =>
  (await unaryCall<{ job?: { state: JobState } }>((cb) => c.jobs.getJob({ jobId }, c.metadata(), cb))).job
    ?.state;
const datasetIds = async () =>
  (
    await unaryCall<{ datasets: Dataset[] }>((cb) =>
      c.data.listDatasets({ pageSize: 1000, pageToken: '' }, c.metadata(), cb),
    )
  ).datasets.map((d) => d.id);
async function untilEnded(jobId: string): Promise<JobState> {
  for (;;) {
    const state = (await stateOf(jobId)) as JobState;
    if (isTerminalJobState(state)) return state;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('DeleteDataset', () => {
  it('refuses while a running or queued job reads the dataset, and takes it once they have ended', async () => {
    const workspace = await uploadOne(
      'ws',
      'slow.py',
      "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n",
    );
    const data = await uploadOne('data', 'rows.csv', 'a,b\n1,2\n');
    const running = await submit(workspace);
    const queued = await submit(workspace, data);
    expect(await stateOf(queued)).toBe(JobState.JOB_STATE_QUEUED);
    const blobsBefore = await readdir(`${agent.stateDir}/blobs`, { recursive: true });

    // The workspace: read by both jobs (the queued one names them).
    await expect(deleteDataset(workspace)).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringMatching(new RegExp(`${running}.*${queued}|${queued}.*${running}`)),
    });
    // The data: read by the queued job only.
    await expect(deleteDataset(data)).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining(queued),
    });
    expect(await datasetIds()).toEqual(expect.arrayContaining([workspace, data]));
    expect(await readdir(`${agent.stateDir}/blobs`, { recursive: true })).toEqual(blobsBefore);

    await cancel(queued);
    await untilEnded(queued);
    await deleteDataset(data);
    await expect(deleteDataset(workspace)).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
    await cancel(running);
    expect(await untilEnded(running)).toBe(JobState.JOB_STATE_CANCELLED);
    await deleteDataset(workspace);
    expect(await datasetIds()).not.toEqual(expect.arrayContaining([workspace]));
    expect(await datasetIds()).not.toEqual(expect.arrayContaining([data]));
    await expect(deleteDataset(workspace)).rejects.toMatchObject({ code: status.NOT_FOUND });
  }, 180_000);
});
