import { type AgentClient, connect, isGpulinkError } from '@gpulink/sdk';
import { redactUrl, resolveAgentUrl } from '../config/profile.js';
import { CliError } from './cli-error.js';

export { CliError, EXIT } from './cli-error.js';

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

/** One NDJSON record: dates as ISO strings, stable field names from the SDK's types. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Connects to the configured agent, or says how to get one. */
export async function connectAgent(options: GlobalOptions): Promise<AgentClient> {
  const url = await resolveAgentUrl(options.url);
  if (!url) {
    throw new CliError(
      'no agent configured: run `gpulink up` to start a local one, or `gpulink connect URL` for a remote one',
    );
  }
  try {
    return await connect(url);
  } catch (error) {
    if (isGpulinkError(error))
      throw new CliError(`cannot reach the agent at ${redactUrl(url)}: ${error.message}`);
    throw error;
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
