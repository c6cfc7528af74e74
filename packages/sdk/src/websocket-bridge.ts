// gRPC over a WebSocket, for agents behind an HTTP tunnel (`gpulink+wss://`): each TCP connection of
// grpc-js to the loopback bridge (loopback-bridge.ts) becomes one WebSocket to the agent's endpoint,
// bytes copied both ways. The tunnel's edge sees only the agent's TLS records, never the token.
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { createWebSocketStream, WebSocket } from 'ws';
import type { AgentUrl } from './agent-url.js';
import { closeLoopback, type LoopbackBridge, listenLoopback } from './loopback-bridge.js';

export interface WebSocketBridgeOptions {
  /** Extra CA certificates for the edge's HTTPS (a private proxy); Node's list otherwise. */
  ca?: SecureContextOptions['ca'];
  /** Gives up opening a WebSocket after this long. @default 20000 */
  handshakeTimeoutMs?: number;
}

export async function startWebSocketBridge(
  url: AgentUrl,
  options: WebSocketBridgeOptions = {},
): Promise<LoopbackBridge> {
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  // No user info in this URL: ws would send it as HTTP Basic auth, showing the token to the edge.
  const endpoint = `wss://${host}${url.port === 443 ? '' : `:${url.port}`}${url.path}`;
  const open = new Set<{ socket: Socket; ws: WebSocket }>();
  let lastError: string | undefined;

  // The socket comes paused: grpc-js's bytes (the TLS ClientHello) wait until the WebSocket is open.
  const { server, port } = await listenLoopback((socket: Socket) => {
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
  return {
    port,
    endpoint,
    get lastError() {
      return lastError;
    },
    close: () =>
      closeLoopback(server, () => {
        for (const { socket, ws } of [...open]) {
          socket.destroy();
          ws.terminate();
        }
        open.clear();
      }),
  };
}
