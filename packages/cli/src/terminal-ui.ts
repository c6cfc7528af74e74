/**
 * Loads the Ink views, which the CLI uses only when its output is a terminal.
 *
 * Ink reads `CI` and `CONTINUOUS_INTEGRATION` once, when it is first imported (the is-in-ci
 * package), and while either is set it draws nothing but `<Static>` output: a user whose shell
 * exports CI=1 would get an empty dashboard. The CLI has already decided from the terminal itself
 * that the views are wanted, so Ink is imported with both hidden from it, and the environment is put
 * back at once (agents and tools started later see it unchanged).
 */
export async function loadTerminalUi(): Promise<typeof import('./ui/render.js')> {
  const hidden = ['CI', 'CONTINUOUS_INTEGRATION'] as const;
  const saved = hidden.map((name) => [name, process.env[name]] as const);
  for (const name of hidden) delete process.env[name];
  try {
    return await import('./ui/render.js');
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}
