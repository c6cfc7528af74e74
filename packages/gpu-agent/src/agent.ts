import {
  AgentServiceService,
  JobServiceService,
  protoFiles,
  protoRoot,
  SubmitJobRequest,
  serviceNames,
} from '@gpulink/proto';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { DatasetStore } from './data/dataset-store.js';
import { Environment } from './environment/environment.js';
import { JobManager } from './jobs/job-manager.js';
import { JobStore } from './jobs/job-store.js';
import { WarmPool } from './jobs/warm-pool.js';
import { WorkerProcess } from './jobs/worker-process.js';
import { defaultPython } from './paths.js';
import { createAuthInterceptor } from './rpc/auth.js';
import { contractType, findUnknownFields } from './rpc/contract.js';
import { OpenStreams, withInvalidArgumentDecoding } from './rpc/handlers.js';
import { raiseReceiveWindows } from './rpc/receive-window.js';
import { StatusError } from './rpc/status-error.js';
import { createAgentService } from './services/agent-service.js';
import { createDataService, dataServiceDefinition } from './services/data-service.js';
import { createJobService, type SubmitJobRequestWithUnknown } from './services/job-service.js';
import { loadOrCreateToken, openStateDir, type StateLayout } from './state/state-dir.js';
import { type StateLock, takeStateLock } from './state/state-lock.js';
import { StatsSampler } from './stats/stats-sampler.js';
import { loadOrCreateCertificate } from './tls/certificate.js';
import { agentUrl, type ExposureSettings, needsTls, startExposure } from './tunnels/exposure.js';
import { findTunnelProgram, type PublicAddress } from './tunnels/programs.js';

export interface AgentOptions extends ExposureSettings {
  /** State dir (job logs, datasets, the token). */
  stateDir: string;
  /** Address to bind. Default 127.0.0.1: the agent is reachable only from this machine. */
  host?: string;
  /** Port; 0 picks a free one. */
  port?: number;
  /** Python that runs jobs. Default: see defaultPython(). */
  python?: string;
  /** Read the bearer token from this file instead of the state dir. */
  tokenFile?: string;
  /** Workers kept started ahead (each has imported torch and fastai). Default 1. */
  warmWorkers?: number;
  /** nvidia-smi program for stats. */
  nvidiaSmi?: string;
  /**
   * Tests only: the agent counts this many GPUs, whatever the worker sees; without CUDA their jobs
   * run as that many CPU processes (a job of N GPUs: N ranks on gloo). No GPU exists on test machines.
   */
  standInGpus?: number;
  /**
   * How long a running job's log waits for space when the state dir's disk is full before the job
   * is stopped (its log stays whole either way). Default 30 s.
   */
  fullDiskRetryMs?: number;
  /** Diagnostics (never the token). */
  log?: (message: string) => void;
  /** The tunnel came back at a new address after a restart: `url` is the one to give clients now. */
  onUrlChange?: (url: string) => void;
}

/** A running agent. */
export interface Agent {
  readonly host: string;
  readonly port: number;
  /** The URL to give clients: through the tunnel when there is one, else to the listener. */
  readonly url: string;
  /** The URL of the listener itself (on this machine). */
  readonly localUrl: string;
  /** SHA-256 of the TLS certificate (64 hex digits), when the agent speaks TLS. */
  readonly fingerprint: string | undefined;
  /** The WebSocket endpoint's port, when it runs (HTTP tunnels, `webSocketPort`). */
  readonly webSocketPort: number | undefined;
  readonly token: string;
  readonly stateDir: string;
  /** Graceful stop: refuse new calls, end streams with UNAVAILABLE, give jobs `graceMs`, then kill them. */
  stop(graceMs?: number): Promise<void>;
}

/** gRPC keepalive for tunnels and proxies that drop idle connections after 60-100 s. */
const KEEPALIVE = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.http2.max_pings_without_data': 0,
  'grpc.max_receive_message_length': 8 * 1024 * 1024,
};

