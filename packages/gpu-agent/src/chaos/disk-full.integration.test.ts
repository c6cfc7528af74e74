// The agent's state dir on a tiny filesystem that fills up: an upload larger than the free space is
// refused before any of it is kept, writes that run out of space fail with RESOURCE_EXHAUSTED and a
// clear message, nothing half-written is left, what was there stays intact and readable, and once
// space is freed the same upload resumes and jobs are accepted again.
//
// The filesystem is a 4 MiB tmpfs mounted for the test, which needs root (CAP_SYS_ADMIN). Where it
// cannot be mounted the test is skipped and says why; there is no honest stand-in for ENOSPC.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { JobEvent, JobState } from '@gpulink/proto';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectEvents, rawClients, unaryCall } from '../test-utils/clients.js';
import { startTestAgent, type TestAgent } from '../testing.js';
import { type RawClients, scriptSpec, states, submitJob, writeWorkspace } from './chaos-utils.js';

const KiB = 1024;

function tryMountTmpfs(dir: string, size: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed: ${(error as Error).message.split('\n')[0]}`;
  }
}

const root = await mkdtemp(join(tmpdir(), 'gpulink-chaos-diskfull-'));
const mountDir = join(root, 'tiny');
await mkdir(mountDir);
const cannotMount = tryMountTmpfs(mountDir, '4m');
if (cannotMount) process.stderr.write(`disk-full chaos test skipped: ${cannotMount}\n`);

let agent: TestAgent | undefined;
let c: RawClients;
let ws: string;

beforeAll(async () => {
  if (cannotMount) return;
  ws = await writeWorkspace(join(root, 'ws'), {
    'hello.py': 'print("written before the disk filled")\n',
    'chatty.py':
      'import time\nfor i in range(3000):\n    print(f"line {i} " + "x" * 100, flush=True)\n    time.sleep(0.002)\n',
  });
  // A job's log waits 4 s for space when the disk fills (30 s by default), so both a disk full for a
  // moment (the log waits) and one that stays full (the job is stopped) fit in a test.
  agent = await startTestAgent({
    warmWorkers: 1,
    stateDir: join(mountDir, 'state'),
    extraArgs: ['--full-disk-wait-s', '4'],
  });
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  if (!cannotMount) execFileSync('umount', [mountDir]);
  await rm(root, { recursive: true, force: true });
});

/** Fills the filesystem to within `leave` bytes with a file of the test's own; returns its path. */
async function fillDisk(leave: number): Promise<string> {
  const filler = join(mountDir, 'filler');
  const free = Number(
    execFileSync('df', ['-B1', '--output=avail', mountDir], { encoding: 'utf8' }).split('\n')[1],
  );
  await writeFile(filler, Buffer.alloc(Math.max(0, free - leave)));
  return filler;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function uploadChunks(chunks: Array<{ sha256: string; offset: number; data: Buffer; sizeBytes: number }>) {
  return new Promise<{ completedSha256: string[] }>((resolve, reject) => {
    const s = c.data.uploadBlobs(c.metadata(), (e, r) =>
      e ? reject(e) : resolve(r as { completedSha256: string[] }),
    );
    for (const chunk of chunks) s.write(chunk);
    s.end();
  });
}

function chunksOf(data: Buffer, size: number, from = 0) {
  const out = [];
  for (let offset = from; offset < data.length; offset += size)
    out.push({
      sha256: sha256(data),
      offset,
      data: data.subarray(offset, offset + size),
      sizeBytes: data.length,
    });
  return out;
}

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  const error = await p.then(
    () => undefined,
    (e: ServiceError) => e,
  );
  if (!error) throw new Error('the call succeeded on a full disk');
  return error;
}

/** Every file under `dir`, relative, with its size. */
async function tree(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(relative(dir, path), (await stat(path)).size);
  }
  return out;
}

describe.skipIf(cannotMount !== undefined)('a state dir on a filesystem that fills up', () => {
  let jobId: string;
  let datasetId: string;
  let datasetFile: Buffer;
  let filler: string;
  const big = Buffer.alloc(1024 * KiB, 7);
  let before: Map<string, number>;
  let uploadError: ServiceError | undefined;

  beforeAll(async () => {
    const a = agent as TestAgent;
    // Something to read back later: a finished job and a committed dataset.
    jobId = await submitJob(c, scriptSpec(ws, 'hello.py'));
    expect(states(await collectEvents(c, jobId)).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    datasetFile = Buffer.from('a small file committed before the disk filled\n');
    const files = [{ path: 'notes/a.txt', sizeBytes: datasetFile.length, sha256: sha256(datasetFile) }];
    await uploadChunks(chunksOf(datasetFile, 64 * KiB));
    const committed = await unaryCall<{ dataset?: { id: string } }>((cb) =>
      c.data.commitDataset({ name: 'before', files }, c.metadata(), cb),
    );
    datasetId = committed.dataset?.id as string;
    // Fill the filesystem to within a few KiB with a file of our own.
    filler = join(mountDir, 'filler');
    const free = Number(
      execFileSync('df', ['-B1', '--output=avail', mountDir], { encoding: 'utf8' }).split('\n')[1],
    );
    await writeFile(filler, Buffer.alloc(Math.max(0, free - 8 * KiB)));
    before = await tree(a.stateDir);
  });

  it('refuses an upload larger than the free space before keeping any of it', async () => {
    const error = await failure(uploadChunks(chunksOf(big, 64 * KiB)));
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error.details).toMatch(/has \d+ bytes free/);
    await expect(
      stat(join((agent as TestAgent).stateDir, 'uploads', `${sha256(big)}.part`)),
    ).rejects.toThrow();
  });

  it('refuses an upload that runs out of space midway, keeping only what landed', async () => {
    // Room for it when it starts; the disk fills once its first chunks are in.
    const avail = () =>
      Number(execFileSync('df', ['-B1', '--output=avail', mountDir], { encoding: 'utf8' }).split('\n')[1]);
    await truncate(filler, Math.max(0, (await stat(filler)).size - (big.length + 64 * KiB - avail())));
    const part = join((agent as TestAgent).stateDir, 'uploads', `${sha256(big)}.part`);
    const chunks = chunksOf(big, 64 * KiB);
    uploadError = await failure(
      new Promise((resolve, reject) => {
        const s = c.data.uploadBlobs(c.metadata(), (e, r) => (e ? reject(e) : resolve(r)));
        for (const chunk of chunks.slice(0, 2)) s.write(chunk);
        void (async () => {
          for (let i = 0; i < 100 && ((await stat(part).catch(() => undefined))?.size ?? 0) < 128 * KiB; i++)
            await new Promise((r) => setTimeout(r, 50));
          await appendFile(filler, Buffer.alloc(Math.max(0, avail() - 4 * KiB)));
          for (const chunk of chunks.slice(2)) s.write(chunk);
          s.end();
        })();
      }),
    );
    const kept = await readFile(part);
    expect(kept.length).toBeGreaterThanOrEqual(128 * KiB);
    expect(kept.length).toBeLessThan(big.length);
    expect(kept.equals(big.subarray(0, kept.length))).toBe(true);
  });

  it('says so with RESOURCE_EXHAUSTED: the state dir is full', () => {
    expect(uploadError?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(uploadError?.details).toMatch(/full/i);
  });

  it('refuses a new job with RESOURCE_EXHAUSTED and leaves no trace of it', async () => {
    const a = agent as TestAgent;
    const jobsBefore = await readdir(join(a.stateDir, 'jobs'));
    const error = await failure(submitJob(c, scriptSpec(ws, 'hello.py')));
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(await readdir(join(a.stateDir, 'jobs'))).toEqual(jobsBefore);
    const listed = await unaryCall<{ jobs: Array<{ id: string }> }>((cb) =>
      c.jobs.listJobs({ pageSize: 100, pageToken: '', states: [], tags: [] }, c.metadata(), cb),
    );
    expect(listed.jobs.map((j) => j.id)).toEqual([jobId]);
  });

  it('leaves no stray temporary files and changes nothing that was there', async () => {
    const a = agent as TestAgent;
    const after = await tree(a.stateDir);
    const stray = [...after.keys()].filter((p) => p.endsWith('.tmp') || p.includes('.staging-'));
    expect(stray).toEqual([]);
    // Only the partial upload may have grown; every other file is as it was.
    for (const [path, size] of before) if (!path.startsWith('uploads/')) expect(after.get(path)).toBe(size);
    for (const path of after.keys())
      if (!before.has(path)) expect(path).toMatch(/^uploads\/[0-9a-f]{64}\.part$/);
  });

  it('still serves reads: job, its log, datasets, agent info', async () => {
    const a = agent as TestAgent;
    const events = await collectEvents(c, jobId, { replayOnly: true });
    expect(states(events).at(-1)).toBe('JOB_STATE_SUCCEEDED');
    // The log on disk parses line by line, every line an event.
    const lines = (await readFile(join(a.stateDir, 'jobs', jobId, 'events.ndjson'), 'utf8'))
      .trim()
      .split('\n');
    expect(lines.map((l) => JobEvent.fromJSON(JSON.parse(l)).seq)).toEqual(events.map((e) => e.seq));
    const datasets = await unaryCall<{ datasets: Array<{ id: string }> }>((cb) =>
      c.data.listDatasets({ pageSize: 10, pageToken: '' }, c.metadata(), cb),
    );
    expect(datasets.datasets.map((d) => d.id)).toEqual([datasetId]);
    expect(await readFile(join(a.stateDir, 'datasets', datasetId, 'files', 'notes', 'a.txt'))).toEqual(
      datasetFile,
    );
    const info = await unaryCall<{ info?: { agentVersion: string } }>((cb) =>
      c.agent.getInfo({}, c.metadata(), cb),
    );
    expect(info.info?.agentVersion).toBeTruthy();
  });

  it('resumes the upload and accepts jobs once space is freed', async () => {
    await rm(filler);
    const files = [{ path: 'big.bin', sizeBytes: big.length, sha256: sha256(big) }];
    const plan = await unaryCall<{ missing: Array<{ sha256: string; receivedBytes: number }> }>((cb) =>
      c.data.prepareUpload({ name: 'after', files }, c.metadata(), cb),
    );
    const received = plan.missing[0]?.receivedBytes ?? -1;
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(big.length);
    const done = await uploadChunks(chunksOf(big, 64 * KiB, received));
    expect(done.completedSha256).toEqual([sha256(big)]);
    await unaryCall((cb) => c.data.commitDataset({ name: 'after', files }, c.metadata(), cb));
    const next = await submitJob(c, scriptSpec(ws, 'hello.py'));
    expect(states(await collectEvents(c, next)).at(-1)).toBe('JOB_STATE_SUCCEEDED');
  });
});

describe.skipIf(cannotMount !== undefined)('a running job whose log fills the disk for a moment', () => {
  let jobId: string;
  let watched: JobEvent[];
  let lines: string[];

  beforeAll(async () => {
    jobId = await submitJob(c, scriptSpec(ws, 'chatty.py'));
    let filled = false;
    // Full for 1.5 s while the job prints, then free again: the log's appends fail, then succeed.
    watched = await collectEvents(c, jobId, {
      onEvent: (e) => {
        if (filled || e.kind?.$case !== 'log' || !e.kind.value.text.startsWith('line 200 ')) return;
        filled = true;
        fillDisk(4 * KiB).then(
          (filler) => setTimeout(() => rm(filler).catch(() => undefined), 1_500),
          () => undefined,
        );
      },
    });
    lines = (await readFile(join((agent as TestAgent).stateDir, 'jobs', jobId, 'events.ndjson'), 'utf8'))
      .split('\n')
      .filter(Boolean);
  });

  it('ends the job and its watchers', () => {
    expect(states(watched).at(-1)).toMatch(/SUCCEEDED|FAILED/);
  });

  it('keeps a log that parses line by line with dense seqs, every line of output in it', () => {
    const events = lines.map((l) => JobEvent.fromJSON(JSON.parse(l)));
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    const printed = events.filter((e) => e.kind?.$case === 'log' && /^line \d+ /.test(e.kind.value.text));
    expect(printed).toHaveLength(3000);
    expect(watched.map((e) => e.seq)).toEqual(events.map((e) => e.seq));
  });

  it('still knows the job after a restart', async () => {
    const a = agent as TestAgent;
    c.close();
    await a.stop();
    await a.restart();
    c = rawClients(a.port, a.token);
    const got = await unaryCall<{ job?: { id: string } }>((cb) => c.jobs.getJob({ jobId }, c.metadata(), cb));
    expect(got.job?.id).toBe(jobId);
  });
});

describe.skipIf(cannotMount !== undefined)('a running job whose disk stays full', () => {
  let jobId: string;
  let filling: Promise<string> | undefined;
  let watchError: ServiceError | undefined;
  let seen = 0;

  beforeAll(async () => {
    jobId = await submitJob(c, scriptSpec(ws, 'chatty.py'));
    watchError = await failure(
      collectEvents(c, jobId, {
        onEvent: (e) => {
          seen++;
          if (filling || e.kind?.$case !== 'log' || !e.kind.value.text.startsWith('line 200 ')) return;
          filling = fillDisk(4 * KiB);
        },
      }),
    );
  });
  afterAll(async () => {
    if (filling) await rm(await filling, { force: true });
  });

  it('stops the job once its log has waited for space, and ends its watchers with RESOURCE_EXHAUSTED', async () => {
    expect(watchError?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(watchError?.details).toMatch(/event log could not be written/);
    const got = await unaryCall<{ job?: { state: JobState; stateReason: string } }>((cb) =>
      c.jobs.getJob({ jobId }, c.metadata(), cb),
    );
    expect(got.job?.state).toBe(JobState.JOB_STATE_FAILED);
    expect(got.job?.stateReason).toMatch(/event log could not be written/);
  });

  it('leaves no worker behind and keeps serving: once there is space, the next job runs', async () => {
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toMatch(/chatty\.py/);
    await rm(await (filling as Promise<string>));
    const next = await submitJob(c, scriptSpec(ws, 'hello.py'));
    expect(states(await collectEvents(c, next)).at(-1)).toBe('JOB_STATE_SUCCEEDED');
  });

  it('keeps whole lines with dense seqs on disk, and the job is INTERRUPTED after a restart', async () => {
    const a = agent as TestAgent;
    const text = await readFile(join(a.stateDir, 'jobs', jobId, 'events.ndjson'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const onDisk = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JobEvent.fromJSON(JSON.parse(l)));
    expect(onDisk.map((e) => e.seq)).toEqual(onDisk.map((_e, i) => i + 1));
    // Watchers get only what is on disk: nothing a client saw is lost.
    expect(seen).toBeLessThanOrEqual(onDisk.length);
    c.close();
    await a.stop();
    await a.restart();
    c = rawClients(a.port, a.token);
    const events = await collectEvents(c, jobId, { replayOnly: true });
    expect(states(events).at(-1)).toBe('JOB_STATE_INTERRUPTED');
  });
});
