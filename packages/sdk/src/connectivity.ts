import { type Client, connectivityState } from '@grpc/grpc-js';

type Channel = ReturnType<Client['getChannel']>;

/**
 * Calls `onReady` once `channel` is connected again after losing its connection, for a retry that
 * should go out as soon as the link is back rather than when its backoff ends. Returns the function
 * that stops watching. A channel that stays connected has lost nothing this could wait for: `onReady`
 * is then never called, and the retry waits out its backoff. (A connection just lost may still read as
 * connected here: only a return after a state other than READY counts.) While it is not connected, an
 * idle channel is asked to connect each time it goes idle; grpc-js's reconnect backoff
 * (`grpc.max_reconnect_backoff_ms`, client.ts) spaces those tries, so the retry follows the link's
 * return by at most that backoff and a round trip.
 * @internal
 */
export function watchReconnect(channel: Channel, onReady: () => void): () => void {
  let watching = true;
  let lost = false;
  const step = () => {
    if (!watching) return;
    const state = channel.getConnectivityState(true);
    if (state === connectivityState.SHUTDOWN) return;
    if (state !== connectivityState.READY) lost = true;
    else if (lost) {
      watching = false;
      onReady();
      return;
    }
    // No deadline: the watcher goes with the next change of state, whoever stopped watching meanwhile.
    channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, step);
  };
  step();
  return () => {
    watching = false;
  };
}
