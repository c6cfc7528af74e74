import { Box, Text } from 'ink';

/**
 * A job's output lines (what `gpulink logs` prints), `rows` at a time, `fromEnd` lines up from the
 * newest (0: follows the tail as lines come in). Lines are cut to the width, never wrapped.
 */
export function LogPane({
  lines,
  selected,
  rows,
  fromEnd,
}: {
  lines: string[];
  selected: boolean;
  rows: number;
  fromEnd: number;
}) {
  const end = lines.length - clampScroll(fromEnd, lines.length, rows);
  const first = Math.max(0, end - rows);
  const shown = lines.slice(first, end);
  if (lines.length === 0)
    return (
      <Text dimColor wrap="truncate-end">
        {selected ? 'no output from this job yet' : 'no job selected'}
      </Text>
    );
  return (
    <Box flexDirection="column">
      {shown.map((text, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a line's place in the output is its identity
        <Text key={first + i} wrap="truncate-end">
          {text}
        </Text>
      ))}
    </Box>
  );
}

/** A scroll position (lines up from the newest) kept within the lines there are. */
export function clampScroll(fromEnd: number, lines: number, rows: number): number {
  return Math.max(0, Math.min(fromEnd, lines - rows));
}
