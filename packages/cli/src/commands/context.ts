import { type AgentClient, connect, isGpulinkError } from '@gpulink/sdk';
import { redactUrl, resolveAgentUrl } from '../config/profile.js';

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

/** Options every command takes. */
export interface GlobalOptions {
  json?: boolean;
  url?: string;
}

/** How to print: NDJSON with --json, plain lines when stdout is not a terminal, Ink otherwise. */
export type OutputMode = 'json' | 'plain' | 'interactive';

export function outputMode(options: GlobalOptions): OutputMode {
  if (options.json) return 'json';
  return process.stdout.isTTY && process.stdin.isTTY ? 'interactive' : 'plain';
}

/**
 * A reader that closed its end of stdout (`gpulink jobs | head -1`) wants no more: the command ends
 * there with exit 0, as a Unix tool killed by SIGPIPE would end, rather than with a stack trace.
 * Node ignores SIGPIPE, so the closed pipe shows up as an EPIPE error on the stream instead.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(EXIT.ok);
    });
  }
}

const interrupt = new AbortController();
let listening = false;

/**
 * Aborted by Ctrl-C, for a command that stops cleanly on it (a watch loop) rather than being killed.
 * The command then ends however its aborted calls make it end; bin.ts exits 130 without a message.
 */
export function interruptSignal(): AbortSignal {
  if (!listening) {
    listening = true;
    process.once('SIGINT', () => interrupt.abort());
  }
  return interrupt.signal;
}

export function wasInterrupted(): boolean {
  return interrupt.signal.aborted;
}

/** One NDJSON record: dates as ISO strings, stable field names from the SDK's types. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A failure the command explains in one line and maps to an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}

/** Connects to the configured agent, or says how to get one. */
export async function connectAgent(options: GlobalOptions): Promise<AgentClient> {
  const url = await resolveAgentUrl(options.url);
  if (!url) {
    throw new CliError(
      'no agent configured: run `gpulink up` to start a local one, or `gpulink connect URL` for a remote one',
    );
  }
  return connectTo(url);
}

/** Connects to `url`; a failure says what went wrong and, when nothing answered, how to get an agent. */
export async function connectTo(url: string): Promise<AgentClient> {
  try {
    return await connect(url);
  } catch (error) {
    if (!isGpulinkError(error)) throw error;
    // The SDK's message names the host and port; the URL is only repeated when that message does not.
    if (error.code === 'UNAVAILABLE')
      throw new CliError(`${error.message}; is it running? \`gpulink up\` starts a local one`);
    throw new CliError(`cannot use the agent at ${redactUrl(url)}: ${error.message}`);
  }
}

/** Runs `fn` with a connected agent and always closes it. */
export async function withAgent<T>(
  options: GlobalOptions,
  fn: (agent: AgentClient) => Promise<T>,
): Promise<T> {
  const agent = await connectAgent(options);
  try {
    return await fn(agent);
  } finally {
    await agent.close();
  }
}
