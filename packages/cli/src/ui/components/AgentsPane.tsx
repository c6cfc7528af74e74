import { Text } from 'ink';
import { type AgentSummary, agentLine } from '../hooks/use-agents.js';

/**
 * One line per saved agent (what it runs, or why it does not answer), the shown one marked; `rows`
 * lines at most, the last saying how many more there are.
 */
export function AgentsPane({
  summaries,
  shown,
  rows,
}: {
  summaries: AgentSummary[];
  shown: string;
  rows: number;
}) {
  const cut = summaries.length > rows;
  const lines = cut ? summaries.slice(0, rows - 1) : summaries;
  return (
    <>
      {lines.map((s) => (
        <Text
          key={s.name}
          wrap="truncate-end"
          color={s.state === 'unreachable' ? 'yellow' : undefined}
          bold={s.name === shown}
        >
          {s.name === shown ? '▸ ' : '  '}
          {agentLine(s)}
        </Text>
      ))}
      {cut ? <Text dimColor>{`  +${summaries.length - lines.length} more (gpulink context ls)`}</Text> : null}
    </>
  );
}
