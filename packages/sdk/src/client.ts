import type { TlsOptions } from 'node:tls';
import { AgentServiceClient, DataServiceClient, JobServiceClient } from '@gpulink/proto';
import { type ChannelOptions, Metadata } from '@grpc/grpc-js';
import { type AgentUrl, formatAgentUrl, grpcTarget, parseAgentUrl } from './agent-url.js';
import { watchReconnect } from './connectivity.js';
import { agentInfo, environmentReport, statsSample } from './convert.js';
import { createDatasetsApi, type DatasetsApi } from './datasets.js';
import { GpulinkError, toGpulinkError } from './errors.js';
import { isResumable } from './job-events.js';
import {
  type LrFindOptions,
  type PredictOptions,
  type ScriptOptions,
  splitJobOptions,
  type TabularTrainingOptions,
  type VisionTrainingOptions,
} from './job-options.js';
import { createJobsApi, type Job, type JobClients, type JobsApi, submitJob } from './jobs.js';
import {
  backoffDelay,
  type CallContext,
  type CallOptions,
  defaultRetry,
  limitsOf,
  pauseBeforeRetry,
  type RetryPolicy,
  unaryWithRetry,
} from './rpc.js';
import { serverStream } from './rpc-streams.js';
import { openTransport, type Transport } from './transport.js';
import type { AgentInfo, EnvironmentReport, StatsSample } from './types.js';

/**
 * Options of {@link connect}.
 *
 * @example
 * ```ts
 * const agent = await connect(undefined, { timeoutMs: 30_000, keepaliveTimeMs: 20_000 });
 * ```
 */
export interface ConnectOptions extends CallOptions {
  /**
   * Milliseconds between keepalive pings while the connection is idle. Tunnels and proxies (Colab, bore,
   * ngrok) drop connections that stay silent for 60-100 s; a ping every 30 s keeps them open and
   * notices a dead one. @default 30000
   */
  keepaliveTimeMs?: number;
  /** How long a ping may go unanswered before the connection counts as dead, ms. @default 10000 */
  keepaliveTimeoutMs?: number;
  /**
   * Extra CA certificates (PEM) to trust for the HTTPS edge of a `gpulink+wss://` URL, e.g. your own
   * reverse proxy with a private CA. The agent's own certificate needs nothing here: the URL's `fp=`
   * pins it. @default Node's CA list
   */
  webSocketCa?: TlsOptions['ca'];
}

/**
 * Options of {@link AgentClient.stats}.
 *
 * @example
 * ```ts
 * for await (const s of agent.stats({ intervalMs: 500, signal })) draw(s);
 * ```
 */
export interface StatsOptions extends CallOptions {
  /** Milliseconds between samples; the agent clamps it to 100..60000. @default 1000 */
  intervalMs?: number;
  /** Reconnects after a dropped connection; `false` ends with the error instead. */
  retry?: RetryPolicy | false;
}

/**
 * A connection to one gpulink agent, from {@link connect}. Close it when done (`await using` does).
 * Each task that submits a job is a verb on the client (`trainVision`, `trainTabular`, `lrFind`,
 * `runScript`, `predict`), resolving with its {@link Job}; `jobs` and `datasets` hold what exists.
 *
 * @example
 * ```ts
 * await using agent = await connect();
 * const job = await agent.trainVision({ data: { fastaiUrl: 'MNIST_SAMPLE' }, epochs: 1 });
 * console.log((await job.wait()).epochs.at(-1)?.metrics);
 * ```
 */
export interface AgentClient extends AsyncDisposable {
  /** The agent as it answered when the connection was checked. */
  readonly info: AgentInfo;
  /** The agent's URL with its token replaced by `***`, for display. */
  readonly displayUrl: string;
  /** Fetches the agent's versions and GPUs again. */
  getInfo(options?: CallOptions): Promise<AgentInfo>;
  /** The agent's doctor report on its training environment. */
  checkEnvironment(options?: CallOptions): Promise<EnvironmentReport>;
  /**
   * Live GPU and host samples until the loop ends (`break` cancels the stream). Reconnects by itself
   * after a dropped connection.
   */
  stats(options?: StatsOptions): AsyncIterable<StatsSample>;
  /**
   * Trains an image classifier with fastai's `vision_learner`.
   *
   * @example
   * ```ts
   * const job = await agent.trainVision({ data: { fastaiUrl: 'MNIST_SAMPLE' }, epochs: 1 });
   * ```
   */
  trainVision(options: VisionTrainingOptions, callOptions?: CallOptions): Promise<Job>;
  /**
   * Trains a model on a CSV table with fastai's `tabular_learner`.
   *
   * @example
   * ```ts
   * const job = await agent.trainTabular({ data: { datasetId }, csvPath: 'adult.csv', target: 'salary' });
   * ```
   */
  trainTabular(options: TabularTrainingOptions, callOptions?: CallOptions): Promise<Job>;
  /** Runs fastai's learning-rate finder on a vision or tabular setup. */
  lrFind(options: LrFindOptions, callOptions?: CallOptions): Promise<Job>;
  /** Runs your own fastai script from an uploaded workspace. */
  runScript(options: ScriptOptions, callOptions?: CallOptions): Promise<Job>;
  /** Labels inputs with a finished job's exported model. */
  predict(options: PredictOptions, callOptions?: CallOptions): Promise<Job>;
  /** Existing jobs. */
  readonly jobs: JobsApi;
  /** Uploaded datasets. */
  readonly datasets: DatasetsApi;
  /** Cancels every call still running and closes the connection. Safe to call twice. */
  close(): Promise<void>;
}

