// A long event stream whose connection drops every ~200 events, consumed with the SDK (`job.events()`
// resumes from the last seq it delivered): every event arrives exactly once, in order. The drops are
// real: a TCP relay between the SDK and the agent destroys both sockets.
//
// The SDK is a sibling package used from its built dist (as a user would), not from its source.
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JobEvent } from '@gpulink/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClients } from '../test-utils/clients.js';
import { startTcpProxy, startTestAgent, type TcpProxy, type TestAgent } from '../testing.js';
import { type RawClients, scriptSpec, submitJob, writeWorkspace } from './chaos-utils.js';

const EVENTS = 4_000;
const CUT_EVERY = 200;

// Writes log events on the worker's event pipe in bursts of 50, about 2,000 a second: the stream is
// still live while most of the drops happen.
const EMIT = `
import os, time
for i in range(${EVENTS}):
    os.write(3, b'{"log":{"stream":"LOG_STREAM_STDOUT","text":"drop %d"}}\\n' % i)
    if i % 50 == 49:
        time.sleep(0.025)
`;

let agent: TestAgent;
let c: RawClients;
let proxy: TcpProxy;
let ws: string;

beforeAll(async () => {
  ws = await writeWorkspace(join(tmpdir(), `gpulink-chaos-drops-${process.pid}`), { 'emit.py': EMIT });
  agent = await startTestAgent({ warmWorkers: 1 });
  c = rawClients(agent.port, agent.token);
  proxy = await startTcpProxy(agent.port);
});
afterAll(async () => {
  await proxy?.close();
  c?.close();
  await agent?.stop();
  await rm(ws, { recursive: true, force: true });
});

describe('job.events() while the connection drops every ~200 events', () => {
  it('delivers each event exactly once, in order, through to the end', async () => {
    const jobId = await submitJob(c, scriptSpec(ws, 'emit.py'));
    await using sdk = await connect(`gpulink://${agent.token}@127.0.0.1:${proxy.port}`);
    const job = await sdk.jobs.get(jobId);
    const seen: JobEvent[] = [];
    let cuts = 0;
    for await (const e of job.events({ retry: { maxAttempts: 30, initialDelayMs: 10, maxDelayMs: 200 } })) {
      seen.push(e);
      if (seen.length % CUT_EVERY === 0) {
        proxy.cutAll();
        cuts++;
      }
    }

    expect(seen.map((e) => e.seq)).toEqual(seen.map((_e, i) => i + 1));
    const printed = seen.flatMap((e) => (e.type === 'log' && e.text.startsWith('drop ') ? [e.text] : []));
    expect(printed).toEqual(Array.from({ length: EVENTS }, (_, i) => `drop ${i}`));
    const last = seen.at(-1);
    expect(last?.type === 'state' ? last.state : last?.type).toBe('succeeded');
    // The cuts happened, and most forced a new connection (a cut after the last event was already
    // buffered on the client side needs none; connect() made the first one).
    expect(cuts).toBeGreaterThanOrEqual(Math.floor(EVENTS / CUT_EVERY));
    expect(proxy.connections).toBeGreaterThan(cuts / 2 + 1);
  });
});
