import type { AgentClient, JobInfo } from '@gpulink/sdk';
import { useEffect, useRef, useState } from 'react';

/** A saved agent (a named context) the dashboard can show: its name and how to connect to it. */
export interface AgentContext {
  name: string;
  /** Connects as the command would (re-reading the profile, refreshing a Colab token). */
  connect: () => Promise<AgentClient>;
}

/** What the dashboard's agents pane says of one agent. */
export type AgentSummary =
  | { name: string; state: 'connecting' }
  | { name: string; state: 'unreachable'; reason: string }
  | {
      name: string;
      state: 'connected';
      client: AgentClient;
      hostname: string;
      gpus: string[];
      running: number;
      queued: number;
    };

/**
 * Every saved agent at once, for the dashboard's agents pane: one connection each, its GPUs (from
 * GetInfo) and how many of its jobs run and wait, polled every `pollMs`. An agent that does not answer
 * is shown unreachable and tried again at the next poll. `seed` is a client the caller already holds
 * for one of them (the caller closes it); the clients made here are closed on unmount.
 */
export function useAgents(
  contexts: readonly AgentContext[],
  seed: { name: string; client: AgentClient } | undefined,
  pollMs: number,
): AgentSummary[] {
  const [summaries, setSummaries] = useState<AgentSummary[]>(() =>
    contexts.map((c) => ({ name: c.name, state: 'connecting' })),
  );
  const clients = useRef(new Map<string, AgentClient>());
  useEffect(() => {
    let alive = true;
    let timer: NodeJS.Timeout | undefined;
    const owned = clients.current;
    if (seed) owned.set(seed.name, seed.client);
    const summarize = async (context: AgentContext): Promise<AgentSummary> => {
      let client = owned.get(context.name);
      try {
        if (!client) {
          client = await context.connect();
          if (!alive) {
            await client.close();
            return { name: context.name, state: 'connecting' };
          }
          owned.set(context.name, client);
        }
        const jobs: JobInfo[] = await client.jobs.list({ states: ['queued', 'starting', 'running'] });
        return {
          name: context.name,
          state: 'connected',
          client,
          hostname: client.info.hostname,
          gpus: client.info.gpus.map((g) => g.name),
          running: jobs.filter((j) => j.state !== 'queued').length,
          queued: jobs.filter((j) => j.state === 'queued').length,
        };
      } catch (error) {
        // A lost connection is made again at the next poll (the seed stays: its owner closes it).
        if (client && client !== seed?.client) {
          owned.delete(context.name);
          void client.close();
        }
        return { name: context.name, state: 'unreachable', reason: (error as Error).message };
      }
    };
    const poll = async () => {
      const next = await Promise.all(contexts.map(summarize));
      if (!alive) return;
      setSummaries(next);
      timer = setTimeout(() => void poll(), pollMs);
    };
    void poll();
    return () => {
      alive = false;
      clearTimeout(timer);
      for (const client of owned.values()) if (client !== seed?.client) void client.close();
      owned.clear();
    };
  }, [contexts, seed, pollMs]);
  return summaries;
}

/** One line of the agents pane: its name, host, GPUs and jobs, or why it does not answer. */
export function agentLine(s: AgentSummary): string {
  if (s.state === 'connecting') return `${s.name}  connecting…`;
  if (s.state === 'unreachable') return `${s.name}  unreachable: ${s.reason}`;
  const gpus = s.gpus.length === 0 ? 'no GPU' : gpuNames(s.gpus);
  return `${s.name}  ${s.hostname} · ${gpus} · ${s.running} running, ${s.queued} queued`;
}

/** GPU names counted: "2× Tesla T4", "A100 + 2× T4". */
function gpuNames(names: string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([n, k]) => (k > 1 ? `${k}× ${n}` : n)).join(' + ');
}
