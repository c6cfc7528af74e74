// A terminal of a set size for Ink views in tests: what Ink writes to it, as a real terminal would get it.
import { EventEmitter } from 'node:events';
import { render } from 'ink';
import type { ReactNode } from 'react';

/** Full-clear sequences: erase display, erase scrollback. Ink writes them when a frame fills the screen. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escapes are what is looked for
export const FULL_CLEAR = /\x1b\[[23]J/;

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what is stripped
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g;

/** What a line shows, without its colours. */
export function visible(line: string): string {
  return line.replace(ANSI, '');
}

class FakeStdout extends EventEmitter {
  readonly isTTY = true;
  readonly writes: string[] = [];
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (data: string) => {
    this.writes.push(data);
    return true;
  };
}

class FakeStdin extends EventEmitter {
  readonly isTTY = true;
  private pending: string | null = null;
  write = (data: string) => {
    this.pending = data;
    this.emit('readable');
    this.emit('data', data);
  };
  read = () => {
    const data = this.pending;
    this.pending = null;
    return data;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

/**
 * Renders `node` into a terminal `columns` x `rows`. With `frames` (Ink's debug mode) each write is
 * one whole frame; without, the writes are what a terminal would get from the CLI (redraws, clears).
 */
export function renderInTerminal(
  node: ReactNode,
  { columns, rows, frames = true }: { columns: number; rows: number; frames?: boolean },
) {
  const stdout = new FakeStdout(columns, rows);
  const stdin = new FakeStdin();
  const stderr = new FakeStdout(columns, rows);
  const app = render(node, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    debug: frames,
    exitOnCtrlC: false,
    patchConsole: false,
    // Otherwise as ui/render.tsx renders the views: Ink's plain redraws, not its incremental mode.
  });
  return {
    app,
    stdin,
    writes: stdout.writes,
    /** The last frame written (not a lone cursor or mode sequence). */
    lastFrame: () => stdout.writes.findLast((w) => w.includes('\n')) ?? '',
    resize(c: number, r: number) {
      stdout.columns = c;
      stdout.rows = r;
      stdout.emit('resize');
    },
  };
}
