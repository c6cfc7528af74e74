import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where the CLI keeps its profile: `$XDG_CONFIG_HOME/gpulink`, else `~/.config/gpulink`. */
export function configDir(): string {
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'gpulink');
}

/** Where the CLI keeps data: `$XDG_DATA_HOME/gpulink`, else `~/.local/share/gpulink`. */
export function dataDir(): string {
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'gpulink');
}

/** Where the embedded agent keeps its state and log: `$XDG_DATA_HOME/gpulink/local-agent`. */
export function localAgentDir(): string {
  return join(dataDir(), 'local-agent');
}

/**
 * The saved connection. `local` is set when the agent was started by `gpulink up`; `attached` when
 * `gpulink attach` started it on a Jupyter host (its state dir there, for `detach`).
 */
export interface Profile {
  url: string;
  local?: { pid: number; stateDir: string; logFile: string } | undefined;
  attached?: { server: string; stateDir: string; colabSession?: string | undefined } | undefined;
}

const profilePath = () => join(configDir(), 'profile.json');

export async function readProfile(): Promise<Profile | undefined> {
  try {
    return JSON.parse(await readFile(profilePath(), 'utf8')) as Profile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${profilePath()}: ${(error as Error).message}`);
  }
}

/** Saves the profile with mode 0600: it holds the agent's token. */
export async function writeProfile(profile: Profile): Promise<void> {
  const path = profilePath();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export async function clearProfile(): Promise<void> {
  await rm(profilePath(), { force: true });
}

/** The agent URL to use: --url, then GPULINK_URL, then the saved profile. */
export async function resolveAgentUrl(flag: string | undefined): Promise<string | undefined> {
  return flag || process.env.GPULINK_URL || (await readProfile())?.url;
}

/** An agent URL with its tokens replaced (the agent's, and a Jupyter server's), for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]+@/, '//***@').replace(/([?&]jupyter_token=)[^&#]*/, '$1***');
}
