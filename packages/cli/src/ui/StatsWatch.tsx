import type { AgentClient } from '@gpulink/sdk';
import { Box, Text, useApp, useInput } from 'ink';
import { AgentHeader } from './components/AgentHeader.js';
import { GpuPanel } from './components/GpuPanel.js';
import { type Reconnect, useAgentConnection } from './hooks/use-agent-connection.js';
import { useStats } from './hooks/use-stats.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { BORDER_COLUMNS, BORDER_ROWS } from './layout.js';

/** `gpulink stats --watch` in a terminal: the dashboard's GPU pane on the whole screen, until q. */
export function StatsWatch({
  agent: initial,
  reconnect,
  intervalMs,
  onQuit,
}: {
  agent: AgentClient;
  reconnect?: Reconnect;
  intervalMs: number;
  /** Called with how it ended: `q`, or Ctrl-C (which the command ends with exit 130). */
  onQuit?: (how: 'q' | 'ctrl-c') => void;
}) {
  const { exit } = useApp();
  const size = useTerminalSize();
  const { agent, connection, lost } = useAgentConnection(initial, reconnect);
  const { history, stale } = useStats(agent, { intervalMs, onLost: lost });
  useInput((input, key) => {
    const how = key.ctrl && input === 'c' ? 'ctrl-c' : input === 'q' || key.escape ? 'q' : undefined;
    if (!how) return;
    onQuit?.(how);
    exit();
  });
  const height = Math.max(6, size.rows - 1);
  const rows = height - 2 - BORDER_ROWS;
  return (
    <Box flexDirection="column" width={size.columns} height={height} overflow="hidden">
      <AgentHeader agent={agent} connection={connection} stale={stale} />
      <Box
        borderStyle="round"
        paddingX={1}
        flexDirection="column"
        height={rows + BORDER_ROWS}
        overflow="hidden"
      >
        <GpuPanel history={history} width={size.columns - BORDER_COLUMNS} rows={rows} />
      </Box>
      <Text dimColor wrap="truncate-end">
        every {intervalMs} ms · q quit
      </Text>
    </Box>
  );
}
