import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where everything the agent keeps lives, under one root. */
export interface StateLayout {
  root: string;
  tokenFile: string;
  /** The agent's self-signed TLS certificate and its private key (PEM, mode 0600). */
  tlsCertFile: string;
  tlsKeyFile: string;
  /** Tunnel programs installed by `gpulink-agent setup --tunnel NAME`. */
  binDir: string;
  jobsDir: string;
  blobsDir: string;
  uploadsDir: string;
  datasetsDir: string;
  tmpDir: string;
}

/** `$XDG_DATA_HOME/gpulink/agent`, falling back to `~/.local/share/gpulink/agent`. */
export function defaultStateDir(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'gpulink', 'agent');
}

export async function openStateDir(root: string): Promise<StateLayout> {
  const layout: StateLayout = {
    root,
    tokenFile: join(root, 'token'),
    tlsCertFile: join(root, 'tls', 'agent.crt'),
    tlsKeyFile: join(root, 'tls', 'agent.key'),
    binDir: join(root, 'bin'),
    jobsDir: join(root, 'jobs'),
    blobsDir: join(root, 'blobs'),
    uploadsDir: join(root, 'uploads'),
    datasetsDir: join(root, 'datasets'),
    tmpDir: join(root, 'tmp'),
  };
  for (const dir of [
    root,
    layout.jobsDir,
    layout.blobsDir,
    layout.uploadsDir,
    layout.datasetsDir,
    layout.tmpDir,
  ]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  await chmod(root, 0o700);
  return layout;
}

/** Writes a file so that readers see the old or the new content, never a torn one. Mode 0600. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/**
 * The bearer token: read from `tokenFile` when given, else from the state dir, else generated at
 * first start and kept there with mode 0600.
 */
export async function loadOrCreateToken(layout: StateLayout, tokenFile?: string): Promise<string> {
  if (tokenFile) {
    const token = (await readFile(tokenFile, 'utf8')).trim();
    if (token.length < 16) throw new Error(`the token in ${tokenFile} is shorter than 16 characters`);
    return token;
  }
  try {
    const token = (await readFile(layout.tokenFile, 'utf8')).trim();
    if (token) return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(24).toString('base64url');
  await writeFileAtomic(layout.tokenFile, `${token}\n`);
  return token;
}
