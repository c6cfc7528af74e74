// gRPC through a Jupyter kernel (`gpulink+jupyter://`): each TCP connection of grpc-js to the loopback
// bridge (loopback-bridge.ts) becomes one comm to the relay in gpulink's dedicated kernel (relay.py),
// which connects to the agent's loopback port on the Jupyter host. Bytes travel as binary buffers in
// comm messages, within a credit window each way (relay.py says why). A kernel WebSocket that drops,
// or a kernel that restarts or dies, ends every carried connection: frames in flight are lost, so a
// carried connection cannot survive it; grpc-js reconnects, the SDK's streams resume by seq, and the
// next connection reopens the kernel (a new one if it died) and sweeps what the old ones left there.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Kernel, KernelConnection, KernelMessage } from '@jupyterlab/services';
import { closeLoopback, type LoopbackBridge, listenLoopback } from '../loopback-bridge.js';
import { describeServer, type JupyterServer, openDedicatedKernel, runPython } from './jupyter-server.js';
import relaySource from './relay.py';

/** Options of {@link startKernelBridge}. */
export interface KernelBridgeOptions {
  server: JupyterServer;
  /** The agent's port on the Jupyter host's loopback. */
  agentPort: number;
  /** Kernel spec of the dedicated kernel. @default 'python3' */
  kernelName?: string;
  /** Data messages either side may have unacknowledged. @default 8 */
  window?: number;
  /** Heartbeat period; the relay ends a connection after `idleS` without one. @default 10000 */
  heartbeatMs?: number;
  /** Three missed heartbeats. @default 30 */
  idleS?: number;
}

const relayTarget = 'gpulink_relay_v1';
const maxMessage = 1 << 20;
const highWater = 8 * maxMessage;

interface Carried {
  socket: Socket;
  comm: Kernel.IComm | undefined;
  credits: number;
  pending: Buffer[];
  pendingBytes: number;
  ended: boolean;
  eofSent: boolean;
  acks: number;
  ackScheduled: boolean;
  flushScheduled: boolean;
}

