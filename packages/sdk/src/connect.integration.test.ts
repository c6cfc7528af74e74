// connect(), authentication, agent facts and stats against the real agent.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from './client.js';
import { GpulinkError, hasStatus } from './errors.js';
import { startTestAgent, type TestAgent } from './test-utils/real-agent.js';

let agent: TestAgent;

beforeAll(async () => {
  agent = await startTestAgent();
});
afterAll(async () => {
  await agent?.stop();
});

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connect()', () => {
  it('checks readiness and reports what the agent is', async () => {
    await using client = await connect(agent.url);
    expect(client.info.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(client.info.protocolRevision).toBeGreaterThan(0);
    expect(client.info.startedAt).toBeInstanceOf(Date);
    expect(Array.isArray(client.info.gpus)).toBe(true);
    expect(client.displayUrl).toBe(`gpulink://***@127.0.0.1:${agent.port}`);
    expect((await client.getInfo()).hostname).toBe(client.info.hostname);
  });

  it('a wrong token is UNAUTHENTICATED, and the error names the cause', async () => {
    const wrong = agent.url.replace(agent.token, `${agent.token}x`);
    const error = await connect(wrong).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpulinkError);
    expect(hasStatus(error, 'UNAUTHENTICATED')).toBe(true);
    const e = error as GpulinkError;
    expect(e.message).toMatch(/^UNAUTHENTICATED: wrong token/);
    expect(e.message).toContain(`the agent at 127.0.0.1:${agent.port} refused the token in the agent URL`);
    expect(e.method).toBe('AgentService.GetInfo');
    expect(e.message).not.toContain(agent.token);
  });

  it('an agent that is not there is UNAVAILABLE, saying where it looked', async () => {
    const port = await closedPort();
    const error = await connect(`gpulink://t@127.0.0.1:${port}`, { timeoutMs: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(hasStatus(error, 'UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain(`cannot reach the agent at 127.0.0.1:${port}`);
    // The cause in a sentence, without grpc-js's framing around it.
    expect((error as Error).message).toBe(
      `UNAVAILABLE: cannot reach the agent at 127.0.0.1:${port}: connection refused (nothing listens there)`,
    );
  });

  it('runs the doctor', async () => {
    await using client = await connect(agent.url);
    const report = await client.checkEnvironment();
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    // The worker's Python, torch and fastai are what the project's virtualenv holds.
    for (const id of ['python', 'python.torch', 'python.fastai'])
      expect(byId.get(id), id).toMatchObject({ status: 'ok' });
    expect(byId.get('python.fastai')?.detail).toBe('2.8.8');
    // A problem always comes with its fix; the overall status is the worst one.
    for (const c of report.checks) expect(c.status === 'ok' || Boolean(c.fixHint), c.id).toBe(true);
    const order = ['ok', 'warn', 'fail'];
    expect(report.overall).toBe(order[Math.max(...report.checks.map((c) => order.indexOf(c.status)))]);
  });

  it('streams stats samples, and break ends the stream', async () => {
    await using client = await connect(agent.url);
    const samples = [];
    for await (const s of client.stats({ intervalMs: 100 })) {
      samples.push(s);
      if (samples.length === 2) break;
    }
    expect(samples).toHaveLength(2);
    expect(samples[0]?.host.memoryTotalBytes).toBeGreaterThan(0);
    expect(samples[0]?.time).toBeInstanceOf(Date);
  });

  it('lists jobs and says NOT_FOUND for an unknown one', async () => {
    await using client = await connect(agent.url);
    expect(Array.isArray(await client.jobs.list({ states: ['running'] }))).toBe(true);
    await expect(client.jobs.get('job_00000000000000000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      method: 'JobService.GetJob',
    });
  });
});
