import { readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { type Job, JobEvent, JobSpec, JobState } from '@gpulink/proto';
import { writeFileAtomic } from '../state/state-dir.js';
import { EventLog, type EventLogOptions } from './event-log.js';
import { applyEvent } from './job-state.js';
import { resolveSpec } from './resolve-spec.js';

/** What job.json holds: what the log cannot tell. Everything else is derived from events.ndjson. */
export interface JobRecord {
  id: string;
  spec: JobSpec;
  createdAt: Date;
  device: string;
  idempotencyKey: string;
  /** Process group of the worker while one runs, so a restarted agent can kill what is left. */
  workerPid?: number | undefined;
}

interface StoredRecord {
  id: string;
  spec: unknown;
  createdAt: string;
  device: string;
  idempotencyKey: string;
  workerPid?: number | undefined;
}

/**
 * Job records and their append-only event logs, one folder per job:
 * `jobs/<id>/job.json`, `jobs/<id>/events.ndjson` (one JobEvent per line, canonical JSON),
 * `jobs/<id>/artifacts/`, `jobs/<id>/work/`.
 */
export class JobStore {
  readonly #dir: string;
  readonly #logOptions: EventLogOptions;
  readonly #logs = new Map<string, EventLog>();

  constructor(jobsDir: string, logOptions: EventLogOptions = {}) {
    this.#dir = jobsDir;
    this.#logOptions = logOptions;
  }

  jobDir(id: string): string {
    return join(this.#dir, id);
  }
  artifactsDir(id: string): string {
    return join(this.#dir, id, 'artifacts');
  }
  workDir(id: string): string {
    return join(this.#dir, id, 'work');
  }

  async saveRecord(record: JobRecord): Promise<void> {
    const stored: StoredRecord = {
      ...record,
      spec: JobSpec.toJSON(record.spec),
      createdAt: record.createdAt.toISOString(),
    };
    await writeFileAtomic(join(this.jobDir(record.id), 'job.json'), `${JSON.stringify(stored, null, 2)}\n`);
  }

  /** Every job on disk with its summary rebuilt from its log. Unreadable folders are reported, not fatal. */
  async loadAll(onProblem: (message: string) => void): Promise<Array<{ record: JobRecord; job: Job }>> {
    const out: Array<{ record: JobRecord; job: Job }> = [];
    for (const id of await readdir(this.#dir)) {
      try {
        const stored = JSON.parse(await readFile(join(this.jobDir(id), 'job.json'), 'utf8')) as StoredRecord;
        const record: JobRecord = {
          ...stored,
          spec: JobSpec.fromJSON(stored.spec),
          createdAt: new Date(stored.createdAt),
        };
        const job = newJobSummary(record);
        for (const event of await this.readEvents(id, 0)) applyEvent(job, event);
        out.push({ record, job });
      } catch (error) {
        onProblem(`skipping job folder ${id}: ${(error as Error).message}`);
      }
    }
    return out;
  }

  /**
   * Appends one event to its job's log (see EventLog: group commit, whole lines in order, retried
   * while the disk is full). Settles when the line is handed to the OS; a rejection means this and
   * every later append to the log failed, and the file ends with the last event that did not.
   */
  append(event: JobEvent): Promise<void> {
    let log = this.#logs.get(event.jobId);
    if (!log) {
      log = new EventLog(join(this.jobDir(event.jobId), 'events.ndjson'), this.#logOptions);
      this.#logs.set(event.jobId, log);
    }
    return log.append(`${JSON.stringify(JobEvent.toJSON(event))}\n`);
  }

  /** Characters appended to a job's log and not yet written (a slow or full disk). */
  backlog(jobId: string): number {
    return this.#logs.get(jobId)?.backlogChars ?? 0;
  }

  /** Settles when everything appended to a job's log so far is written (or failed). */
  async drained(jobId: string): Promise<void> {
    await this.#logs.get(jobId)?.drained();
  }

  /** Waits for pending appends, syncs the log to disk and closes it (after a terminal event). */
  async closeLog(jobId: string): Promise<void> {
    const log = this.#logs.get(jobId);
    if (!log) return;
    this.#logs.delete(jobId);
    await log.close();
  }

  /** Events with seq > afterSeq, from the log on disk. A torn last line (a crash mid-write) is dropped and cut off. */
  async readEvents(id: string, afterSeq: number): Promise<JobEvent[]> {
    const path = join(this.jobDir(id), 'events.ndjson');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length && !this.#logs.has(id)) await truncate(path, Buffer.byteLength(text.slice(0, end)));
    const events: JobEvent[] = [];
    for (const line of text.slice(0, end).split('\n')) {
      if (!line) continue;
      const event = JobEvent.fromJSON(JSON.parse(line));
      if (event.seq > afterSeq) events.push(event);
    }
    return events;
  }
}

export function newJobSummary(record: JobRecord): Job {
  return {
    id: record.id,
    spec: record.spec,
    resolvedSpec: resolveSpec(record.spec),
    state: JobState.JOB_STATE_UNSPECIFIED,
    createdAt: record.createdAt,
    startedAt: undefined,
    finishedAt: undefined,
    device: record.device,
    queuePosition: 0,
    lastSeq: 0,
    attempt: 1,
    completedEpochs: 0,
    totalEpochs: 0,
    lastEpoch: undefined,
    artifacts: [],
    error: undefined,
    stateReason: '',
  };
}
