// `serve --tunnel bore` end to end, through a real bore relay on loopback (`bore server`, crate
// bore-cli, started here) standing in for bore.pub: the SDK connects with the URL the agent printed,
// uploads and trains; the agent's bore client is killed mid-stream, the agent restarts it on the same
// remote port, and the SDK's event stream resumes with no gap.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startTcpProxy, type TcpProxy } from '@gpulink/gpu-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentUrl } from './agent-url.js';
import { connect } from './client.js';
import {
  type BoreRelay,
  findTestTool,
  makeDigits,
  smallDigitsJob,
  startBoreRelay,
  startTestAgent,
  type TestAgent,
  tempDir,
} from './test-utils/real-agent.js';
import type { JobEvent } from './types.js';

const bore = findTestTool('bore', 'cargo install bore-cli');

/** The agent's bore client: its child process named bore. */
function boreClientPid(agentPid: number): number {
  const out = execFileSync('pgrep', ['-P', String(agentPid), '-x', 'bore'])
    .toString()
    .trim();
  const pids = out.split('\n').map(Number);
  expect(pids).toHaveLength(1);
  return pids[0] as number;
}

describe.skipIf(!bore)('gpulink:// through a bore relay', () => {
  let relay: BoreRelay;
  let agent: TestAgent;
  let dir: string;
  let counter: TcpProxy | undefined;

  beforeAll(async () => {
    dir = await tempDir('bore');
    relay = await startBoreRelay(bore as string);
    [agent] = await Promise.all([
      startTestAgent({
        warmWorkers: 1,
        extraArgs: ['--tunnel', 'bore', '--tunnel-server', relay.host],
        // The agent finds bore on PATH, as on a user's machine.
        env: { PATH: `${join(bore as string, '..')}:${process.env.PATH}` },
      }),
      makeDigits(join(dir, 'digits'), { size: 16, perClass: 20 }),
    ]);
  });

  afterAll(async () => {
    await counter?.close();
    await agent?.stop();
    await relay?.stop();
  });

  it('prints a TLS URL at the relay, and keeps the token out of its logs', () => {
    const url = parseAgentUrl(agent.url);
    expect(url).toMatchObject({ transport: 'grpc', host: '127.0.0.1', fingerprint: agent.fingerprint });
    expect(url.port).not.toBe(agent.port);
    expect(url.port).toBeGreaterThanOrEqual(20000);
    expect(agent.stderr()).toMatch(/tunnel: bore is up \(pid \d+\) at 127\.0\.0\.1:\d+/);
  });

  it('trains while bore is killed mid-stream: restarted on the same port, the stream resumes with no gap', async () => {
    const relayPort = parseAgentUrl(agent.url).port;
    // Counts the SDK's connections to the relay, so the test knows the stream really was cut.
    counter = await startTcpProxy(relayPort);
    const viaCounter = agent.url.replace(`:${relayPort}?`, `:${counter.port}?`);
    await using client = await connect(viaCounter);
    const { dataset } = await client.datasets.upload(join(dir, 'digits'), { hashCache: false });
    const job = await client.trainVision(smallDigitsJob(dataset.id, { epochs: 2 }));
    const events: JobEvent[] = [];
    let killedAt: number | undefined;
    let connectionsBefore = 0;
    for await (const e of job.events()) {
      events.push(e);
      if (killedAt === undefined && e.type === 'batch') {
        killedAt = e.seq;
        connectionsBefore = counter.connections;
        process.kill(boreClientPid(agent.process.pid as number), 'SIGKILL');
      }
    }

    expect(killedAt).toBeDefined();
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === 'epochEnded')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
    // The cut stream reconnected through the relay, and got the events logged after the kill.
    expect(counter.connections).toBeGreaterThan(connectionsBefore);
    expect(events.length).toBeGreaterThan(killedAt as number);

    const stderr = agent.stderr();
    expect(stderr).toMatch(
      /tunnel: bore was killed by SIGKILL; clients are cut off until it is back; restarting it/,
    );
    expect(stderr).toContain(`tunnel: bore is back at 127.0.0.1:${relayPort}; the URL is unchanged`);
    expect(stderr).not.toContain(agent.token);
    // The same URL still works after the restart.
    await using again = await connect(agent.url);
    expect((await again.jobs.get(job.id)).info.state).toBe('succeeded');
  });
});
