import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkerEnvelope } from '@gpulink/proto';
import { contractType, validateJson } from '../rpc/contract.js';
import { mainDataRef, resolveRef, type SpecContext } from './job-spec.js';
import type { JobRecord, JobStore } from './job-store.js';
import { resolveSpec } from './resolve-spec.js';

/**
 * The first line the agent writes on a worker's stdin: WorkerEnvelope (proto/gpulink/v1/worker.proto)
 * in proto3 canonical JSON, the form python/PROTOCOL.md describes.
 */
export type WorkerEnvelopeJson = Record<string, unknown>;

const ENVELOPE_TYPE = contractType('WorkerEnvelope');

/** Where an attempt runs: the GPUs the device queues gave it, and whether its worker sees CUDA. */
export interface RunPlacement {
  gpus: number[];
  cudaAvailable: boolean;
}

/**
 * The envelope for one attempt of a job, with every path and every default of its spec resolved.
 * Throws when the job cannot run in this worker (a CUDA device it does not see).
 */
export async function buildEnvelope(
  record: JobRecord,
  attempt: number,
  placement: RunPlacement,
  store: JobStore,
  ctx: SpecContext,
): Promise<WorkerEnvelopeJson> {
  const spec = resolveSpec(record.spec, record.device);
  const ref = mainDataRef(spec);
  const dataDir = ref ? await resolveRef(ref, 'data', ctx) : undefined;
  const task = spec.task;
  const workspaceDir =
    task?.$case === 'script' && task.value.workspace
      ? await resolveRef(task.value.workspace, 'workspace', ctx)
      : undefined;
  const modelPath =
    task?.$case === 'predict'
      ? join(store.artifactsDir(task.value.modelJobId), task.value.modelArtifact)
      : undefined;
  const workDir = store.workDir(record.id);
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  // The newest checkpoint on disk, whether or not the log names it: the worker writes each one
  // whole (temporary file, then rename) and prunes older ones, so an agent killed just after a
  // checkpoint was written may never have logged it, while the one it logged is gone. How many
  // epochs a checkpoint holds is in the checkpoint itself; the worker reads it from there.
  const checkpoint = attempt > 1 ? await newestCheckpoint(store.artifactsDir(record.id)) : undefined;
  const { gpus } = placement;
  // The stand-in GPUs of tests are CPU processes: one rank per stand-in GPU, on gloo.
  const standIn = gpus.length > 0 && !placement.cudaAvailable && ctx.gpuStandIn === true;
  if (gpus.length > 0 && !placement.cudaAvailable && !standIn) {
    throw new Error(
      `the job was placed on GPU ${gpus.join(', ')} but torch in the worker sees no CUDA device`,
    );
  }
  const envelope: WorkerEnvelope = {
    jobId: record.id,
    attempt,
    spec,
    dataDir,
    workspaceDir,
    artifactsDir: store.artifactsDir(record.id),
    workDir,
    device: gpus.length === 0 || standIn ? 'cpu' : `cuda:${gpus[0]}`,
    gpus: gpus.length > 1 && !standIn ? gpus : [],
    processes: gpus.length > 1 ? gpus.length : 0,
    modelPath,
    resume: checkpoint ? { checkpoint } : undefined,
    batchEventsPerSecond: 10,
  };
  const json = WorkerEnvelope.toJSON(envelope) as WorkerEnvelopeJson;
  // ts-proto's JSON writer is lenient; the contract's reflection holds the line to worker.proto.
  const problem = validateJson(ENVELOPE_TYPE, json, 'envelope');
  if (problem) throw new Error(`the worker envelope does not match worker.proto: ${problem}`);
  return json;
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
