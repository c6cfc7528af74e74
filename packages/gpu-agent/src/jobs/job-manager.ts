import { mkdir, rm } from 'node:fs/promises';
import {
  isTerminalJobState,
  type Job,
  type JobEvent,
  type JobSpec,
  JobState,
  jobSpecDefaults,
} from '@gpulink/proto';
import { failedPrecondition, invalidArgument, notFound, unavailable } from '../rpc/status-error.js';
import { DeviceQueues, deviceNeed } from './device-queues.js';
import { newJobId } from './ids.js';
import { findTaggedProcesses, signalTaggedProcesses } from './job-processes.js';
import { JobRun, type JobStatsSource } from './job-run.js';
import { datasetIdsOf, type SpecContext, validateSpec } from './job-spec.js';
import { type JobRecord, type JobStore, newJobSummary } from './job-store.js';
import { watchJob } from './job-watch.js';
import { LiveJob } from './live-job.js';
import type { WarmPool } from './warm-pool.js';
import { buildEnvelope, cancelMessage } from './worker-envelope.js';

export interface JobManagerOptions {
  store: JobStore;
  pool: WarmPool;
  /** Resolves dataset ids to folders (NOT_FOUND when unknown). */
  datasetDir(id: string): Promise<string>;
  gpuCount: () => number;
  /** Tests only: the GPUs counted are stand-ins, run as CPU processes (AgentOptions.standInGpus). */
  gpuStandIn?: boolean;
  /**
   * The agent's stats sampler: a running job keeps it sampling (for post-mortems and stall
   * warnings) and gets a stats event in its log every few seconds, in line with its training events.
   */
  stats?: JobStatsSource;
  /** Grace between a cancel request and killing the worker. */
  cancelGraceMs?: number;
  /** Default stall warning threshold. */
  stallWarningMs?: number;
  log: (message: string) => void;
}

/** Once shutting down, the manager starts nothing, and every run it stops ends INTERRUPTED. */
type ManagerState = 'accepting' | 'shuttingDown';

/**
 * Owns every job: submission and idempotency, the per-device queues, and a run (JobRun) for each job
 * at the head of its queue. Lifecycle per job: QUEUED -> STARTING -> RUNNING -> SUCCEEDED | FAILED |
 * CANCELLED, or INTERRUPTED when the agent stops under it.
 */
export class JobManager {
  readonly #o: Required<Omit<JobManagerOptions, 'stats' | 'gpuStandIn'>> &
    Pick<JobManagerOptions, 'stats' | 'gpuStandIn'>;
  readonly #jobs = new Map<string, LiveJob>();
  readonly #byKey = new Map<string, string>();
  readonly #queues: DeviceQueues;
  /** The run of every job that has a worker, by job id. */
  readonly #runs = new Map<string, JobRun>();
  #state: ManagerState = 'accepting';

  constructor(options: JobManagerOptions) {
    this.#o = { cancelGraceMs: 15_000, stallWarningMs: jobSpecDefaults.stallWarningMs, ...options };
    this.#queues = new DeviceQueues(options.gpuCount);
  }

  /** Loads the state dir. Jobs that were starting or running become INTERRUPTED; queued ones queue again. */
  async init(): Promise<void> {
    const loaded = await this.#o.store.loadAll(this.#o.log);
    loaded.sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
    this.#killLeftovers(loaded.map((l) => l.record));
    for (const { record, job } of loaded) {
      const live = this.#newLive(record, job, false);
      this.#jobs.set(record.id, live);
      if (record.idempotencyKey) this.#byKey.set(record.idempotencyKey, record.id);
      if (job.state === JobState.JOB_STATE_STARTING || job.state === JobState.JOB_STATE_RUNNING) {
        live.activate();
        await live.changeState(JobState.JOB_STATE_INTERRUPTED, 'the agent stopped while the job was running');
        record.workerPid = undefined;
        record.workerTag = undefined;
        await this.#o.store.saveRecord(record);
        await live.finish();
      } else if (job.state === JobState.JOB_STATE_QUEUED) {
        live.activate();
        this.#queue(record);
      }
    }
    this.#schedule();
  }