/** Starts an agent: state dir and its lock, token, job manager, services, and the listening server. */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  const log = options.log ?? ((m: string) => process.stderr.write(`gpulink-agent: ${m}\n`));
  const layout = await openStateDir(options.stateDir);
  const lock = await takeStateLock(layout.root, log);
  try {
    return await serveStateDir(options, layout, lock, log);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function serveStateDir(
  options: AgentOptions,
  layout: StateLayout,
  lock: StateLock,
  log: (message: string) => void,
): Promise<Agent> {
  // Before the slow start (the worker's Python imports torch): a missing tunnel program fails at once.
  if (options.tunnel) await findTunnelProgram(options.tunnel.kind, layout.binDir);
  const token = await loadOrCreateToken(layout, options.tokenFile);
  const python = options.python ?? defaultPython();
  const open = new OpenStreams();
  const pool = new WarmPool(options.warmWorkers ?? 1, () => new WorkerProcess(python));
  const environment = new Environment(python, pool);
  const store = new JobStore(layout.jobsDir, { retryFullMs: options.fullDiskRetryMs });
  const datasets = new DatasetStore(layout);
  let jobs: JobManager | undefined;
  const sampler = new StatsSampler({
    nvidiaSmi: options.nvidiaSmi,
    processes: () => jobs?.runningWorkers() ?? [],
  });
  const gpuCount = { n: 0 };
  jobs = new JobManager({
    store,
    pool,
    datasetDir: (id) => datasets.filesDir(id),
    gpuCount: () => gpuCount.n,
    gpuStandIn: options.standInGpus !== undefined,
    stats: sampler,
    log,
  });
  pool.fill();
  // Know the GPUs before the first job is placed; a broken Python is reported by GetInfo and doctor.
  const ready = await environment.probe().catch((error: Error) => {
    log(`the worker's Python is not usable yet: ${error.message}`);
    return undefined;
  });
  gpuCount.n = options.standInGpus ?? ready?.gpus.length ?? 0;
  await jobs.init();

  const server = new Server({ interceptors: [createAuthInterceptor(token)], ...KEEPALIVE });
  if (!raiseReceiveWindows(server)) log('this grpc-js has no createHttp2Server: uploads use 64 KiB windows');
  const startedAt = new Date();
  server.addService(
    withInvalidArgumentDecoding(AgentServiceService),
    createAgentService({ environment, sampler, stateDir: layout.root, startedAt, open }),
  );
  server.addService(withInvalidArgumentDecoding(withUnknownFieldCheck()), createJobService(jobs, open));
  server.addService(
    withInvalidArgumentDecoding(dataServiceDefinition),
    createDataService({ datasets, jobs, store, open }),
  );
  const health = new HealthImplementation({
    '': 'SERVING',
    ...Object.fromEntries(serviceNames.map((n) => [n, 'SERVING'])),
  });
  health.addToServer(server);
  new ReflectionService(loadSync(protoFiles as string[], { includeDirs: [protoRoot] })).addToServer(server);

  const host = options.host ?? '127.0.0.1';
  const certificate = needsTls(host, options) ? await loadOrCreateCertificate(layout, log) : undefined;
  const credentials = certificate
    ? ServerCredentials.createSsl(
        null,
        [{ private_key: Buffer.from(certificate.keyPem), cert_chain: Buffer.from(certificate.certPem) }],
        false,
      )
    : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port ?? 0}`, credentials, (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  const fingerprint = certificate?.fingerprint;
  const urlFor = (address: PublicAddress) => agentUrl(token, address, fingerprint);
  const localUrl = urlFor({
    transport: 'grpc',
    host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host,
    port,
  });
  await lock.setUrl(localUrl);
  let exposure: Awaited<ReturnType<typeof startExposure>>;
  try {
    exposure = await startExposure({
      settings: options,
      layout,
      host,
      port,
      log,
      onAddressChange: (address) => options.onUrlChange?.(urlFor(address)),
    });
  } catch (error) {
    server.forceShutdown();
    await jobs.shutdown(0);
    sampler.close();
    await pool.close(1_000);
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    host,
    port,
    token,
    stateDir: layout.root,
    fingerprint,
    localUrl,
    webSocketPort: exposure.webSocketPort,
    get url() {
      const address = exposure.publicAddress;
      return address ? urlFor(address) : localUrl;
    },
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        for (const name of ['', ...serviceNames]) health.setStatus(name, 'NOT_SERVING');
        open.endAll(new StatusError(status.UNAVAILABLE, 'the agent is shutting down'));
        await jobs.shutdown(graceMs);
        sampler.close();
        await pool.close(1_000);
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => server.forceShutdown(), 2_000);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        // Last, so that clients behind the tunnel received the UNAVAILABLE that ended their streams.
        await exposure.close();
        await lock.release();
      })();
      return stopping;
    },
  };
}

/**
 * JobService with a SubmitJob decoder that also lists fields the contract does not define: ts-proto
 * skips them silently, and a JobSpec from a newer client must be refused, not half-understood.
 */
function withUnknownFieldCheck(): typeof JobServiceService {
  const type = contractType('SubmitJobRequest');
  return {
    ...JobServiceService,
    submitJob: {
      ...JobServiceService.submitJob,
      requestDeserialize: (bytes: Buffer): SubmitJobRequestWithUnknown => {
        const request: SubmitJobRequestWithUnknown = SubmitJobRequest.decode(bytes);
        request.unknownFields = findUnknownFields(type, bytes);
        return request;
      },
    },
  };
}
