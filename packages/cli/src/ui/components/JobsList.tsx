import type { JobInfo } from '@gpulink/sdk';
import { Box, Text } from 'ink';
import { formatAge } from '../../view/format.js';
import type { SortKey } from '../job-list.js';
import { BORDER_COLUMNS, BORDER_ROWS, windowStart } from '../layout.js';

/**
 * The jobs pane: a window of `height - borders - 1` rows that keeps the selected job in view, each
 * row cut to the pane's fixed width (the pane never grows or shrinks with what its rows hold).
 */
export function JobsList({
  jobs,
  shortIds,
  selectedId,
  sort,
  filter,
  editingFilter,
  total,
  error,
  width,
  height,
}: {
  jobs: JobInfo[];
  shortIds: Map<string, string>;
  selectedId: string | undefined;
  sort: SortKey;
  filter: string;
  editingFilter: boolean;
  total: number;
  error: string | undefined;
  width: number;
  height: number;
}) {
  const visible = Math.max(1, height - BORDER_ROWS - 1 - (error ? 1 : 0));
  const selected = Math.max(
    0,
    jobs.findIndex((j) => j.id === selectedId),
  );
  const start = windowStart(jobs.length, visible, selected);
  const inner = width - BORDER_COLUMNS;
  const showAge = inner >= 44;
  const stateWidth = Math.max(0, ...jobs.map((j) => j.state.length));
  return (
    <Box
      borderStyle="round"
      paddingX={1}
      flexDirection="column"
      width={width}
      height={height}
      flexShrink={0}
      overflow="hidden"
    >
      <Text wrap="truncate-end">
        <Text bold>jobs</Text>
        <Text dimColor>
          {' '}
          {jobs.length < total ? `${jobs.length}/${total}` : total} · by {sort}
        </Text>
        {filter || editingFilter ? (
          <Text color="yellow">
            {' '}
            /{filter}
            {editingFilter ? '▏' : ''}
          </Text>
        ) : null}
      </Text>
      {total === 0 ? (
        <Text dimColor wrap="truncate-end">
          no jobs yet — try `gpulink demo`
        </Text>
      ) : jobs.length === 0 ? (
        <Text dimColor wrap="truncate-end">
          no job matches /{filter}
        </Text>
      ) : null}
      {jobs.slice(start, start + visible).map((j) => (
        <Text key={j.id} inverse={j.id === selectedId} wrap="truncate-end">
          {shortIds.get(j.id)} {j.state.padEnd(stateWidth)} {j.name || j.task.type}
          {showAge ? <Text dimColor> {formatAge(j.createdAt)}</Text> : null}
        </Text>
      ))}
      {error ? (
        <Text color="red" wrap="truncate-end">
          {error}
        </Text>
      ) : null}
    </Box>
  );
}
