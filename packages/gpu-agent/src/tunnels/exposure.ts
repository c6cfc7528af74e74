// How the agent is reached beyond its own listener: when TLS is needed, the WebSocket endpoint for
// HTTP tunnels and reverse proxies, the tunnel program, and the URL that ties them together.
import { join } from 'node:path';
import type { StateLayout } from '../state/state-dir.js';
import {
  boreProgram,
  cloudflaredProgram,
  findTunnelProgram,
  ngrokProgram,
  type PublicAddress,
  type TunnelKind,
  type TunnelProgram,
} from './programs.js';
import { Tunnel } from './tunnel-process.js';
import { startWebSocketEndpoint, WEBSOCKET_PATH, type WebSocketEndpoint } from './websocket-endpoint.js';

/** `--tunnel` and its settings. */
export interface TunnelSettings {
  kind: TunnelKind;
  /** bore: the relay server. @default 'bore.pub' */
  server?: string;
  /** bore: the remote port to ask for at first start; 0 or absent: any. */
  remotePort?: number;
  /** ngrok: a TCP endpoint (needs a card on file at ngrok) instead of HTTPS + WebSocket. */
  ngrokTcp?: boolean;
}

export interface ExposureSettings {
  /** TLS even on loopback. */
  tls?: boolean;
  /** Serve the WebSocket endpoint on this port (0: any free one), for a reverse proxy of your own. */
  webSocketPort?: number;
  tunnel?: TunnelSettings;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether a tunnel needs the WebSocket endpoint: HTTPS edges do, raw TCP relays do not. */
export function tunnelUsesWebSocket(tunnel: TunnelSettings | undefined): boolean {
  return tunnel?.kind === 'cloudflared' || (tunnel?.kind === 'ngrok' && !tunnel.ngrokTcp);
}

/**
 * TLS whenever anything but this machine can reach the agent: a non-loopback bind address, a tunnel,
 * or the WebSocket endpoint (which exists for proxies and tunnels). `tls` forces it on loopback.
 */
export function needsTls(host: string, settings: ExposureSettings): boolean {
  return (
    settings.tls === true ||
    !LOOPBACK.has(host) ||
    settings.tunnel !== undefined ||
    settings.webSocketPort !== undefined
  );
}

/** An agent URL; `fingerprint` present means TLS. */
export function agentUrl(token: string, address: PublicAddress, fingerprint: string | undefined): string {
  const user = encodeURIComponent(token);
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  const fp = fingerprint ? `?fp=${fingerprint}` : '';
  if (address.transport === 'wss') {
    const port = address.port === 443 ? '' : `:${address.port}`;
    return `gpulink+wss://${user}@${host}${port}${WEBSOCKET_PATH}${fp}`;
  }
  return `gpulink://${user}@${host}:${address.port}${fp}`;
}

export interface Exposure {
  /** The URL to give clients: the tunnel's when there is one. */
  readonly publicAddress: PublicAddress | undefined;
  readonly webSocketPort: number | undefined;
  /** Stops the tunnel and the WebSocket endpoint. */
  close(): Promise<void>;
}

/** Starts the WebSocket endpoint and the tunnel that the settings ask for, after the gRPC server listens. */
export async function startExposure(o: {
  settings: ExposureSettings;
  layout: StateLayout;
  /** The gRPC server's address. */
  host: string;
  port: number;
  log: (message: string) => void;
  onAddressChange: (address: PublicAddress) => void;
}): Promise<Exposure> {
  const { settings, layout, log } = o;
  const tunnelSettings = settings.tunnel;
  let endpoint: WebSocketEndpoint | undefined;
  let tunnel: Tunnel | undefined;
  // Where programs on this machine reach the gRPC listener.
  const grpcHost = LOOPBACK.has(o.host) || o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  try {
    if (settings.webSocketPort !== undefined || tunnelUsesWebSocket(tunnelSettings)) {
      endpoint = await startWebSocketEndpoint({
        // A tunnel program runs here and reaches it on loopback; a proxy elsewhere needs the bind address.
        host: settings.webSocketPort !== undefined ? o.host : '127.0.0.1',
        port: settings.webSocketPort ?? 0,
        target: { host: grpcHost, port: o.port },
      });
    }
    if (tunnelSettings) {
      const program = tunnelProgram(tunnelSettings, grpcHost, o.port, endpoint?.port ?? 0);
      const executable = await findTunnelProgram(tunnelSettings.kind, layout.binDir);
      log(`tunnel: starting ${executable} ${program.args(undefined, 0).join(' ')}`);
      tunnel = await Tunnel.start({
        program,
        executable,
        pidFile: join(layout.root, 'tunnel.pid'),
        log,
        onAddressChange: (address) => o.onAddressChange(address),
      });
      log(
        `tunnel: ${tunnelSettings.kind} is up (pid ${tunnel.pid}) at ${tunnel.address.host}:${tunnel.address.port}`,
      );
    }
  } catch (error) {
    await endpoint?.close();
    throw error;
  }
  return {
    get publicAddress() {
      return tunnel?.address;
    },
    webSocketPort: endpoint?.port,
    async close() {
      await tunnel?.stop();
      await endpoint?.close();
    },
  };
}

function tunnelProgram(
  t: TunnelSettings,
  grpcHost: string,
  grpcPort: number,
  webSocketPort: number,
): TunnelProgram {
  switch (t.kind) {
    case 'bore':
      return boreProgram({
        localHost: grpcHost,
        localPort: grpcPort,
        server: t.server ?? 'bore.pub',
        remotePort: t.remotePort,
      });
    case 'cloudflared':
      return cloudflaredProgram({ webSocketPort });
    case 'ngrok':
      return ngrokProgram({ mode: t.ngrokTcp ? 'tcp' : 'http', grpcHost, grpcPort, webSocketPort });
  }
}
