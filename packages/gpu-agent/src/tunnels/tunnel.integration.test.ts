// The tunnel supervisor with the real bore client and a real bore relay on loopback: it reports the
// public address, restarts a killed client on the same remote port and says so, ends a client left
// behind by a crashed agent, and explains a client that cannot start.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BoreRelay, findTestTool, startBoreRelay } from '../test-utils/external-tools.js';
import { processAlive } from '../test-utils/sample-data.js';
import { boreProgram } from './programs.js';
import { Tunnel } from './tunnel-process.js';

const bore = findTestTool('bore', 'cargo install bore-cli');

describe.skipIf(!bore)('a bore tunnel', () => {
  let relay: BoreRelay;
  let echo: Server;
  let echoPort: number;
  let dir: string;

  beforeAll(async () => {
    relay = await startBoreRelay(bore as string);
    dir = await mkdtemp(join(tmpdir(), 'gpulink-tunnel-'));
    // Stands in for the agent's listener: whatever comes through the relay is sent back.
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as { port: number }).port;
  });

  afterAll(async () => {
    echo?.close();
    await relay?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = (log: (m: string) => void, pidFile = join(dir, 'tunnel.pid')) =>
    Tunnel.start({
      program: boreProgram({ localHost: '127.0.0.1', localPort: echoPort, server: relay.host }),
      executable: bore as string,
      pidFile,
      log,
      onAddressChange: () => log('ADDRESS CHANGED'),
      startTimeoutMs: 10_000,
    });

  /** Sends a line through the relay's public port and reads it back. */
  const roundTrip = (port: number) =>
    new Promise<string>((resolve, reject) => {
      const s = new Socket();
      s.setTimeout(5_000, () => reject(new Error('no echo')));
      s.once('error', reject);
      s.connect(port, '127.0.0.1', () => s.write('ping\n'));
      s.once('data', (d) => {
        resolve(d.toString());
        s.destroy();
      });
    });

  const waitFor = async (what: () => boolean, ms = 20_000) => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('restarts a killed client on the same remote port and says so', async () => {
    const logged: string[] = [];
    const tunnel = await start((m) => logged.push(m));
    try {
      const { port } = tunnel.address;
      expect(tunnel.address).toMatchObject({ transport: 'grpc', host: '127.0.0.1' });
      expect(port).toBeGreaterThanOrEqual(20000);
      expect(await roundTrip(port)).toBe('ping\n');
      const first = tunnel.pid as number;
      expect(Number((await readFile(join(dir, 'tunnel.pid'), 'utf8')).trim())).toBe(first);

      process.kill(first, 'SIGKILL');
      await waitFor(() => logged.some((m) => /is back at/.test(m)));
      expect(logged.join('\n')).toMatch(
        /tunnel: bore was killed by SIGKILL.*restarting it in .*\(asking the relay for the same port/,
      );
      expect(logged.join('\n')).toContain(`tunnel: bore is back at 127.0.0.1:${port}; the URL is unchanged`);
      expect(logged).not.toContain('ADDRESS CHANGED');
      expect(tunnel.state).toBe('up');
      expect(tunnel.address.port).toBe(port);
      expect(tunnel.pid).not.toBe(first);
      expect(await roundTrip(port)).toBe('ping\n');
    } finally {
      await tunnel.stop();
    }
    expect(tunnel.state).toBe('stopped');
    await expect(readFile(join(dir, 'tunnel.pid'))).rejects.toThrow();
  });

  it('ends the client a crashed agent left running before starting its own', async () => {
    const pidFile = join(dir, 'crashed.pid');
    const orphan = await start(() => undefined, pidFile);
    const orphanPid = orphan.pid as number;
    const logged: string[] = [];
    const next = await start((m) => logged.push(m), pidFile);
    try {
      expect(logged.join('\n')).toContain(`ended bore (pid ${orphanPid}) left running by a previous agent`);
      await waitFor(() => !processAlive(orphanPid));
      expect(await roundTrip(next.address.port)).toBe('ping\n');
    } finally {
      await orphan.stop();
      await next.stop();
    }
    expect(processAlive(next.pid as number)).toBe(false);
  });

  it('explains a client that cannot reach its relay', async () => {
    const error = await Tunnel.start({
      // Nothing listens on 127.0.0.2:7835.
      program: boreProgram({ localHost: '127.0.0.1', localPort: echoPort, server: '127.0.0.2' }),
      executable: bore as string,
      pidFile: join(dir, 'nowhere.pid'),
      log: () => undefined,
      onAddressChange: () => undefined,
      startTimeoutMs: 10_000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^bore exited with code 1 before it reported a public address: could not connect to 127\.0\.0\.2:7835/,
    );
    expect((error as Error).message).toContain(
      'hint: bore needs its relay server reachable on TCP port 7835',
    );
  });
});
