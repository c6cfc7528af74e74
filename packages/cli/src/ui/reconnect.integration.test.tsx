// Defect 7: the dashboard outlives its agent. It is stopped and another starts on a new port, saved
// in the profile as `gpulink down` / `gpulink up` would; the dashboard says it is reconnecting, then
// finds the new one through the profile.
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { afterAll, expect, it } from 'vitest';
import { connectAgent } from '../commands/context.js';
import { writeProfile } from '../config/profile.js';
import { isolatedHome } from '../test-utils/run-cli.js';
import { renderInTerminal, visible } from '../test-utils/terminal.js';
import { Dashboard } from './Dashboard.js';

const agents: TestAgent[] = [];
afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
});

async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end && !ok(); )
    await new Promise((r) => setTimeout(r, 50));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

it('reconnects through the profile to an agent that came back on a new port', async () => {
  Object.assign(process.env, await isolatedHome());
  delete process.env.GPULINK_URL;
  const first = await startTestAgent();
  agents.push(first);
  await writeProfile({ url: first.url });
  const client = await connectAgent({});
  const port = (url: string) => new URL(url.replace('gpulink://', 'http://')).port;
  const t = renderInTerminal(<Dashboard agent={client} reconnect={() => connectAgent({})} pollMs={200} />, {
    columns: 100,
    rows: 30,
  });
  const header = () => visible(t.lastFrame().split('\n')[0] ?? '');
  try {
    await until('the first agent', () => header().includes(`:${port(first.url)}`));
    // As `gpulink down` ends it: a signal (stop() would wait for the dashboard's open streams).
    first.kill('SIGTERM');
    await until('the word', () => header().includes('reconnecting'));
    // Long past the SDK's ten tries it still tries; then the agent comes back elsewhere.
    await new Promise((r) => setTimeout(r, 3000));
    const second = await startTestAgent();
    agents.push(second);
    expect(port(second.url)).not.toBe(port(first.url));
    await writeProfile({ url: second.url });
    await until('the second agent', () => header().includes(`:${port(second.url)}`));
    expect(header()).not.toContain('reconnecting');
  } finally {
    t.app.unmount();
    await client.close();
  }
});
