// gRPC over a WebSocket, for agents behind an HTTP tunnel (`gpulink+wss://`).
//
// grpc-js has no public hook for a custom transport: it dials TCP itself. So the SDK listens on a
// loopback port of its own, points grpc-js at it, and turns each TCP connection grpc-js opens into
// one WebSocket to the agent, copying bytes both ways. grpc-js still runs TLS with the pinned agent
// certificate end to end, through this bridge, the tunnel's edge and the agent's WebSocket endpoint:
// the loopback hop carries only TLS records, and the edge never sees the token or the traffic. Each
// grpc-js reconnect opens a fresh WebSocket, so a dropped tunnel recovers like a dropped TCP
// connection. (The alternatives were a private grpc-js API, or an HTTP CONNECT proxy, which grpc-js
// only takes from environment variables.)
import { createServer, type Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { createWebSocketStream, WebSocket } from 'ws';
import type { AgentUrl } from './agent-url.js';

export interface WebSocketBridge {
  /** The loopback port grpc-js dials. */
  readonly port: number;
  /** `wss://host/path` without the token, for messages. */
  readonly endpoint: string;
  /** Why the last WebSocket failed to open, if one did: explains a failed connect(). */
  readonly lastError: string | undefined;
  /** Stops listening and closes every WebSocket. */
  close(): Promise<void>;
}

export interface WebSocketBridgeOptions {
  /** Extra CA certificates for the edge's HTTPS (a private proxy); Node's list otherwise. */
  ca?: SecureContextOptions['ca'];
  /** Gives up opening a WebSocket after this long. @default 20000 */
  handshakeTimeoutMs?: number;
}

export async function startWebSocketBridge(
  url: AgentUrl,
  options: WebSocketBridgeOptions = {},
): Promise<WebSocketBridge> {
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  // No user info in this URL: ws would send it as HTTP Basic auth, showing the token to the edge.
  const endpoint = `wss://${host}${url.port === 443 ? '' : `:${url.port}`}${url.path}`;
  const open = new Set<{ socket: Socket; ws: WebSocket }>();
  let lastError: string | undefined;

  const server = createServer((socket) => {
    // Hold grpc-js's bytes (the TLS ClientHello) until the WebSocket is open.
    socket.pause();
    const ws = new WebSocket(endpoint, {
      // TLS records do not compress.
      perMessageDeflate: false,
      handshakeTimeout: options.handshakeTimeoutMs ?? 20_000,
      ...(options.ca ? { ca: options.ca } : {}),
      // ngrok's free plan shows browsers a warning page first; this header skips it for programs.
      headers: { 'ngrok-skip-browser-warning': '1', 'user-agent': 'gpulink-sdk' },
    });
    const entry = { socket, ws };
    open.add(entry);
    const end = () => {
      open.delete(entry);
      socket.destroy();
      ws.terminate();
    };
    socket.on('error', end);
    socket.on('close', end);
    ws.once('unexpected-response', (_req, res) => {
      lastError =
        `the WebSocket to ${endpoint} was refused with HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim();
      end();
    });
    ws.once('error', (error) => {
      lastError ??= `the WebSocket to ${endpoint} failed: ${error.message}`;
      end();
    });
    ws.once('open', () => {
      lastError = undefined;
      const stream = createWebSocketStream(ws);
      stream.on('error', end);
      stream.on('close', end);
      stream.pipe(socket);
      socket.pipe(stream);
      socket.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    endpoint,
    get lastError() {
      return lastError;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const { socket, ws } of [...open]) {
        socket.destroy();
        ws.terminate();
      }
      open.clear();
      await closed;
    },
  };
}
