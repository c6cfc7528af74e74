import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { applyJobEvent, type Job, JobEvent, JobSpec, JobState } from '@gpulink/proto';
import { writeFileAtomic } from '../state/state-dir.js';
import { EventLog, type EventLogOptions } from './event-log.js';
import { type LogReadOptions, readLogChunks } from './log-reader.js';
import { resolveSpec } from './resolve-spec.js';

/** Folders of jobs being removed: never loaded, and cleared at the next start if a crash left one. */
const REMOVING_PREFIX = '.removing-';

/** What job.json holds: what the log cannot tell. Everything else is derived from events.ndjson. */
export interface JobRecord {
  id: string;
  spec: JobSpec;
  createdAt: Date;
  device: string;
  idempotencyKey: string;
  /** Process group of the worker while one runs. */
  workerPid?: number | undefined;
  /** The tag of the worker while one runs, so a restarted agent can end every process of the job (job-processes.ts). */
  workerTag?: string | undefined;
}

interface StoredRecord {
  id: string;
  spec: unknown;
  createdAt: string;
  device: string;
  idempotencyKey: string;
  workerPid?: number | undefined;
  workerTag?: string | undefined;
}

/**
 * Job records and their append-only event logs, one folder per job:
 * `jobs/<id>/job.json`, `jobs/<id>/events.ndjson` (one JobEvent per line, canonical JSON),
 * `jobs/<id>/artifacts/`, `jobs/<id>/work/`. A job being removed is first renamed to
 * `jobs/.removing-<id>-<random>` (REMOVING_PREFIX), so a job is either all there or gone.
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
      if (id.startsWith(REMOVING_PREFIX)) {
        await rm(join(this.#dir, id), { recursive: true, force: true });
        continue;
      }
      try {
        const stored = JSON.parse(await readFile(join(this.jobDir(id), 'job.json'), 'utf8')) as StoredRecord;
        const record: JobRecord = {
          ...stored,
          spec: JobSpec.fromJSON(stored.spec),
          createdAt: new Date(stored.createdAt),
        };
        const job = newJobSummary(record);
        // Before any log is open: a torn last line (a crash mid-write) is cut off here, once.
        for await (const chunk of this.readEvents(id, { afterSeq: 0, cutTornTail: true })) {
          for (const event of chunk) applyJobEvent(job, event);
        }
        out.push({ record, job });
      } catch (error) {
        onProblem(`skipping job folder ${id}: ${(error as Error).message}`);
      }
    }
    return out;
  }

  /**
   * Removes a job's folder (record, log, artifacts, work) all at once: one rename takes it out of the
   * jobs dir, so neither a reader nor a restarted agent ever sees part of it; the files go after.
   */
  async remove(id: string): Promise<void> {
    await this.closeLog(id);
    const removing = join(this.#dir, `${REMOVING_PREFIX}${id}-${randomBytes(4).toString('hex')}`);
    await rename(this.jobDir(id), removing);
    await rm(removing, { recursive: true, force: true });
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

  /**
   * A job's events from its log on disk, in chunks (see readLogChunks: bounded memory whatever the
   * log's length). A torn last line is never returned.
   */
  readEvents(id: string, options: LogReadOptions): AsyncGenerator<JobEvent[]> {
    return readLogChunks(join(this.jobDir(id), 'events.ndjson'), options);
  }
}

export function newJobSummary(record: JobRecord): Job {
  return {
    id: record.id,
    spec: record.spec,
    resolvedSpec: resolveSpec(record.spec, record.device),
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
