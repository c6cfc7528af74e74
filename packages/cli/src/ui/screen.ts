/**
 * The terminal's alternate screen, as full-screen tools (htop, nvitop, less) use it: what the
 * dashboard draws leaves the shell's screen and scrollback untouched, and is gone when it ends.
 */
const ENTER = '\x1b[?1049h\x1b[H';
const LEAVE = '\x1b[?1049l';

/**
 * Enters the alternate screen on `stdout` and returns the function that leaves it. It is left
 * however the process ends: that function, an exit (a crash included), or SIGTERM / SIGHUP.
 */
export function enterAlternateScreen(stdout: NodeJS.WriteStream = process.stdout): () => void {
  if (!stdout.isTTY) return () => {};
  let inside = true;
  const leave = () => {
    if (!inside) return;
    inside = false;
    process.off('exit', leave);
    for (const [signal, handler] of onSignal) process.off(signal, handler);
    stdout.write(LEAVE);
  };
  const onSignal = (['SIGTERM', 'SIGHUP'] as const).map((signal) => {
    const handler = () => {
      leave();
      process.exit(128 + (signal === 'SIGTERM' ? 15 : 1));
    };
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  process.once('exit', leave);
  stdout.write(ENTER);
  return leave;
}
