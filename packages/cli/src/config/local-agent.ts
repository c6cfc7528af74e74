import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { localAgentDir, type Profile, writeProfile } from './profile.js';

/** The agent's entry point, from the installed @gpulink/gpu-agent package (started, never imported). */
function agentBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@gpulink/gpu-agent/package.json')), 'dist', 'bin.js');
}

function localAgentPaths() {
  return { stateDir: join(localAgentDir(), 'state'), logFile: join(localAgentDir(), 'agent.log') };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The embedded agent that runs now, whatever the current profile is: the agent names itself (pid and
 * URL) in the lock it holds on its state dir, agent.lock.
 */
export async function runningLocalAgent(): Promise<Profile | undefined> {
  const { stateDir, logFile } = localAgentPaths();
  const holder = await readFile(join(stateDir, 'agent.lock'), 'utf8').then(
    (text) => JSON.parse(text) as { pid?: unknown; url?: unknown },
    () => undefined,
  );
  if (typeof holder?.pid !== 'number' || typeof holder.url !== 'string' || !isAlive(holder.pid))
    return undefined;
  return {
    url: holder.url,
    local: { pid: holder.pid, stateDir, logFile },
  };
}

/**
 * Starts the embedded agent in the background (its own session, output to a log file under the
 * data dir), waits for its ready line, and saves it as the current profile. One that runs already is
 * made the current profile again.
 */
export async function startLocalAgent(
  options: { onWait?: (message: string) => void } = {},
): Promise<Profile> {
  const existing = await runningLocalAgent();
  if (existing) {
    await writeProfile(existing);
    return existing;
  }
  const { stateDir, logFile } = localAgentPaths();
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const out = openSync(logFile, 'w', 0o600);
  const child = spawn(process.execPath, [agentBin(), 'serve', '--json', '--state-dir', stateDir], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new Error('could not start the local agent');
  options.onWait?.(`starting the local agent (log: ${logFile})`);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const line = text.split('\n').find((l) => l.startsWith('{"url"'));
    if (line) {
      const ready = JSON.parse(line) as { url: string };
      const profile: Profile = { url: ready.url, local: { pid, stateDir, logFile } };
      await writeProfile(profile);
      return profile;
    }
    if (!isAlive(pid))
      throw new Error(
        `the local agent exited while starting:\n${text.trim().split('\n').slice(-10).join('\n')}`,
      );
    await sleep(200);
  }
  process.kill(pid, 'SIGTERM');
  throw new Error(`the local agent did not become ready within 120 s (log: ${logFile})`);
}

/**
 * Stops the embedded agent: SIGTERM (it gives jobs a grace period), then SIGKILL after 20 s. Returns
 * the agent it stopped, if one ran.
 */
export async function stopLocalAgent(): Promise<Profile | undefined> {
  const running = await runningLocalAgent();
  const pid = running?.local?.pid;
  if (!pid) return undefined;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 20_000 && isAlive(pid); waited += 100) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  return running;
}
