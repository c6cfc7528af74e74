// A leaf: what a command's failure is and which exit code it maps to. Imports nothing of the CLI, so
// every layer (config/, commands/, view/) can use it without an import pointing back up.

/** Exit codes: what happened, for scripts. */
export const EXIT = {
  ok: 0,
  /** The command could not do its work (no agent, bad input, a refused call). */
  error: 1,
  usage: 2,
  /** The job it followed FAILED. */
  jobFailed: 3,
  /** The job it followed was CANCELLED or INTERRUPTED. */
  jobStopped: 4,
  /** Stopped by Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2). */
  interrupted: 130,
} as const;

/** A failure the command explains in one line and maps to an exit code; `cause` keeps what it wraps. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
