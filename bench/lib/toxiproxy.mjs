// A shaped link between the SDK and the agent: Shopify's toxiproxy (a Go program) with latency and
// bandwidth toxics on both directions. Installed with `go install` when missing (into gpulink's cache
// folder, not the machine's PATH); driven through its HTTP API. The machine's own loopback is never
// reshaped: only connections made to the proxy's port cross the toxics.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './figures.mjs';

const execFileAsync = promisify(execFile);
const MODULE = 'github.com/Shopify/toxiproxy/v2/cmd/server';
const VERSION = 'v2.12.0';

/** Link profiles: one-way delay (ms, each direction) and bandwidth (Mbit/s, each direction). */
export const PROFILES = {
  'colab-tunnel': { delayMs: 40, mbit: 100 },
  far: { delayMs: 120, mbit: 30 },
  lan: { delayMs: 1, mbit: 1000 },
};

const cacheBin = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gpulink', 'bin');

/** The toxiproxy-server program: on PATH, in our cache, or built now with `go install`. */
export async function toxiproxyServer(log = () => {}) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'toxiproxy-server'))) return join(dir, 'toxiproxy-server');
  }
  const cached = join(cacheBin, 'toxiproxy-server');
  if (existsSync(cached)) return cached;
  log(`installing toxiproxy ${VERSION} (go install ${MODULE}@${VERSION})`);
  const gobin = await mkdtemp(join(tmpdir(), 'gpulink-toxiproxy-'));
  try {
    await execFileAsync('go', ['install', `${MODULE}@${VERSION}`], {
      env: { ...process.env, GOBIN: gobin },
      maxBuffer: 16 << 20,
    });
    await mkdir(cacheBin, { recursive: true });
    await rename(join(gobin, 'server'), cached);
  } catch (error) {
    throw new Error(`cannot install toxiproxy (needs Go and its module proxy): ${error.message}`);
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
  return cached;
}

/** Starts toxiproxy-server on a loopback port; resolves with link(), cut() and stop(). */
export async function startToxiproxy(log = () => {}) {
  const program = await toxiproxyServer(log);
  const apiPort = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(program, ['-host', '127.0.0.1', '-port', String(apiPort)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const api = `http://127.0.0.1:${apiPort}`;
  const call = async (method, path, body) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`toxiproxy-server exited: ${stderr}`);
    try {
      await call('GET', '/version');
      break;
    } catch (error) {
      if (i > 100) throw error;
      await sleep(100);
    }
  }
  let n = 0;
  return {
    /**
     * A proxy to `upstreamPort` shaped as `profile` (one of PROFILES); resolves with its port,
     * cut(ms) (every connection dropped and refused for ms) and close().
     */
    async link(upstreamPort, profile) {
      const shape = PROFILES[profile];
      if (!shape) throw new Error(`no link profile "${profile}" (${Object.keys(PROFILES).join(', ')})`);
      const name = `link${n++}`;
      const created = await call('POST', '/proxies', {
        name,
        listen: '127.0.0.1:0',
        upstream: `127.0.0.1:${upstreamPort}`,
        enabled: true,
      });
      for (const stream of ['upstream', 'downstream']) {
        await call('POST', `/proxies/${name}/toxics`, {
          name: `delay-${stream}`,
          type: 'latency',
          stream,
          attributes: { latency: shape.delayMs, jitter: 0 },
        });
        await call('POST', `/proxies/${name}/toxics`, {
          name: `rate-${stream}`,
          type: 'bandwidth',
          stream,
          // KB/s, as toxiproxy counts them (1000 bytes).
          attributes: { rate: Math.round((shape.mbit * 1e6) / 8 / 1000) },
        });
      }
      return {
        port: Number(created.listen.split(':').at(-1)),
        ...shape,
        async cut(ms) {
          await call('POST', `/proxies/${name}`, { enabled: false });
          await sleep(ms);
          await call('POST', `/proxies/${name}`, { enabled: true });
        },
        close: () => call('DELETE', `/proxies/${name}`),
      };
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}
