import { Box, Text } from 'ink';

/** Every key the dashboard takes, by screen; `?` shows it. */
export const HELP: ReadonlyArray<readonly [string, string]> = [
  ['↑/↓  k/j', 'select a job (in the log: scroll a line)'],
  ['Enter', 'open the selected job: its detail on the whole screen'],
  ['l', "the selected job's log; again, or Esc, to go back"],
  ['PgUp/PgDn', 'scroll the log a page; g / G its start / end'],
  ['s', 'sort the jobs: newest, state, name'],
  ['/', 'filter the jobs by text (id, name, kind, state, tag); Enter keeps it, Esc clears'],
  ['c', 'cancel the selected job (asks first)'],
  ['a', 'the next saved agent (context): its GPUs and jobs (with more than one saved)'],
  ['Esc', 'back to the job list'],
  ['?', 'this help; any key closes it'],
  ['q  ctrl-c', 'quit'],
];

export function HelpOverlay({ rows }: { rows: number }) {
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        keys
      </Text>
      {HELP.slice(0, Math.max(0, rows - 1)).map(([keys, what]) => (
        <Text key={keys} wrap="truncate-end">
          <Text color="cyan">{keys.padEnd(11)}</Text> {what}
        </Text>
      ))}
    </Box>
  );
}
