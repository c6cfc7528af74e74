// Programs some tests need that are not npm packages: bore (crate bore-cli) for a real TCP relay,
// nginx for a real reverse proxy. `.ci/run` installs them; elsewhere the tests that need them skip,
// saying why, unless GPULINK_REQUIRE_TEST_TOOLS=1 (set by CI) turns a missing tool into a failure.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The program's path, or undefined after printing why the tests that need it are skipped. Looks in
 * PATH and the usual sbin and cargo folders (nginx lives in /usr/sbin, `cargo install` in ~/.cargo/bin).
 */
export function findTestTool(name: string, howToInstall: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/sbin',
    '/usr/local/sbin',
    join(process.env.HOME ?? '/root', '.cargo', 'bin'),
  ];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  const message = `${name} is not installed (${howToInstall})`;
  if (process.env.GPULINK_REQUIRE_TEST_TOOLS === '1') {
    throw new Error(
      `${message}, and GPULINK_REQUIRE_TEST_TOOLS=1 does not allow skipping the tests that need it`,
    );
  }
  console.warn(`SKIPPED: ${message}: the tests that need it are skipped`);
  return undefined;
}

/** A local bore relay server (`bore server`), standing in for bore.pub. */
export interface BoreRelay {
  /** What `--tunnel-server` takes. */
  readonly host: string;
  stop(): Promise<void>;
}

/** bore's relay listens for its clients on this fixed port; there is no option to change it. */
export const BORE_CONTROL_PORT = 7835;
const lockFile = join(tmpdir(), 'gpulink-test-bore-relay.lock');

/**
 * Starts `bore server` on 127.0.0.1. Its control port is fixed, so test files that each need a relay
 * take turns through a lock file (vitest runs files in parallel); a lock left by a dead process is
 * taken over.
 */
export async function startBoreRelay(bore: string, options: { waitMs?: number } = {}): Promise<BoreRelay> {
  const deadline = Date.now() + (options.waitMs ?? 10 * 60_000);
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lockFile, 'utf8') || 0);
      if (!owner || !existsSync(`/proc/${owner}`)) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another test (pid ${owner}) holds the bore relay`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  let child: ChildProcess;
  try {
    child = spawn(
      bore,
      ['server', '--bind-addr', '127.0.0.1', '--min-port', '20000', '--max-port', '29999'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', RUST_BACKTRACE: '0' } },
    );
    const output: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const onLine = (line: string) => {
        output.push(line);
        if (/server listening/.test(line)) resolve();
      };
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLine);
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', onLine);
      child.once('exit', (code) =>
        reject(
          new Error(
            `bore server exited (${code}); is port ${BORE_CONTROL_PORT} taken?\n${output.join('\n')}`,
          ),
        ),
      );
    });
  } catch (error) {
    await rm(lockFile, { force: true });
    throw error;
  }
  return {
    host: '127.0.0.1',
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(lockFile, { force: true });
    },
  };
}
