import type { AgentClient } from '@gpulink/sdk';
import { Text } from 'ink';
import type { ConnectionState } from '../hooks/use-agent-connection.js';

/** The top line: which agent, its versions, and whether the connection to it is being made again. */
export function AgentHeader({
  agent,
  connection,
  stale,
  context,
}: {
  agent: AgentClient;
  connection: ConnectionState;
  stale: boolean;
  /** The saved agent's name, when the dashboard shows one of several. */
  context?: string | undefined;
}) {
  return (
    <Text wrap="truncate-end">
      <Text bold color="cyan">
        gpulink
      </Text>{' '}
      {context ? <Text bold>{context} </Text> : null}
      {connection.state === 'reconnecting' ? (
        <Text color="yellow">
          reconnecting{connection.tries > 0 ? ` (try ${connection.tries + 1})` : ''}: {connection.reason}
        </Text>
      ) : (
        <>
          <Text dimColor>{agent.displayUrl}</Text>{' '}
          <Text dimColor>
            {agent.info.hostname} · torch {agent.info.torchVersion ?? '?'} · fastai{' '}
            {agent.info.fastaiVersion ?? '?'}
          </Text>
          {stale ? <Text color="yellow"> no stats for a while…</Text> : null}
        </>
      )}
    </Text>
  );
}