  async submit(spec: JobSpec, idempotencyKey: string, unknownFields: string[] = []): Promise<Job> {
    if (this.#state !== 'accepting') throw unavailable('the agent is shutting down');
    if (unknownFields.length > 0) {
      throw invalidArgument(
        `unknown field(s) ${unknownFields.join(', ')}: this agent speaks an older gpulink.v1 revision; upgrade it`,
      );
    }
    if (idempotencyKey.length > 128) throw invalidArgument('idempotency_key: at most 128 characters');
    const existing = idempotencyKey ? this.#byKey.get(idempotencyKey) : undefined;
    if (existing) return this.#view(this.#jobs.get(existing) as LiveJob);
    const device = await validateSpec(spec, this.#specContext());
    const record: JobRecord = { id: newJobId(), spec, createdAt: new Date(), device, idempotencyKey };
    try {
      await mkdir(this.#o.store.artifactsDir(record.id), { recursive: true, mode: 0o700 });
      await this.#o.store.saveRecord(record);
      const live = this.#newLive(record, newJobSummary(record), true);
      await live.changeState(JobState.JOB_STATE_QUEUED);
      this.#jobs.set(record.id, live);
      if (idempotencyKey) this.#byKey.set(idempotencyKey, record.id);
      this.#queue(record);
      this.#schedule();
      return this.#view(live);
    } catch (error) {
      // Nothing half-written stays behind: a job either exists with its QUEUED event or not at all.
      this.#jobs.delete(record.id);
      await this.#o.store.closeLog(record.id).catch(() => undefined);
      await rm(this.#o.store.jobDir(record.id), { recursive: true, force: true });
      throw error;
    }
  }

  get(id: string): Job {
    return this.#view(this.#live(id));
  }

  list(filter: { states: JobState[]; tags: string[] }): Job[] {
    return [...this.#jobs.values()]
      .filter((l) => filter.states.length === 0 || filter.states.includes(l.job.state))
      .filter((l) => filter.tags.every((t) => l.record.spec.tags.includes(t)))
      .sort((a, b) => (a.record.id < b.record.id ? 1 : -1))
      .map((l) => this.#view(l));
  }

  async cancel(id: string, reason: string): Promise<Job> {
    const live = this.#live(id);
    const why = reason || 'cancelled by a client';
    const state = live.job.state;
    if (isTerminalJobState(state))
      throw failedPrecondition(`job ${id} has already finished (${JobState[state]})`);
    if (state === JobState.JOB_STATE_QUEUED) {
      this.#queues.remove(id);
      await live.changeState(JobState.JOB_STATE_CANCELLED, why);
      await live.finish();
    } else {
      this.#runs.get(id)?.requestStop(why);
    }
    return this.#view(live);
  }

  async resume(id: string): Promise<Job> {
    const live = this.#live(id);
    if (live.job.state !== JobState.JOB_STATE_INTERRUPTED) {
      throw failedPrecondition(
        `job ${id} is ${JobState[live.job.state]}; only INTERRUPTED jobs can be resumed`,
      );
    }
    live.activate();
    live.job.attempt += 1;
    await live.changeState(JobState.JOB_STATE_QUEUED, 'resumed');
    this.#queue(live.record);
    this.#schedule();
    return this.#view(live);
  }

  /** FAILED_PRECONDITION, naming them, when jobs that may still run read the dataset `datasetId`. */
  refuseIfDatasetInUse(datasetId: string): void {
    const users = [...this.#jobs.values()].filter(
      (l) => !isTerminalJobState(l.job.state) && datasetIdsOf(l.record.spec).includes(datasetId),
    );
    if (users.length === 0) return;
    const named = users.map((l) => `${l.id} (${JobState[l.job.state]})`).join(', ');
    throw failedPrecondition(
      `dataset ${datasetId} is read by ${users.length} job(s) that may still run: ${named}; wait for them or cancel them first, then delete it`,
    );
  }

  /**
   * Removes a job that is not queued or running, with its log and artifacts: all of it or, when the
   * disk refuses, none of it. FAILED_PRECONDITION while it may still run, or while a queued or running
   * predict job is to load its model.
   */
  async delete(id: string): Promise<void> {
    const live = this.#live(id);
    const state = live.job.state;
    if (!isTerminalJobState(state)) {
      throw failedPrecondition(
        `job ${id} is ${JobState[state]}: cancel it first (gpulink cancel ${id}), then delete it`,
      );
    }
    const user = [...this.#jobs.values()].find(
      (l) =>
        !isTerminalJobState(l.job.state) &&
        l.record.spec.task?.$case === 'predict' &&
        l.record.spec.task.value.modelJobId === id,
    );
    if (user) {
      throw failedPrecondition(
        `job ${id}'s model is used by job ${user.id} (${JobState[user.job.state]}): wait for it or cancel it first`,
      );
    }
    // Out of the map before the first await: no resume, watch or predict can pick the job up meanwhile.
    this.#jobs.delete(id);
    const key = live.record.idempotencyKey;
    if (key && this.#byKey.get(key) === id) this.#byKey.delete(key);
    try {
      await this.#o.store.remove(id);
    } catch (error) {
      this.#jobs.set(id, live);
      if (key) this.#byKey.set(key, id);
      throw error;
    }
  }

  /** Streams a job's events after `afterSeq` to `send` (see watchJob). */
  async watch(
    id: string,
    afterSeq: number,
    replayOnly: boolean,
    send: (events: JobEvent[]) => Promise<void>,
    signal: AbortSignal,
    maxMessageBytes = 0,
  ): Promise<void> {
    await watchJob(this.#live(id), afterSeq, replayOnly, send, signal, maxMessageBytes);
  }

  /** Stops accepting jobs, asks running ones to stop, kills them after the grace period. */
  async shutdown(graceMs: number): Promise<void> {
    this.#state = 'shuttingDown';
    const running = [...this.#runs];
    for (const [, run] of running) run.worker.send(cancelMessage('the agent is shutting down'));
    await Promise.all(running.map(([, run]) => run.worker.stop(graceMs)));
    // Let exit handlers record INTERRUPTED before the process ends.
    await Promise.all(running.map(([id]) => this.#o.store.closeLog(id)));
  }

  /**
   * Running jobs' processes, for per-process stats: each worker, and for a job on several GPUs every
   * process with its worker's tag too (its ranks, which hold the GPUs; one /proc scan for all).
   */
  runningWorkers(): Array<{ jobId: string; pid: number }> {
    const ranked = [...this.#runs].filter(([id]) => (this.#jobs.get(id)?.record.spec.gpuCount ?? 0) > 1);
    const tagged = findTaggedProcesses(ranked.map(([, run]) => run.worker.tag));
    return [...this.#runs].flatMap(([jobId, run]) => {
      const pids = new Set([run.worker.pid, ...(tagged.get(run.worker.tag) ?? [])]);
      return [...pids].flatMap((pid) => (pid ? [{ jobId, pid }] : []));
    });
  }

  get runningCount(): number {
    return this.#runs.size;
  }

  /**
   * Ends every process left by the previous agent's workers: those carrying a tag a record still
   * holds (its worker was running when that agent died), whichever group or parent they have now.
   */
  #killLeftovers(records: JobRecord[]): void {
    const jobOf = new Map(records.flatMap((r) => (r.workerTag ? [[r.workerTag, r.id] as const] : [])));
    for (const [tag, pids] of signalTaggedProcesses(jobOf.keys(), 'SIGKILL')) {
      this.#o.log(
        `killed ${pids.length} process(es) left over by the previous agent (job ${jobOf.get(tag)})`,
      );
    }
  }

  #newLive(record: JobRecord, job: Job, active: boolean): LiveJob {
    return new LiveJob(record, job, active, {
      store: this.#o.store,
      log: this.#o.log,
      onLogFailure: () => this.#runs.get(record.id)?.worker.kill('SIGKILL'),
    });
  }

  #specContext(): SpecContext {
    return {
      datasetDir: (id) => this.#o.datasetDir(id),
      jobFacts: (id) => {
        const live = this.#jobs.get(id);
        return live ? { state: live.job.state, artifacts: live.job.artifacts.map((a) => a.name) } : undefined;
      },
      gpuCount: this.#o.gpuCount(),
      gpuStandIn: this.#o.gpuStandIn,
    };
  }

  #live(id: string): LiveJob {
    const live = this.#jobs.get(id);
    if (!live) throw notFound(`job ${id} does not exist`);
    return live;
  }

  #view(live: LiveJob): Job {
    const queued = live.job.state === JobState.JOB_STATE_QUEUED;
    return { ...live.job, queuePosition: queued ? this.#queues.position(live.id) : 0 };
  }

  #queue(record: JobRecord): void {
    this.#queues.add(record.id, deviceNeed(record.device, record.spec.gpuCount));
  }

  /** Starts every queued job whose devices are free. */
  #schedule(): void {
    if (this.#state !== 'accepting') return;
    for (const { id, gpus } of this.#queues.place()) {
      const live = this.#jobs.get(id);
      if (!live || this.#runs.has(id) || live.job.state !== JobState.JOB_STATE_QUEUED) {
        this.#queues.remove(id);
        continue;
      }
      this.#run(live, gpus).catch((error: unknown) => this.#o.log(`job ${id}: ${(error as Error).message}`));
    }
  }

  /** Runs a job in a worker on `gpus`, then records how it ended and frees its devices for the next. */
  async #run(live: LiveJob, gpus: number[]): Promise<void> {
    const { store } = this.#o;
    const run = new JobRun(live, this.#o.pool.take(), {
      store,
      stats: this.#o.stats,
      cancelGraceMs: this.#o.cancelGraceMs,
      stallWarningMs: this.#o.stallWarningMs,
      envelope: (cudaAvailable) =>
        buildEnvelope(live.record, live.job.attempt, { gpus, cudaAvailable }, store, this.#specContext()),
      agentStopping: () => this.#state === 'shuttingDown',
    });
    this.#runs.set(live.id, run);
    const end = await run.run();
    this.#runs.delete(live.id);
    live.record.workerPid = undefined;
    live.record.workerTag = undefined;
    this.#queues.remove(live.id);
    const problem = (error: unknown) =>
      this.#o.log(`job ${live.id}: could not record its end: ${(error as Error).message}`);
    // job.json only loses the worker's pid here: a failure to save it must not keep the job running.
    await store.saveRecord(live.record).catch(problem);
    if (end && !live.logFailure) await live.append({ $case: 'stateChanged', value: end }).catch(problem);
    await live.finish().catch(problem);
    this.#schedule();
  }
}
