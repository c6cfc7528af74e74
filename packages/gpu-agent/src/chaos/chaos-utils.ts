// Helpers for the chaos and fuzz tests: job specs for script jobs in a folder on the agent's machine,
// a TCP relay the test can cut, and small waits. Everything here drives the real agent.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type JobEvent, JobSpec, JobState } from '@gpulink/proto';
import type { rawClients } from '../test-utils/clients.js';
import { unaryCall } from '../test-utils/clients.js';

export type RawClients = ReturnType<typeof rawClients>;

export const agentPath = (path: string) => ({ source: { $case: 'agentPath' as const, value: path } });

/** Writes `files` (name -> content) into `dir`, creating it. */
export async function writeWorkspace(dir: string, files: Record<string, string>): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

/** A script job on the CPU that runs `entrypoint` from a folder on the agent's machine. */
export function scriptSpec(workspace: string, entrypoint: string, args: string[] = []): JobSpec {
  return JobSpec.fromPartial({
    gpuCount: 0,
    task: { $case: 'script', value: { workspace: agentPath(workspace), entrypoint, args } },
  } as JobSpec);
}

export async function submitJob(c: RawClients, spec: JobSpec): Promise<string> {
  const r = await unaryCall<{ job?: { id: string } }>((cb) =>
    c.jobs.submitJob({ spec, idempotencyKey: '' }, c.metadata(), cb),
  );
  if (!r.job) throw new Error('SubmitJob answered without a job');
  return r.job.id;
}

export const states = (events: JobEvent[]) =>
  events.flatMap((e) => (e.kind?.$case === 'stateChanged' ? [JobState[e.kind.value.state]] : []));

export const logTexts = (events: JobEvent[]) =>
  events.flatMap((e) => (e.kind?.$case === 'log' ? [e.kind.value.text] : []));

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms until it holds or `ms` passed; returns its last answer. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await check()) return true;
  return check();
}

/** A process's memory from /proc/<pid>/status: resident now (VmRSS) and at its peak (VmHWM). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Starts a process's peak (VmHWM) again from its current RSS (Linux: clear_refs 5). */
export function resetPeakMemory(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
