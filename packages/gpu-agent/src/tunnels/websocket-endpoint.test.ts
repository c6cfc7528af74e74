// The WebSocket endpoint against a plain TCP echo server standing in for the agent's TLS listener:
// it copies bytes unchanged both ways, answers everything else with a status, and close() ends it all.
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startWebSocketEndpoint, WEBSOCKET_PATH, type WebSocketEndpoint } from './websocket-endpoint.js';

let echo: Server;
let endpoint: WebSocketEndpoint;

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const port = (echo.address() as { port: number }).port;
  endpoint = await startWebSocketEndpoint({
    host: '127.0.0.1',
    port: 0,
    target: { host: '127.0.0.1', port },
  });
});

afterAll(async () => {
  await endpoint?.close();
  echo?.close();
});

const open = (path: string) => new WebSocket(`ws://127.0.0.1:${endpoint.port}${path}`);

describe('the WebSocket endpoint', () => {
  it('carries bytes to the listener and back unchanged, in any chunking', async () => {
    const ws = open(WEBSOCKET_PATH);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const sent = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        received.push(data);
        if (Buffer.concat(received).length >= sent.length) resolve();
      });
    });
    ws.send(sent.subarray(0, 5));
    ws.send(sent.subarray(5, 40_000));
    ws.send(sent.subarray(40_000));
    await done;
    expect(Buffer.concat(received).equals(sent)).toBe(true);
    expect(endpoint.connections).toBe(1);
    ws.close();
    await new Promise((resolve) => ws.once('close', resolve));
  });

  it('refuses WebSockets on any other path with 404', async () => {
    const ws = open('/elsewhere');
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(404);
    // Aborting a handshake that got an answer reports "closed before established": expected here.
    ws.once('error', () => undefined);
    ws.terminate();
  });

  it('tells a browser what it found', async () => {
    const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      get(`http://127.0.0.1:${endpoint.port}${WEBSOCKET_PATH}`, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      }).once('error', reject);
    });
    expect(body.status).toBe(426);
    expect(body.text).toMatch(/This is a gpulink agent\. Connect with the gpulink\+wss:\/\/ URL it printed/);
  });

  it('ends every open WebSocket when it closes', async () => {
    const own = await startWebSocketEndpoint({
      host: '127.0.0.1',
      port: 0,
      target: { host: '127.0.0.1', port: (echo.address() as { port: number }).port },
    });
    const ws = new WebSocket(`ws://127.0.0.1:${own.port}${WEBSOCKET_PATH}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise((resolve) => ws.once('close', resolve));
    await own.close();
    await closed;
    expect(own.connections).toBe(0);
  });
});