function bufferOf(view: ArrayBuffer | ArrayBufferView): Buffer {
  return view instanceof ArrayBuffer
    ? Buffer.from(view)
    : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** @internal */
export async function startKernelBridge(options: KernelBridgeOptions): Promise<LoopbackBridge> {
  const { server, agentPort } = options;
  const window = options.window ?? 8;
  const client = randomUUID();
  const endpoint = `${describeServer(server)} (kernel relay to its port ${agentPort})`;
  const open = new Set<Carried>();
  let lastError: string | undefined;
  let generation = 1;
  let ready: Promise<KernelConnection> | undefined;
  let current: KernelConnection | undefined;
  let closing = false;

  const end = (carried: Carried) => {
    if (!open.delete(carried)) return;
    carried.socket.destroy();
    try {
      carried.comm?.close();
    } catch {
      // The kernel connection is gone; the relay's sweep or idle timer ends its side.
    }
  };

  // Whatever interrupts the kernel connection ends every carried connection (frames in flight are
  // lost); a later generation's comms sweep what those left in the kernel.
  const endAll = (why: string) => {
    generation += 1;
    if (!closing && open.size > 0) lastError = why;
    for (const carried of [...open]) end(carried);
  };
  // A restarted kernel has lost the relay: the next connection installs it again.
  let relayInstalled: Promise<unknown> | undefined;
  // Jupyter's client reconnects a dropped WebSocket by itself, and gives up after a few tries
  // ('disconnected'); a kernel that died stays dead. Then the next connection opens the kernel anew.
  const forget = (kernel: KernelConnection) => {
    if (current !== kernel) return;
    current = undefined;
    ready = undefined;
    setImmediate(() => kernel.dispose());
  };

  const ensureKernel = (): Promise<KernelConnection> => {
    ready ??= (async () => {
      const kernel = await openDedicatedKernel(server, options.kernelName);
      current = kernel;
      relayInstalled = undefined;
      kernel.connectionStatusChanged.connect((_, status) => {
        if (status === 'connected') return;
        endAll(`the kernel WebSocket of ${describeServer(server)} was ${status}`);
        if (status === 'disconnected') forget(kernel);
      });
      kernel.statusChanged.connect((_, status) => {
        if (status !== 'restarting' && status !== 'autorestarting' && status !== 'dead') return;
        endAll(`gpulink's kernel on ${describeServer(server)} is ${status}`);
        relayInstalled = undefined;
        if (status === 'dead') forget(kernel);
      });
      return kernel;
    })().catch((error: unknown) => {
      ready = undefined;
      lastError = (error as Error).message;
      throw error;
    });
    return ready.then(async (kernel) => {
      relayInstalled ??= runPython(kernel, relaySource).catch((error: unknown) => {
        relayInstalled = undefined;
        throw error;
      });
      await relayInstalled;
      return kernel;
    });
  };

  const sendAcks = (carried: Carried) => {
    carried.ackScheduled = false;
    if (carried.acks === 0 || !open.has(carried)) return;
    carried.comm?.send({ t: 'ack', n: carried.acks });
    carried.acks = 0;
  };

  const flush = (carried: Carried) => {
    const { comm } = carried;
    if (comm === undefined) return;
    while (carried.credits > 0 && carried.pending.length > 0) {
      let size = 0;
      let count = 0;
      for (const chunk of carried.pending) {
        if (count > 0 && size + chunk.length > maxMessage) break;
        size += chunk.length;
        count += 1;
      }
      const parts = carried.pending.splice(0, count);
      // Each message gets an ArrayBuffer of its own: the serializer sends a Node Buffer's whole pool.
      const body = new ArrayBuffer(size);
      const view = new Uint8Array(body);
      let at = 0;
      for (const part of parts) {
        view.set(part, at);
        at += part.length;
      }
      carried.pendingBytes -= size;
      carried.credits -= 1;
      comm.send({ t: 'd' }, {}, [body]);
    }
    if (carried.ended && carried.pending.length === 0 && !carried.eofSent) {
      carried.eofSent = true;
      comm.send({ t: 'eof' });
    }
    if (carried.pendingBytes < highWater && carried.socket.isPaused() && carried.credits > 0)
      carried.socket.resume();
  };

  const onRelayMessage = (carried: Carried, msg: KernelMessage.ICommMsgMsg) => {
    const data = msg.content.data as { t?: string; n?: number; error?: string | null };
    switch (data.t) {
      case 'open':
        carried.credits = window;
        flush(carried);
        carried.socket.resume();
        break;
      case 'd':
        for (const view of msg.buffers ?? []) {
          carried.socket.write(bufferOf(view), () => {
            carried.acks += 1;
            if (!carried.ackScheduled) {
              carried.ackScheduled = true;
              setImmediate(() => sendAcks(carried));
            }
          });
        }
        break;
      case 'ack':
        carried.credits += data.n ?? 1;
        flush(carried);
        break;
      case 'eof':
        carried.socket.end();
        break;
      case 'closed':
        if (data.error) lastError = `the kernel relay: ${data.error}`;
        end(carried);
        break;
    }
  };

  const carry = (socket: Socket) => {
    const carried: Carried = {
      socket,
      comm: undefined,
      credits: 0,
      pending: [],
      pendingBytes: 0,
      ended: false,
      eofSent: false,
      acks: 0,
      ackScheduled: false,
      flushScheduled: false,
    };
    open.add(carried);
    socket.on('data', (chunk: Buffer) => {
      carried.pending.push(chunk);
      carried.pendingBytes += chunk.length;
      // One flush per turn of the event loop: the 64 KiB reads of one turn go out as one message of
      // up to 1 MiB (each message costs the Jupyter server and the kernel about as much as a MiB).
      if (!carried.flushScheduled) {
        carried.flushScheduled = true;
        setImmediate(() => {
          carried.flushScheduled = false;
          flush(carried);
        });
      }
      if (carried.pendingBytes >= highWater || carried.credits === 0) socket.pause();
    });
    socket.on('end', () => {
      carried.ended = true;
      flush(carried);
    });
    socket.on('error', () => end(carried));
    socket.on('close', () => end(carried));
    ensureKernel().then(
      (kernel) => {
        if (!open.has(carried)) return;
        hurryReconnect(kernel);
        const comm = kernel.createComm(relayTarget);
        carried.comm = comm;
        comm.onMsg = (msg) => onRelayMessage(carried, msg);
        comm.onClose = () => end(carried);
        comm.open({ port: agentPort, window, client, generation, idle_s: options.idleS ?? 30 });
      },
      () => end(carried),
    );
  };

  // Jupyter's client waits a random delay of up to 2^n - 1 s before its n-th reconnect (n up to 7):
  // after a link was down for 2 s the stream came back 25 s later. While connections wait on a
  // reconnecting WebSocket, it is asked to try again every second instead (an attempt in flight has
  // that long to finish); the asking stops once it is connected, gone, or nobody waits.
  let hurrying: NodeJS.Timeout | undefined;
  function hurryReconnect(kernel: KernelConnection): void {
    if (hurrying !== undefined || kernel.connectionStatus !== 'connecting') return;
    const ask = () => {
      if (closing || kernel.isDisposed || kernel.connectionStatus !== 'connecting' || open.size === 0) {
        clearInterval(hurrying);
        hurrying = undefined;
        return;
      }
      kernel.reconnect().catch(() => undefined);
    };
    hurrying = setInterval(ask, 1_000);
    hurrying.unref();
    ask();
  }

  const { server: listener, port } = await listenLoopback(carry, { allowHalfOpen: true });
  const heartbeat = setInterval(() => {
    for (const carried of open) {
      try {
        carried.comm?.send({ t: 'hb' });
      } catch {
        // Ended by drop() on the next status change.
      }
    }
  }, options.heartbeatMs ?? 10_000);
  heartbeat.unref();

  return {
    port,
    endpoint,
    get lastError() {
      return lastError;
    },
    close: async () => {
      closing = true;
      clearInterval(heartbeat);
      clearInterval(hurrying);
      await closeLoopback(listener, () => {
        for (const carried of [...open]) end(carried);
      });
      const kernel = current;
      current = undefined;
      ready = undefined;
      // Every relay of this client ends now, not at its idle limit (an agent stopping gracefully
      // waits for its connections to go): the kernel is asked to end them all, those whose comm
      // close a cut of the WebSocket lost included, and its reply says it has done so (an execute
      // request: a new comm would start a subshell that disposing of the kernel cancels). A
      // WebSocket that is reconnecting is asked to try at once: disposing of it would drop what it
      // holds.
      if (kernel?.connectionStatus === 'connecting') {
        kernel.reconnect().catch(() => undefined);
        await untilNotConnecting(kernel, 5_000);
      }
      if (kernel?.connectionStatus === 'connected') {
        await Promise.race([
          runPython(kernel, `gpulink_relay_close_client(${JSON.stringify(client)})`).catch(() => undefined),
          new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
        ]);
      }
      kernel?.dispose();
    },
  };
}

/** Resolves once `kernel`'s WebSocket is no longer reconnecting, or after `ms`. */
function untilNotConnecting(kernel: KernelConnection, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      kernel.connectionStatusChanged.disconnect(onChange);
      resolve();
    };
    const onChange = (_: unknown, status: Kernel.ConnectionStatus) => {
      if (status !== 'connecting') done();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    kernel.connectionStatusChanged.connect(onChange);
  });
}
