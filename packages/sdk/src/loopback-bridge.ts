// grpc-js has no public hook for a custom transport: it dials TCP itself. So for agents reached through
// something other than TCP (a WebSocket, a Jupyter kernel), the SDK listens on a loopback port of its
// own, points grpc-js at it, and carries each TCP connection grpc-js opens over that other channel.
// grpc-js still runs TLS with the pinned agent certificate end to end through the bridge: the loopback
// hop and the channel carry only TLS records. Each grpc-js reconnect is a fresh carried connection, so
// a dropped channel recovers like a dropped TCP connection. (The alternatives were a private grpc-js
// API, or an HTTP CONNECT proxy, which grpc-js only takes from environment variables.)
import { createServer, type Server, type Socket } from 'node:net';

/** @internal A loopback listener whose connections a bridge carries to the agent. */
export interface LoopbackBridge {
  /** The loopback port grpc-js dials. */
  readonly port: number;
  /** Where the bridge leads, without credentials, for messages. */
  readonly endpoint: string;
  /** Why the last carried connection failed to open, if one did: explains a failed connect(). */
  readonly lastError: string | undefined;
  /** Stops listening and ends every carried connection. */
  close(): Promise<void>;
}

/**
 * @internal Listens on 127.0.0.1:0 and hands each accepted socket, paused, to `carry`. `allowHalfOpen`
 * when the channel carries a half-close itself: then grpc-js's FIN does not end the replies still
 * coming the other way.
 */
export async function listenLoopback(
  carry: (socket: Socket) => void,
  options: { allowHalfOpen?: boolean } = {},
): Promise<{ server: Server; port: number }> {
  const server = createServer(
    { allowHalfOpen: options.allowHalfOpen ?? false, pauseOnConnect: true },
    (socket) => {
      socket.setNoDelay(true);
      carry(socket);
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

/** @internal Closes the listener once `endAll` has ended what it carries. */
export function closeLoopback(server: Server, endAll: () => void): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  endAll();
  return closed;
}