const defaultReadyTimeoutMs = 15_000;

function channelOptions(options: ConnectOptions): ChannelOptions {
  return {
    'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 30_000,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    // grpc-js backs off up to 2 min between reconnects by default; an event stream waiting out an agent
    // restart or a cut link would sit in that backoff long after the agent is back. A retry waits for
    // the channel to connect again (connectivity.ts), so this cap bounds how long after the link's
    // return a stream resumes; a try a second against an address that refuses costs next to nothing.
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 1_000,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    // Node's HTTP/2 receive window is 64 KiB: downloads and event streams would wait on this process
    // every 64 KiB. The agent raises its own windows the same way for uploads.
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
    'grpc.primary_user_agent': 'gpulink-sdk',
  };
}

/**
 * Connects to a gpulink agent and checks that it answers (an authenticated `GetInfo`), so a wrong
 * token or an unreachable agent fails here with a clear `UNAUTHENTICATED` or `UNAVAILABLE` error
 * rather than on the first real call. Without `url` it reads `GPULINK_URL`.
 *
 * A URL with `?fp=<sha256>` means TLS: the agent's self-signed certificate must have exactly that
 * SHA-256 fingerprint, whatever host name the URL has (a tunnel's), or `connect` rejects with
 * `UNAUTHENTICATED` and sends nothing, the token included. `gpulink+wss://` carries that same TLS in a
 * WebSocket, for agents behind an HTTP tunnel (cloudflared, ngrok); no tunnel program is needed here.
 * Without `fp`, the connection is plaintext: for agents on this machine.
 *
 * @example
 * ```ts
 * import { connect, hasStatus } from '@gpulink/sdk';
 * try {
 *   await using agent = await connect('gpulink://s3cret@127.0.0.1:7860');
 *   console.log(agent.info.gpus.map((g) => g.name));
 * } catch (e) {
 *   if (hasStatus(e, 'UNAUTHENTICATED')) console.error('wrong token');
 *   else throw e;
 * }
 * ```
 */
export async function connect(url?: string | AgentUrl, options: ConnectOptions = {}): Promise<AgentClient> {
  const raw = url ?? process.env.GPULINK_URL;
  if (raw === undefined || raw === '') {
    throw new GpulinkError(
      'INVALID_ARGUMENT',
      'no agent URL: pass one to connect() or set GPULINK_URL (`gpulink-agent serve` prints it)',
    );
  }
  const parsed = typeof raw === 'string' ? parseAgentUrl(raw) : raw;
  const readyOptions = { signal: options.signal, timeoutMs: options.timeoutMs ?? defaultReadyTimeoutMs };
  // One deadline for the certificate check and the first call together.
  const limits = limitsOf(readyOptions);
  const transport = await openTransport(parsed, limits, options);
  const client = new Client(parsed, options, transport);
  try {
    await client.ready({
      signal: options.signal,
      timeoutMs: limits.deadline === undefined ? undefined : Math.max(1, limits.deadline - Date.now()),
    });
  } catch (e) {
    await client.close();
    throw e;
  }
  return client;
}

class Client implements AgentClient {
  readonly jobs: JobsApi;
  readonly datasets: DatasetsApi;
  readonly displayUrl: string;
  private readonly agent: AgentServiceClient;
  private readonly jobClient: JobServiceClient;
  private readonly dataClient: DataServiceClient;
  private readonly ctx: CallContext;
  private readonly clients: JobClients;
  private readonly live = new Set<{ cancel(): void }>();
  private readonly transport: Transport;
  private isClosed = false;
  private readyInfo: AgentInfo | undefined;

