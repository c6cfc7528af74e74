// The rsync baseline of the upload suite: an rsync daemon on 127.0.0.1 and `rsync -a` into it, so the
// bytes cross a loopback TCP connection as they would to a remote machine (not a local file copy).
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './figures.mjs';

const execFileAsync = promisify(execFile);

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`rsync daemon did not listen on ${port} within ${ms} ms`);
}

/** Starts `rsync --daemon` serving `dest` as module "bench"; resolves with sync() and stop(). */
export async function startRsyncDaemon(configDir, dest) {
  const port = await freePort();
  const config = join(configDir, 'rsyncd.conf');
  // uid/gid 0 only when we are root: a root daemon otherwise drops to "nobody", who cannot write here.
  const asRoot = process.getuid?.() === 0;
  await writeFile(
    config,
    [
      'use chroot = no',
      ...(asRoot ? ['uid = 0', 'gid = 0'] : []),
      '[bench]',
      `  path = ${dest}`,
      '  read only = no',
      '',
    ].join('\n'),
  );
  const child = spawn(
    'rsync',
    ['--daemon', '--no-detach', `--config=${config}`, `--port=${port}`, '--address=127.0.0.1'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitForPort(port, 10_000);
  return {
    port,
    /** `rsync -a src/ rsync://127.0.0.1:port/bench/<into>/`; `via` is another port to dial (a shaped link). */
    async sync(src, into, via = port) {
      await execFileAsync('rsync', ['-a', `${src}/`, `rsync://127.0.0.1:${via}/bench/${into}/`], {
        maxBuffer: 16 * 1024 * 1024,
      });
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}
