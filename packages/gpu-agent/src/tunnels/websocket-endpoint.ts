// The agent's WebSocket endpoint, for HTTP tunnels (cloudflared quick tunnels strip gRPC trailers,
// cloudflared issues 491 and 1641) and reverse proxies: each WebSocket on WEBSOCKET_PATH becomes one TCP
// connection to the agent's own TLS listener, and bytes flow unchanged both ways. The tunnel's edge
// sees only the agent's TLS records, so the token and the traffic stay end-to-end encrypted, and the
// client pins the agent's certificate exactly as over a raw TCP relay.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws';

/** The path clients open (`gpulink+wss://<token>@<host>/gpulink?fp=...`); anything else is 404. */
export const WEBSOCKET_PATH = '/gpulink';

/** Concurrent WebSockets at most: each holds a TCP connection; a client needs one (two while reconnecting). */
const MAX_CONNECTIONS = 64;

/**
 * TLS records are at most 16 KiB and the client sends what its socket read (64 KiB at most); a larger
 * message is not a gpulink client.
 */
const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface WebSocketEndpoint {
  readonly port: number;
  /** WebSockets open now. */
  readonly connections: number;
  /** Stops listening and closes every WebSocket. */
  close(): Promise<void>;
}

export async function startWebSocketEndpoint(o: {
  host: string;
  port: number;
  /** The agent's TLS listener. */
  target: { host: string; port: number };
}): Promise<WebSocketEndpoint> {
  const open = new Set<{ ws: WebSocket; tcp: Socket }>();
  const wss = new WebSocketServer({
    noServer: true,
    // TLS records do not compress; deflate would only cost CPU.
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE_BYTES,
    clientTracking: false,
  });
  const http = createServer((req, res) => {
    // A browser that opens the tunnel's address lands here.
    res.writeHead(req.url === WEBSOCKET_PATH ? 426 : 404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      'This is a gpulink agent. Connect with the gpulink+wss:// URL it printed, e.g. `gpulink connect URL`.\n',
    );
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== WEBSOCKET_PATH || open.size >= MAX_CONNECTIONS) {
      const status = path !== WEBSOCKET_PATH ? '404 Not Found' : '503 Service Unavailable';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => bridge(ws));
  });

  const bridge = (ws: WebSocket) => {
    const tcp = connect(o.target.port, o.target.host);
    const entry = { ws, tcp };
    open.add(entry);
    const stream = createWebSocketStream(ws);
    const end = () => {
      open.delete(entry);
      stream.destroy();
      tcp.destroy();
    };
    // Either side failing or closing ends both: a half-open bridge would leave grpc-js waiting for
    // keepalive timeouts instead of reconnecting at once.
    for (const side of [stream, tcp] as const) {
      side.on('error', end);
      side.on('close', end);
    }
    stream.pipe(tcp);
    tcp.pipe(stream);
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(o.port, o.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  return {
    port,
    get connections() {
      return open.size;
    },
    async close() {
      for (const { ws, tcp } of [...open]) {
        ws.terminate();
        tcp.destroy();
      }
      open.clear();
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      // Keep-alive HTTP connections (a browser that looked at the page) would hold close() open.
      http.closeAllConnections();
      await closed;
      wss.close();
    },
  };
}
