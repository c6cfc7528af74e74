// DeleteJob on a real agent and worker: refused while a job may run, all or nothing once it may not.
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobSpec, JobState } from '@gpulink/proto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectEvents, rawClients, unaryCall } from '../test-utils/clients.js';
import { startTestAgent, type TestAgent } from '../testing.js';

let agent: TestAgent;
let c: ReturnType<typeof rawClients>;
let workspace: string;

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'gpulink-delete-job-'));
  await writeFile(
    join(workspace, 'done.py'),
    "import os\nopen(os.path.join(os.environ['GPULINK_ARTIFACTS'], 'notes.txt'), 'w').write('kept')\nprint('done')\n",
  );
  await writeFile(
    join(workspace, 'slow.py'),
    "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n",
  );
  agent = await startTestAgent({ warmWorkers: 1 });
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  if (workspace) await rm(workspace, { recursive: true, force: true });
});

async function submitScript(entrypoint: string): Promise<string> {
  const spec = JobSpec.fromPartial({
    task: {
      $case: 'script',
      value: { workspace: { source: { $case: 'agentPath', value: workspace } }, entrypoint },
    },
  } as JobSpec);
  const r = await unaryCall<{ job?: { id: string } }>((cb) =>
    c.jobs.submitJob({ spec, idempotencyKey: '' }, c.metadata(), cb),
  );
  return r.job?.id as string;
}
const deleteJob = (jobId: string) => unaryCall<object>((cb) => c.jobs.deleteJob({ jobId }, c.metadata(), cb));
const getJob = (jobId: string) =>
  unaryCall<{ job?: { state: JobState; artifacts: Array<{ name: string }> } }>((cb) =>
    c.jobs.getJob({ jobId }, c.metadata(), cb),
  ).then((r) => r.job);
const listIds = () =>
  unaryCall<{ jobs: Array<{ id: string }> }>((cb) =>
    c.jobs.listJobs({ pageSize: 100, pageToken: '', states: [], tags: [] }, c.metadata(), cb),
  ).then((r) => r.jobs.map((j) => j.id));
const jobsDir = () => join(agent.stateDir, 'jobs');

async function untilState(jobId: string, wanted: JobState): Promise<void> {
  for (;;) {
    if ((await getJob(jobId))?.state === wanted) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('DeleteJob', () => {
  it('removes a finished job: its record, log and artifacts, and it stays gone after a restart', async () => {
    const id = await submitScript('done.py');
    await collectEvents(c, id);
    const before = await getJob(id);
    expect(before?.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(before?.artifacts.map((a) => a.name)).toContain('notes.txt');
    await expect(stat(join(jobsDir(), id, 'artifacts', 'notes.txt'))).resolves.toBeTruthy();

    await deleteJob(id);

    expect(await readdir(jobsDir())).not.toContain(id);
    expect((await readdir(jobsDir())).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(await listIds()).not.toContain(id);
    await expect(getJob(id)).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(collectEvents(c, id, { replayOnly: true })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });

    await agent.stop({ keepState: true });
    await agent.restart();
    c.close();
    c = rawClients(agent.port, agent.token);
    expect(await listIds()).not.toContain(id);
  });

  it('says NOT_FOUND for an unknown id', async () => {
    await expect(deleteJob('job_nope')).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: expect.stringContaining('job_nope'),
    });
  });

  it('refuses a running job with FAILED_PRECONDITION naming its state and cancel, keeping all of it', async () => {
    const id = await submitScript('slow.py');
    await untilState(id, JobState.JOB_STATE_RUNNING);
    const refused = await deleteJob(id).catch((e: { code: number; details: string }) => e);
    expect(refused).toMatchObject({ code: status.FAILED_PRECONDITION });
    expect((refused as { details: string }).details).toContain('JOB_STATE_RUNNING');
    expect((refused as { details: string }).details).toContain('cancel');
    expect((await getJob(id))?.state).toBe(JobState.JOB_STATE_RUNNING);
    expect(await readdir(join(jobsDir(), id))).toEqual(expect.arrayContaining(['job.json', 'events.ndjson']));

    // A queued job behind it is refused the same way.
    const queued = await submitScript('slow.py');
    expect((await getJob(queued))?.state).toBe(JobState.JOB_STATE_QUEUED);
    await expect(deleteJob(queued)).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining('JOB_STATE_QUEUED'),
    });

    for (const j of [queued, id])
      await unaryCall((cb) => c.jobs.cancelJob({ jobId: j, reason: 'test' }, c.metadata(), cb));
    await untilState(id, JobState.JOB_STATE_CANCELLED);
    await deleteJob(id);
    await deleteJob(queued);
    expect(await listIds()).not.toEqual(expect.arrayContaining([id]));
  });

  it('clears a removal that a crash cut short at the next start, loading no half job', async () => {
    const leftover = join(jobsDir(), '.removing-job_crashed-0000');
    await mkdir(join(leftover, 'artifacts'), { recursive: true });
    await writeFile(join(leftover, 'events.ndjson'), '');
    await agent.stop({ keepState: true });
    await agent.restart();
    c.close();
    c = rawClients(agent.port, agent.token);
    expect(await readdir(jobsDir())).not.toContain('.removing-job_crashed-0000');
    expect(agent.stderr()).not.toContain('skipping job folder');
  });
});