  constructor(url: AgentUrl, options: ConnectOptions, transport: Transport) {
    this.transport = transport;
    // grpc-js dials transport.target (a local bridge for WebSockets); messages name the agent's address.
    const target = grpcTarget(url);
    const creds = transport.credentials;
    const opts = { ...channelOptions(options), ...transport.options };
    this.agent = new AgentServiceClient(transport.target, creds, opts);
    // One HTTP/2 connection for all three services, so keepalive and reconnects apply to all at once.
    const channelOverride = this.agent.getChannel();
    this.jobClient = new JobServiceClient(transport.target, creds, { ...opts, channelOverride });
    this.dataClient = new DataServiceClient(transport.target, creds, { ...opts, channelOverride });
    this.displayUrl = formatAgentUrl(url, { redactToken: true });
    const authorization = `Bearer ${url.token}`;
    const live = this.live;
    const self = this;
    this.ctx = {
      target,
      get closed() {
        return self.isClosed;
      },
      metadata() {
        const md = new Metadata();
        md.set('authorization', authorization);
        return md;
      },
      track(call) {
        live.add(call);
        return () => live.delete(call);
      },
      watchReconnect: (onReady) => watchReconnect(channelOverride, onReady),
    };
    this.clients = { ctx: this.ctx, jobs: this.jobClient, data: this.dataClient, info: () => this.info };
    this.jobs = createJobsApi(this.clients);
    this.datasets = createDatasetsApi(this.ctx, this.dataClient);
  }

  get info(): AgentInfo {
    if (!this.readyInfo) throw new GpulinkError('FAILED_PRECONDITION', 'the client is not connected yet');
    return this.readyInfo;
  }

  async ready(options: CallOptions): Promise<void> {
    this.readyInfo = await this.getInfo(options);
  }

  async getInfo(options?: CallOptions): Promise<AgentInfo> {
    const response = await unaryWithRetry(
      this.ctx,
      'AgentService.GetInfo',
      this.agent.getInfo.bind(this.agent),
      {},
      limitsOf(options),
    );
    return agentInfo(response.info);
  }

  async checkEnvironment(options?: CallOptions): Promise<EnvironmentReport> {
    const response = await unaryWithRetry(
      this.ctx,
      'AgentService.CheckEnvironment',
      this.agent.checkEnvironment.bind(this.agent),
      {},
      limitsOf(options),
    );
    return environmentReport(response);
  }

  stats(options: StatsOptions = {}): AsyncIterable<StatsSample> {
    return this.watchStats(options);
  }

  private async *watchStats(options: StatsOptions): AsyncGenerator<StatsSample, void, undefined> {
    const method = 'AgentService.WatchStats';
    const limits = limitsOf(options);
    const policy = options.retry === false ? { maxAttempts: 1 } : { ...defaultRetry, ...options.retry };
    let failures = 0;
    for (;;) {
      try {
        const stream = serverStream(
          this.ctx,
          method,
          (m, o) => this.agent.watchStats({ intervalMs: options.intervalMs ?? 0 }, m, o),
          limits,
        );
        for await (const { sample } of stream) {
          failures = 0;
          yield statsSample(sample);
        }
        return;
      } catch (e) {
        const error = toGpulinkError(e, method);
        if (!isResumable(error) || limits.signal?.aborted || this.isClosed) throw error;
        failures++;
        if (failures >= policy.maxAttempts) {
          throw new GpulinkError(
            error.code,
            `${error.details} (gave up after ${failures} tries to reconnect)`,
            {
              method,
              cause: error,
            },
          );
        }
        await pauseBeforeRetry(this.ctx, backoffDelay(failures, policy), limits, method);
      }
    }
  }

  trainVision(options: VisionTrainingOptions, callOptions?: CallOptions): Promise<Job> {
    const { task, job } = splitJobOptions(options);
    return submitJob(this.clients, { type: 'vision', ...task }, job, callOptions);
  }

  trainTabular(options: TabularTrainingOptions, callOptions?: CallOptions): Promise<Job> {
    const { task, job } = splitJobOptions(options);
    return submitJob(this.clients, { type: 'tabular', ...task }, job, callOptions);
  }

  lrFind(options: LrFindOptions, callOptions?: CallOptions): Promise<Job> {
    const { task, job } = splitJobOptions(options);
    return submitJob(this.clients, { type: 'lrFind', ...task }, job, callOptions);
  }

  runScript(options: ScriptOptions, callOptions?: CallOptions): Promise<Job> {
    const { task, job } = splitJobOptions(options);
    return submitJob(this.clients, { type: 'script', ...task }, job, callOptions);
  }

  predict(options: PredictOptions, callOptions?: CallOptions): Promise<Job> {
    const { task, job } = splitJobOptions(options);
    return submitJob(this.clients, { type: 'predict', ...task }, job, callOptions);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const call of [...this.live]) call.cancel();
    this.live.clear();
    // The three clients share one channel: closing it once closes the connection for all of them.
    this.agent.close();
    await this.transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
