// A TCP relay the test controls, placed between the SDK and an agent to cut connections the way a
// tunnel or a flaky network does, and to count the bytes that cross it.
import { createServer, Socket } from 'node:net';

export interface TcpProxy {
  /** The port to dial instead of the agent's. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes relayed from the client to the agent. */
  readonly bytesToAgent: number;
  /** Bytes relayed from the agent to the client. */
  readonly bytesToClient: number;
  /** Destroys every open connection at once. */
  cutAll(): void;
  /**
   * Cuts each connection once this many bytes went from the agent to the client on it (relaying only
   * up to that byte, so the client sees a frame broken in the middle); `undefined` turns it off.
   */
  cutEachAfterBytesToClient(bytes: number | undefined): void;
  /** Cuts each connection once this many bytes went from the client to the agent on it. */
  cutEachAfterBytesToAgent(bytes: number | undefined): void;
  /** While true, new connections are accepted and closed at once (an agent that is down). */
  refuse(refusing: boolean): void;
  /** Stops listening and cuts everything. */
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let connections = 0;
  let bytesToAgent = 0;
  let bytesToClient = 0;
  let limitToClient: number | undefined;
  let limitToAgent: number | undefined;
  let refusing = false;

  const server = createServer((client) => {
    connections++;
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    open.add(client);
    open.add(upstream);
    let sentDown = 0;
    let sentUp = 0;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      open.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    client.on('error', cut);
    upstream.on('error', cut);
    upstream.connect(targetPort, targetHost);
    client.pause();
    upstream.once('connect', () => client.resume());

    const relay = (from: Socket, to: Socket, direction: 'down' | 'up') => {
      from.on('data', (chunk: Buffer) => {
        const limit = direction === 'down' ? limitToClient : limitToAgent;
        const sent = direction === 'down' ? sentDown : sentUp;
        let part = chunk;
        let cutNow = false;
        if (limit !== undefined && sent + chunk.length >= limit) {
          part = chunk.subarray(0, Math.max(0, limit - sent));
          cutNow = true;
        }
        if (direction === 'down') {
          sentDown += part.length;
          bytesToClient += part.length;
        } else {
          sentUp += part.length;
          bytesToAgent += part.length;
        }
        if (part.length > 0) to.write(part);
        if (cutNow) {
          // Let the partial chunk reach the other side before the connection goes.
          to.end(() => cut());
          from.pause();
        }
      });
    };
    relay(upstream, client, 'down');
    relay(client, upstream, 'up');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');

  const cutAll = () => {
    for (const s of [...open]) s.destroy();
  };
  return {
    port: address.port,
    get connections() {
      return connections;
    },
    get bytesToAgent() {
      return bytesToAgent;
    },
    get bytesToClient() {
      return bytesToClient;
    },
    cutAll,
    cutEachAfterBytesToClient(bytes) {
      limitToClient = bytes;
    },
    cutEachAfterBytesToAgent(bytes) {
      limitToAgent = bytes;
    },
    refuse(value) {
      refusing = value;
    },
    async close() {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
