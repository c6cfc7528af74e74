import { type AgentClient, hasStatus } from '@gpulink/sdk';
import { useCallback, useEffect, useRef, useState } from 'react';

/** Where the connection stands: in use, or lost and being made again (how many tries so far, and why). */
export type ConnectionState =
  | { state: 'connected' }
  | { state: 'reconnecting'; tries: number; reason: string };

/** Makes a new connection the way the command made the first: re-reading the profile each time. */
export type Reconnect = () => Promise<AgentClient>;

/** A failure that means the agent is gone (stopped, restarted elsewhere, the link down). */
export function isConnectionLost(error: unknown): boolean {
  return hasStatus(error, 'UNAVAILABLE') || hasStatus(error, 'DEADLINE_EXCEEDED');
}

const delayMs = (tries: number) => Math.min(2000, 250 * 2 ** tries);

/**
 * The dashboard's one agent connection. A view calls `lost(error)` when a call shows the agent gone;
 * the hook then calls `reconnect` (which re-reads the profile, so an agent that came back on a new
 * port after `gpulink down` / `gpulink up` is found) until it answers, without giving up, and hands
 * out the new client. Clients it made are closed when replaced and on unmount; the first one belongs
 * to the caller. Without `reconnect` a lost connection stays lost (the state says so).
 *
 * Several agents (named contexts) would each get one of these.
 */
export function useAgentConnection(initial: AgentClient, reconnect?: Reconnect) {
  const [agent, setAgent] = useState(initial);
  const [connection, setConnection] = useState<ConnectionState>({ state: 'connected' });
  const current = useRef(initial);
  const lost = useCallback((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    setConnection((c) => (c.state === 'connected' ? { state: 'reconnecting', tries: 0, reason } : c));
  }, []);

  const reconnecting = connection.state === 'reconnecting';
  useEffect(() => {
    if (!reconnecting || !reconnect) return;
    let alive = true;
    let timer: NodeJS.Timeout | undefined;
    const attempt = (tries: number) => {
      reconnect().then(
        async (fresh) => {
          if (!alive) return void (await fresh.close());
          const old = current.current;
          current.current = fresh;
          setAgent(fresh);
          setConnection({ state: 'connected' });
          if (old !== initial) await old.close();
        },
        (e: Error) => {
          if (!alive) return;
          setConnection({ state: 'reconnecting', tries: tries + 1, reason: e.message });
          timer = setTimeout(() => attempt(tries + 1), delayMs(tries));
        },
      );
    };
    timer = setTimeout(() => attempt(0), delayMs(0));
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [reconnecting, reconnect, initial]);

  useEffect(
    () => () => {
      if (current.current !== initial) void current.current.close();
    },
    [initial],
  );
  return { agent, connection, lost };
}
