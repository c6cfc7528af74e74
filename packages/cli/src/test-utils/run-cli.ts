// The built `gpulink` as a user runs it: a child process with its own config folders, pointed at an
// agent by GPULINK_URL.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const gpulinkBin = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  env?: Record<string, string>;
  /** The folder it runs in. @default this process's */
  cwd?: string;
  /** Closes the reading end of stdout at once, as `| head -0` would: every write meets a closed pipe. */
  closeStdout?: boolean;
  /** Called with the child once it started, e.g. to send it SIGINT when its output shows up. */
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void;
}

/** Config, data and cache folders of their own, so a test never reads the user's profile. */
export async function isolatedHome(): Promise<Record<string, string>> {
  const home = await mkdtemp(join(tmpdir(), 'gpulink-cli-test-'));
  return {
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CACHE_HOME: join(home, 'cache'),
  };
}

/** Runs the built CLI with piped stdio (so in its plain mode) and waits for it to exit. */
export function runGpulink(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [gpulinkBin, ...args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  if (options.closeStdout) child.stdout.destroy();
  else
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(stdout, child);
    });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The current context's agent in the profile file under `configHome` (its XDG_CONFIG_HOME). */
export async function readCurrentProfile<P = { url: string }>(configHome: string): Promise<P> {
  const file = JSON.parse(await readFile(join(configHome, 'gpulink', 'profile.json'), 'utf8')) as {
    current: string;
    contexts: Record<string, P>;
  };
  const profile = file.contexts[file.current];
  if (!profile) throw new Error(`the profile file has no current context: ${JSON.stringify(file)}`);
  return profile;
}
