// `gpulink-agent setup --tunnel NAME`: downloads a tunnel program from its project's own release URL
// into a folder (by default the state dir's bin/). Used on Colab, where neither program is installed.
// No test downloads anything: test machines have no internet, and the real path runs on Colab.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TunnelKind } from './programs.js';

/** bore has no "latest" download URL; this is the release the agent is tested against (crate bore-cli). */
export const BORE_VERSION = '0.6.0';

/** A release asset: where it is and how the program sits inside it. */
export interface ReleaseAsset {
  url: string;
  /** `binary`: the file is the program; `tar.gz`/`zip`: an archive holding it. */
  format: 'binary' | 'tar.gz' | 'zip';
}

/**
 * The official download for a program on a platform (`process.platform`, `process.arch` values).
 * Sources: github.com/ekzhang/bore releases (pinned), github.com/cloudflare/cloudflared releases
 * ("latest"), and ngrok's own download host for the v3 agent ("stable").
 */
export function releaseAsset(kind: TunnelKind, platform: string, arch: string): ReleaseAsset {
  const cpu = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[arch];
  if ((platform !== 'linux' && platform !== 'darwin') || !cpu) {
    throw new Error(
      `setup --tunnel ${kind}: no download for ${platform}/${arch}; install ${kind} yourself and put it on PATH`,
    );
  }
  switch (kind) {
    case 'bore': {
      const target = `${cpu === 'amd64' ? 'x86_64' : 'aarch64'}-${platform === 'linux' ? 'unknown-linux-musl' : 'apple-darwin'}`;
      return {
        url: `https://github.com/ekzhang/bore/releases/download/v${BORE_VERSION}/bore-v${BORE_VERSION}-${target}.tar.gz`,
        format: 'tar.gz',
      };
    }
    case 'cloudflared': {
      const base = 'https://github.com/cloudflare/cloudflared/releases/latest/download';
      return platform === 'linux'
        ? { url: `${base}/cloudflared-linux-${cpu}`, format: 'binary' }
        : { url: `${base}/cloudflared-darwin-${cpu}.tgz`, format: 'tar.gz' };
    }
    case 'ngrok': {
      const base = 'https://bin.equinox.io/c/bNyj1mQVY4c';
      return platform === 'linux'
        ? { url: `${base}/ngrok-v3-stable-linux-${cpu}.tgz`, format: 'tar.gz' }
        : { url: `${base}/ngrok-v3-stable-darwin-${cpu}.zip`, format: 'zip' };
    }
  }
}

/**
 * Downloads `kind` for this machine into `binDir` (made if missing) and returns its path. The file
 * appears there complete and executable, or not at all.
 */
export async function installTunnelProgram(
  kind: TunnelKind,
  binDir: string,
  say: (message: string) => void,
): Promise<string> {
  const asset = releaseAsset(kind, process.platform, process.arch);
  await mkdir(binDir, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(binDir, `.${kind}-download-`));
  try {
    say(`downloading ${asset.url}`);
    const response = await fetch(asset.url, { redirect: 'follow' });
    if (!response.ok) throw new Error(`GET ${asset.url}: HTTP ${response.status} ${response.statusText}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const downloaded = join(work, 'download');
    await writeFile(downloaded, bytes);
    let program = downloaded;
    if (asset.format !== 'binary') {
      const unpacked = join(work, 'unpacked');
      await mkdir(unpacked);
      const [cmd, args] =
        asset.format === 'zip'
          ? ['unzip', ['-q', downloaded, '-d', unpacked]]
          : ['tar', ['-xzf', downloaded, '-C', unpacked]];
      await promisify(execFile)(cmd as string, args as string[]);
      program = await findIn(unpacked, kind);
    }
    await chmod(program, 0o755);
    const target = join(binDir, kind);
    await rename(program, target);
    say(`installed ${kind} (${(bytes.length / 1e6).toFixed(1)} MB) as ${target}`);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The archive's file named `name`, at its top or one folder down. */
async function findIn(dir: string, name: string): Promise<string> {
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry);
    if ((entry === name || entry.endsWith(`/${name}`)) && (await stat(path)).isFile()) return path;
  }
  throw new Error(`the downloaded archive holds no file named ${name}`);
}
