import type { AgentClient } from '@gpulink/sdk';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Dashboard } from './Dashboard.js';
import { type AgentContext, useAgents } from './hooks/use-agents.js';

/**
 * The dashboard over several saved agents (a Colab runtime, a box under the desk, the local one):
 * the agents pane says what each one runs, and `a` shows the next one's GPUs and jobs in full. The
 * agent shown gets a connection of its own (made on `a`; the first is the caller's, who closes it).
 */
export function AgentsDashboard({
  contexts,
  initial,
  pollMs = 2000,
}: {
  contexts: readonly AgentContext[];
  initial: { name: string; client: AgentClient };
  pollMs?: number;
}) {
  const summaries = useAgents(contexts, initial, pollMs);
  const [shown, setShown] = useState(initial);
  /** The name asked for last: a slower connection asked for before it is dropped when it comes. */
  const wanted = useRef(initial.name);
  const shownNow = useRef(shown);
  shownNow.current = shown;
  const release = useCallback(
    (client: AgentClient) => (client === initial.client ? undefined : void client.close()),
    [initial],
  );
  const next = useCallback(() => {
    const i = contexts.findIndex((c) => c.name === wanted.current);
    const to = contexts[(i + 1) % contexts.length];
    if (!to) return;
    wanted.current = to.name;
    to.connect().then(
      (client) => {
        if (wanted.current !== to.name) return release(client);
        setShown((old) => {
          release(old.client);
          return { name: to.name, client };
        });
      },
      // Not answering: the pane shows it unreachable; the agent shown stays.
      () => {
        if (wanted.current === to.name) wanted.current = shownNow.current.name;
      },
    );
  }, [contexts, release]);
  useEffect(() => () => release(shownNow.current.client), [release]);
  const context = contexts.find((c) => c.name === shown.name);
  return (
    <Dashboard
      key={shown.name}
      agent={shown.client}
      reconnect={context?.connect}
      pollMs={pollMs}
      agents={{ summaries, shown: shown.name, next }}
    />
  );
}
