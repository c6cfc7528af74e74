// The self-contained agent package `gpulink attach` uploads to a host: what `npm run pack:agent` makes.
// Taken from --package or GPULINK_AGENT_PACKAGE; in a checkout, made on the fly (and kept in the data
// dir) when there is none as new as the built agent.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CliError } from '../cli-error.js';
import { dataDir } from './profile.js';

function builtAgent(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@gpulink/gpu-agent/package.json')), 'dist', 'bin.js');
}

function newestPackage(dir: string, notOlderThan: number): string | undefined {
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir)
    .filter((name) => /^gpulink-gpu-agent-.*\.tgz$/.test(name))
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).mtimeMs >= notOlderThan)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

export function agentPackage(given: string | undefined, say: (message: string) => void): string {
  const chosen = given ?? process.env.GPULINK_AGENT_PACKAGE;
  if (chosen) {
    if (!existsSync(chosen)) throw new CliError(`the agent package ${chosen} does not exist`);
    return chosen;
  }
  const agentBin = builtAgent();
  const builtAt = existsSync(agentBin) ? statSync(agentBin).mtimeMs : 0;
  // In a checkout the agent package sits at packages/gpu-agent, beside scripts/pack-agent.mjs.
  const root = join(dirname(agentBin), '..', '..', '..');
  const packer = join(root, 'scripts', 'pack-agent.mjs');
  const cache = join(dataDir(), 'agent-package');
  const found = newestPackage(root, builtAt) ?? newestPackage(cache, builtAt);
  if (found) return found;
  if (!existsSync(packer)) {
    throw new CliError('no agent package to upload: give one with --package (npm run pack:agent makes it)');
  }
  say('making the agent package (npm run pack:agent)');
  const out = execFileSync(process.execPath, [packer, '--out', cache], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.toString().trim().split('\n').at(-1) ?? '';
}
