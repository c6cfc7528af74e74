// `gpulink version` (and `--version` / `-V`): the CLI's version, and the agent's when one is configured
// and answers.
import { createRequire } from 'node:module';
import { connect } from '@gpulink/sdk';
import type { Command } from 'commander';
import { redactUrl, resolveAgentUrl } from '../config/profile.js';
import { type GlobalOptions, mergedOptions, outputMode, printJson, printLine } from './context.js';

/** How long the version waits for an agent: it is a quick look, not a connection attempt. */
const AGENT_TIMEOUT_MS = 3000;

export function cliVersion(): string {
  // dist/bin.js and src/ both sit one folder below the package's package.json.
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

export async function printVersion(options: GlobalOptions): Promise<void> {
  const cli = cliVersion();
  const url = await resolveAgentUrl(options.url).catch(() => undefined);
  let agent: { version: string; protocolRevision: number; hostname: string } | { error: string } | undefined;
  if (url) {
    try {
      await using client = await connect(url, { timeoutMs: AGENT_TIMEOUT_MS });
      const { agentVersion, protocolRevision, hostname } = client.info;
      agent = { version: agentVersion, protocolRevision, hostname };
    } catch (error) {
      agent = { error: (error as Error).message };
    }
  }
  if (outputMode(options) === 'json')
    return printJson({ cli, agent: agent && url ? { url: redactUrl(url), ...agent } : null });
  printLine(`gpulink ${cli}`);
  if (!agent) return;
  if ('error' in agent) printLine(`agent   not reachable at ${redactUrl(url as string)}: ${agent.error}`);
  else
    printLine(`agent   ${agent.version} on ${agent.hostname} (protocol revision ${agent.protocolRevision})`);
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description("the CLI's version, and the agent's when it answers (as gpulink --version)")
    .option('--json', 'as JSON: {"cli": ..., "agent": {...} | null}')
    .addHelpText('after', '\nExamples:\n  gpulink --version\n  gpulink version --json')
    .action((o: GlobalOptions, cmd: Command) => printVersion(mergedOptions(o, cmd)));
}
