import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { JobSpec } from '@gpulink/proto';
import { mainDataRef, resolveRef, type SpecContext } from './job-spec.js';
import type { JobRecord, JobStore } from './job-store.js';

/** The first line the agent writes on a worker's stdin: the job, and where its files are (python/PROTOCOL.md). */
export interface WorkerEnvelope {
  jobId: string;
  attempt: number;
  /** The JobSpec in proto3 canonical JSON. */
  spec: unknown;
  /** The resolved root of the task's main DatasetRef; null when the worker fetches it itself (URLs). */
  dataDir: string | null;
  /** A script task's workspace folder. */
  workspaceDir: string | null;
  artifactsDir: string;
  workDir: string;
  /** "cpu" or "cuda:N". */
  device: string;
  /** A predict task's model export. */
  modelPath: string | null;
  /** The checkpoint a resumed attempt starts from; how far it got is inside it. */
  resume: { checkpoint: string } | null;
  batchEventsPerSecond: number;
}

/**
 * The envelope for one attempt of a job, with every path resolved. Throws when the job cannot run in
 * this worker (a CUDA device it does not see).
 */
export async function buildEnvelope(
  record: JobRecord,
  attempt: number,
  cudaAvailable: boolean,
  store: JobStore,
  ctx: SpecContext,
): Promise<WorkerEnvelope> {
  const spec = record.spec;
  const ref = mainDataRef(spec);
  const dataDir = ref ? ((await resolveRef(ref, 'data', ctx)) ?? null) : null;
  const task = spec.task;
  const workspaceDir =
    task?.$case === 'script' && task.value.workspace
      ? await resolveRef(task.value.workspace, 'workspace', ctx)
      : null;
  let modelPath: string | null = null;
  if (task?.$case === 'predict') {
    modelPath = join(store.artifactsDir(task.value.modelJobId), task.value.modelArtifact || 'export.pkl');
  }
  const workDir = store.workDir(record.id);
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  // The newest checkpoint on disk, whether or not the log names it: the worker writes each one
  // whole (temporary file, then rename) and prunes older ones, so an agent killed just after a
  // checkpoint was written may never have logged it, while the one it logged is gone. How many
  // epochs a checkpoint holds is in the checkpoint itself; the worker reads it from there.
  const checkpoint = attempt > 1 ? await newestCheckpoint(store.artifactsDir(record.id)) : undefined;
  if (record.device.startsWith('cuda') && !cudaAvailable) {
    throw new Error(`the job was placed on ${record.device} but torch in the worker sees no CUDA device`);
  }
  return {
    jobId: record.id,
    attempt,
    spec: JobSpec.toJSON(spec),
    dataDir,
    workspaceDir: workspaceDir ?? null,
    artifactsDir: store.artifactsDir(record.id),
    workDir,
    device: record.device,
    modelPath,
    resume: checkpoint ? { checkpoint } : null,
    batchEventsPerSecond: 10,
  };
}

/** `checkpoints/epoch-<N>.pth` with the highest N under an artifacts folder, if any. */
async function newestCheckpoint(artifactsDir: string): Promise<string | undefined> {
  const folder = join(artifactsDir, 'checkpoints');
  const names = await readdir(folder).catch(() => [] as string[]);
  let best: { n: number; name: string } | undefined;
  for (const name of names) {
    const m = /^epoch-(\d+)\.pth$/.exec(name);
    if (m && (!best || Number(m[1]) > best.n)) best = { n: Number(m[1]), name };
  }
  return best ? join(folder, best.name) : undefined;
}

/** The control line that asks a running worker to stop; the worker's cancel flag is sticky. */
export const cancelMessage = (reason: string): { cancel: { reason: string } } => ({ cancel: { reason } });
