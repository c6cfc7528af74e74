import { type AgentClient, connect, hasStatus, isGpulinkError } from '@gpulink/sdk';
import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import { currentContext, listContexts, redactUrl, resolveAgentUrl, writeProfile } from '../config/profile.js';
import { colabSessionOf, withFreshColabToken } from './colab-cli.js';

/** Options every command takes. */
export interface GlobalOptions {
  json?: boolean;
  url?: string;
  /** A saved agent by name, for this command only (see config/profile.ts). */
  context?: string;
}

/** How to print: NDJSON with --json, plain lines when stdout is not a terminal, Ink otherwise. */
export type OutputMode = 'json' | 'plain' | 'interactive';

/**
 * An action's options merged with those its command inherits (`--url`, given before the command's
 * name): commander hands an action only the options of its own command.
 */
export function mergedOptions<O extends GlobalOptions>(options: O, command: Command): O {
  return { ...command.optsWithGlobals(), ...options };
}

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

const sayOnStderr = (message: string) => process.stderr.write(`${message}\n`);

/**
 * The agent URL with its Colab session's current runtime-proxy token (refreshed through Google's Colab
 * CLI when due, or at once with `force`), saved into the profile when it came from there. Every
 * command that reaches an attached agent goes through here.
 */
export async function freshAgentUrl(url: string, force = false): Promise<string> {
  const fresh = await withFreshColabToken(url, { force, say: sayOnStderr });
  if (fresh !== url) {
    const current = await currentContext();
    if (current?.profile.url === url) await writeProfile({ ...current.profile, url: fresh }, current.name);
  }
  return fresh;
}

/** Connects to the configured agent, or says how to get one. */
export async function connectAgent(options: GlobalOptions): Promise<AgentClient> {
  const configured = await resolveAgentUrl(options.url);
  if (!configured) {
    throw new CliError(
      'no agent configured: run `gpulink up` to start a local one, or `gpulink connect URL` for a remote one',
    );
  }
  const url = await freshAgentUrl(configured);
  try {
    return await connectTo(url);
  } catch (error) {
    // Colab's runtime proxy can refuse a token before the time the session file gives: refresh it once.
    if (!(colabSessionOf(url) && hasStatus((error as CliError).cause, 'UNAUTHENTICATED'))) throw error;
    return connectTo(await freshAgentUrl(url, true));
  }
}

/** Connects to the saved agent named `name`, its URL read again each time (`up` may have moved it). */
export async function connectContext(name: string): Promise<AgentClient> {
  const context = (await listContexts()).find((c) => c.name === name);
  if (!context) throw new CliError(`no saved agent '${name}' any more (gpulink context ls)`);
  return connectTo(await freshAgentUrl(context.url));
}

/**
 * The saved agents a dashboard shows side by side, and which one it shows first: undefined when the
 * agent was named by --url or $GPULINK_URL, or fewer than two are saved.
 */
export async function dashboardContexts(
  options: GlobalOptions,
): Promise<
  { contexts: Array<{ name: string; connect: () => Promise<AgentClient> }>; shown: string } | undefined
> {
  if (options.url || (!options.context && process.env.GPULINK_URL)) return undefined;
  const saved = await listContexts();
  const shown = options.context ?? saved.find((c) => c.current)?.name;
  if (saved.length < 2 || shown === undefined) return undefined;
  return { contexts: saved.map((c) => ({ name: c.name, connect: () => connectContext(c.name) })), shown };
}

/** Connects to `url`; a failure says what went wrong and, when nothing answered, how to get an agent. */
export async function connectTo(url: string): Promise<AgentClient> {
  try {
    return await connect(url);
  } catch (error) {
    if (!isGpulinkError(error)) throw error;
    // The SDK's message names the host and port; the URL is only repeated when that message does not.
    if (error.code === 'UNAVAILABLE')
      throw new CliError(`${error.message}; is it running? \`gpulink up\` starts a local one`, EXIT.error, {
        cause: error,
      });
    throw new CliError(`cannot use the agent at ${redactUrl(url)}: ${error.message}`, EXIT.error, {
      cause: error,
    });
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
