// The real sampler path against a STAND-IN nvidia-smi (test-utils/nvidia-smi-standin.ts), since
// this machine has no GPU: one long-lived process, parsed rows, fan-out, stop.
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import type { StatsSample } from '@gpulink/proto';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClients } from '../test-utils/clients.js';
import { installNvidiaSmiStandIn } from '../test-utils/nvidia-smi-standin.js';
import { startTestAgent, type TestAgent } from '../testing.js';

let agent: TestAgent;
let c: ReturnType<typeof rawClients>;
let standInDir: string;

/** Processes of the stand-in running now, from the process table. */
const standInProcesses = () =>
  execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`${standInDir}/nvidia-smi`) && l.includes('-lms'));

beforeAll(async () => {
  standInDir = await installNvidiaSmiStandIn();
  agent = await startTestAgent({ env: { PATH: `${standInDir}:${process.env.PATH}` } });
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
  await rm(standInDir, { recursive: true, force: true });
});

const waitFor = async (check: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
    if (check()) return true;
  return check();
};

describe('WatchStats', () => {
  it('serves 100 subscribers from exactly one sampler process, which exits after they leave', async () => {
    expect(standInProcesses()).toHaveLength(0);
    const streams: ClientReadableStream<{ sample?: StatsSample }>[] = [];
    const firsts: Promise<StatsSample>[] = [];
    for (let i = 0; i < 100; i++) {
      const s = c.agent.watchStats({ intervalMs: 200 }, c.metadata());
      streams.push(s);
      firsts.push(
        new Promise((resolve, reject) => {
          s.once('data', (r: { sample?: StatsSample }) => resolve(r.sample as StatsSample));
          s.on('error', reject);
        }),
      );
    }
    const samples = await Promise.all(firsts);
    expect(standInProcesses()).toHaveLength(1);
    // The sampler holds back its first samples until nvidia-smi has answered, so none says "no GPU".
    expect(samples.every((s) => s.gpus.length === 2)).toBe(true);
    const gpus = samples.at(-1)?.gpus ?? [];
    expect(gpus.map((g) => g.name)).toEqual(['Tesla T4', 'Tesla T4']);
    expect(gpus[1]?.powerDrawWatts).toBeUndefined();
    expect(samples.at(-1)?.host?.memoryTotalBytes).toBeGreaterThan(0);
    for (const s of streams) s.cancel();
    expect(await waitFor(() => standInProcesses().length === 0, 10_000)).toBe(true);
  });
});
