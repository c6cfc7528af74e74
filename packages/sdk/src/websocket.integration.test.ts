// gpulink+wss:// end to end: the real agent's WebSocket endpoint behind a real HTTPS reverse proxy on
// loopback (nginx, started here with its own config), standing in for a tunnel's edge such as a
// cloudflared quick tunnel. The proxy terminates its own TLS and passes the WebSocket; inside it runs
// the agent's TLS, pinned by the URL's fingerprint, and gRPC.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from './client.js';
import { GpulinkError, hasStatus } from './errors.js';
import { type NginxProxy, startNginxProxy } from './test-utils/nginx-proxy.js';
import {
  findTestTool,
  makeDigits,
  smallDigitsJob,
  startTestAgent,
  type TestAgent,
  tempDir,
} from './test-utils/real-agent.js';
import type { JobEvent } from './types.js';

const nginx = findTestTool('nginx', 'apt-get install nginx');

describe.skipIf(!nginx)('gpulink+wss:// through an HTTPS reverse proxy', () => {
  let agent: TestAgent;
  let proxy: NginxProxy;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    dir = await tempDir('wss');
    [agent] = await Promise.all([
      startTestAgent({ warmWorkers: 1, extraArgs: ['--ws-port', '0'] }),
      makeDigits(join(dir, 'digits'), { size: 16, perClass: 20 }),
    ]);
    proxy = await startNginxProxy(nginx as string, agent.webSocketPort as number);
    url = `gpulink+wss://${agent.token}@127.0.0.1:${proxy.port}/gpulink?fp=${agent.fingerprint}`;
  });

  afterAll(async () => {
    await proxy?.stop();
    await agent?.stop();
  });

  it('uploads data and trains a model, streaming every event, with the agent certificate pinned', async () => {
    expect(agent.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    await using client = await connect(url, { webSocketCa: proxy.caPem });
    expect(client.displayUrl).toBe(
      `gpulink+wss://***@127.0.0.1:${proxy.port}/gpulink?fp=${agent.fingerprint}`,
    );
    const { dataset } = await client.datasets.upload(join(dir, 'digits'), { hashCache: false });
    const job = await client.trainVision(
      smallDigitsJob(dataset.id, { batchSize: 32, metrics: ['accuracy'] }),
    );
    const events: JobEvent[] = [];
    for await (const e of job.events()) events.push(e);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.some((e) => e.type === 'batch')).toBe(true);
    expect(events.filter((e) => e.type === 'epochEnded')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
    const names = (await job.artifacts.list()).map((a) => a.name);
    expect(names).toContain('export.pkl');

    // The proxy saw WebSocket upgrades to /gpulink and nothing else: no token, no gRPC.
    const log = await proxy.accessLog();
    const requests = log.trim().split('\n');
    expect(requests.length).toBeGreaterThan(0);
    for (const line of requests)
      expect(line).toBe('GET /gpulink HTTP/1.1 101 upgrade=websocket authorization=-');
    expect(log).not.toContain(agent.token);
  });

  it('refuses to connect when the URL pins another fingerprint', async () => {
    const wrong = url.replace(/fp=[0-9a-f]{64}/, `fp=${'0'.repeat(64)}`);
    const error = await connect(wrong, { webSocketCa: proxy.caPem }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpulinkError);
    expect(hasStatus(error, 'UNAUTHENTICATED')).toBe(true);
    expect((error as Error).message).toContain(
      `has fingerprint ${agent.fingerprint}, but the URL pins ${'0'.repeat(64)}: refusing to connect`,
    );
  });

  it("checks the edge's own certificate too: an unknown CA is refused, saying so", async () => {
    const error = await connect(url, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(hasStatus(error, 'UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(
      /cannot reach the agent: the WebSocket to wss:\/\/127\.0\.0\.1:\d+\/gpulink failed: self[- ]signed certificate/,
    );
  });

  it('names the HTTP status when the edge has no WebSocket at that path', async () => {
    const elsewhere = url.replace('/gpulink?', '/elsewhere?');
    const error = await connect(elsewhere, { webSocketCa: proxy.caPem, timeoutMs: 10_000 }).catch(
      (e: unknown) => e,
    );
    expect(hasStatus(error, 'UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('/elsewhere was refused with HTTP 404');
  });
});
