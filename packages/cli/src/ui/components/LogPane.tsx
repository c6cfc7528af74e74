import { Box, Text } from 'ink';
import type { JobView } from '../../view/job-view.js';

/**
 * A job's output lines, `rows` at a time, `fromEnd` lines up from the newest (0: follows the tail as
 * lines come in). Lines are cut to the width, never wrapped.
 */
export function LogPane({
  view,
  rows,
  fromEnd,
}: {
  view: JobView | undefined;
  rows: number;
  fromEnd: number;
}) {
  const logs = view?.logs ?? [];
  const end = logs.length - clampScroll(fromEnd, logs.length, rows);
  const shown = logs.slice(Math.max(0, end - rows), end);
  if (logs.length === 0)
    return (
      <Text dimColor wrap="truncate-end">
        {view ? 'no output from this job yet' : 'no job selected'}
      </Text>
    );
  return (
    <Box flexDirection="column">
      {shown.map((l) => (
        <Text key={l.seq} color={l.stream === 'stderr' ? 'yellow' : undefined} wrap="truncate-end">
          {l.text}
        </Text>
      ))}
    </Box>
  );
}

/** A scroll position (lines up from the newest) kept within the lines there are. */
export function clampScroll(fromEnd: number, lines: number, rows: number): number {
  return Math.max(0, Math.min(fromEnd, lines - rows));
}
