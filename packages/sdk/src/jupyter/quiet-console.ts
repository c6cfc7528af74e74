// @jupyterlab/services logs its connection states to the console, as a browser app would ("Starting
// WebSocket: ...", "Connection lost, reconnecting in N seconds.", "Kernel: restarting (...)"). In Node,
// console.debug and console.log write to stdout: into a CLI's tables or its NDJSON. The SDK reports
// these states itself (a dropped connection is retried, a failure says why), so while a Jupyter
// transport is in use exactly those lines are dropped; everything else passes through unchanged.
const libraryLines = [
  /^Starting WebSocket: /,
  /^Connection lost, reconnecting in \d+ seconds\.$/,
  /^Kernel: \w+ \(/,
  /^Comm not found for comm id /,
];

let installed = false;

/** @internal Installs the filter once per process. */
export function quietJupyterClient(): void {
  if (installed) return;
  installed = true;
  for (const level of ['debug', 'log', 'warn', 'error'] as const) {
    const original = console[level].bind(console);
    console[level] = (...args: unknown[]) => {
      const [first] = args;
      if (typeof first === 'string' && libraryLines.some((line) => line.test(first))) return;
      original(...args);
    };
  }
}
