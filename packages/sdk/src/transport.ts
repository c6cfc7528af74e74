// Chooses how grpc-js reaches the agent from its URL: plaintext TCP, TLS with the pinned certificate,
// or that same TLS carried through a loopback bridge: in a WebSocket (`gpulink+wss://`) or by a relay
// in a Jupyter kernel (`gpulink+jupyter://`).
import type { TlsOptions } from 'node:tls';
import { type ChannelCredentials, type ChannelOptions, credentials } from '@grpc/grpc-js';
import { type AgentUrl, grpcTarget } from './agent-url.js';
import { GpulinkError } from './errors.js';
import { checkServer, jupyterServerOf } from './jupyter/jupyter-server.js';
import { startKernelBridge } from './jupyter/kernel-bridge.js';
import type { LoopbackBridge } from './loopback-bridge.js';
import type { OperationLimits } from './rpc.js';
import { fetchPinnedCertificate, pinnedCredentials } from './tls-pinning.js';
import { startWebSocketBridge } from './websocket-bridge.js';

/** @internal */
export interface Transport {
  /** What grpc-js dials. */
  target: string;
  credentials: ChannelCredentials;
  options: ChannelOptions;
  /** Ends what the transport started (the WebSocket bridge). */
  close(): Promise<void>;
}

/** @internal */
export async function openTransport(
  url: AgentUrl,
  limits: OperationLimits,
  options: { webSocketCa?: TlsOptions['ca'] },
): Promise<Transport> {
  const display = grpcTarget(url);
  if (url.transport === 'grpc') {
    if (url.fingerprint === undefined) {
      return {
        target: display,
        credentials: credentials.createInsecure(),
        options: {},
        close: async () => undefined,
      };
    }
    const pem = await fetchPinnedCertificate(url.host, url.port, url.fingerprint, limits);
    const pinned = pinnedCredentials(pem, url.fingerprint);
    return { target: display, ...pinned, close: async () => undefined };
  }
  if (url.fingerprint === undefined) {
    throw new GpulinkError(
      'INVALID_ARGUMENT',
      `a ${url.transport === 'wss' ? 'gpulink+wss' : 'gpulink+jupyter'}:// URL needs the agent's certificate fingerprint (?fp=): the agent's own TLS runs inside the bridge. Use the URL the agent printed.`,
    );
  }
  // A Jupyter server that refuses the token says so at once, not as an unreachable agent.
  if (url.jupyter) await checkServer(jupyterServerOf(url));
  return bridged(await startBridge(url, options), url.fingerprint, limits);
}

function startBridge(url: AgentUrl, options: { webSocketCa?: TlsOptions['ca'] }): Promise<LoopbackBridge> {
  const { jupyter } = url;
  if (jupyter === undefined) return startWebSocketBridge(url, { ca: options.webSocketCa });
  return startKernelBridge({
    server: jupyterServerOf(url),
    agentPort: jupyter.agentPort,
    ...(jupyter.kernel ? { kernelName: jupyter.kernel } : {}),
  });
}

async function bridged(
  bridge: LoopbackBridge,
  fingerprint: string,
  limits: OperationLimits,
): Promise<Transport> {
  try {
    const pem = await fetchPinnedCertificate(
      '127.0.0.1',
      bridge.port,
      fingerprint,
      limits,
      bridge.endpoint,
    ).catch((error: unknown) => {
      // The handshake only says "socket closed"; the bridge's own failure says why.
      const why = bridge.lastError;
      if (why && error instanceof GpulinkError && error.code === 'UNAVAILABLE') {
        throw new GpulinkError('UNAVAILABLE', `cannot reach the agent: ${why}`, { cause: error });
      }
      throw error;
    });
    return {
      target: `127.0.0.1:${bridge.port}`,
      ...pinnedCredentials(pem, fingerprint),
      close: () => bridge.close(),
    };
  } catch (error) {
    await bridge.close();
    throw error;
  }
}
