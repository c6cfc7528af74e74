// The real agent and a real Python worker running a small script job: job.events() across
// connections cut by a TCP proxy and across an agent restart, and an artifact download cut halfway.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startTcpProxy, type TcpProxy } from '@gpulink/gpu-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentClient, connect } from './client.js';
import { GpulinkError } from './errors.js';
import type { Job } from './jobs.js';
import {
  linesScript,
  runLines as runLinesIn,
  sha256Of,
  startTestAgent,
  type TestAgent,
  tempDir,
  writeFiles,
} from './test-utils/real-agent.js';
import type { JobEvent } from './types.js';

// Prints one line per size given (comma-separated), each that many characters long, at once.
const sizedLines = `
import sys
for i, size in enumerate(int(s) for s in sys.argv[1].split(",")):
    print(f"line {i:05d} " + "y" * (size - 11), flush=True)
`;

let agent: TestAgent;
let workspaceId: string;
let dir: string;

beforeAll(async () => {
  agent = await startTestAgent({ warmWorkers: 1 });
  dir = await tempDir('resume');
  await writeFiles(join(dir, 'workspace'), { 'lines.py': linesScript, 'sized.py': sizedLines });
  await using client = await connect(agent.url);
  const { dataset } = await client.datasets.upload(join(dir, 'workspace'), { hashCache: false });
  workspaceId = dataset.id;
});

afterAll(async () => {
  await agent?.stop();
});

function runLines(client: AgentClient, n: number, pause: number, size = 0): Promise<Job> {
  return runLinesIn(client, workspaceId, n, pause, size);
}

function expectDense(events: JobEvent[]): void {
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
}

function printedLines(events: JobEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'log' && e.stream === 'stdout' ? [e.text.slice(0, 10)] : []));
}

describe('job.events() against the real agent', () => {
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    await proxy?.close();
  });

  it('delivers every event exactly once while a proxy cuts the connection again and again', async () => {
    proxy = await startTcpProxy(agent.port);
    await using direct = await connect(agent.url);
    await using cut = await connect(`gpulink://${agent.token}@127.0.0.1:${proxy.port}`);
    const n = 400;
    const submitted = await runLines(direct, n, 0.005);
    const job = await cut.jobs.get(submitted.id);
    // About 60 log events fit in 6 KB, so every stream is cut several times while the job prints.
    proxy.cutEachAfterBytesToClient(6 * 1024);
    const events: JobEvent[] = [];
    for await (const e of job.events({ retry: { maxAttempts: 20, initialDelayMs: 20, maxDelayMs: 200 } })) {
      events.push(e);
    }
    proxy.cutEachAfterBytesToClient(undefined);

    expectDense(events);
    expect(printedLines(events)).toEqual(
      Array.from({ length: n }, (_, i) => `line ${String(i).padStart(5, '0')}`),
    );
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
    expect(proxy.connections).toBeGreaterThan(5);
    // The same log read in one piece, without cuts, is event for event what the cut stream delivered.
    const replay: JobEvent[] = [];
    for await (const e of (await direct.jobs.get(job.id)).events({ replayOnly: true })) replay.push(e);
    expect(replay).toEqual(events);
  });

  it('resumes when the link comes back, without waiting out a backoff longer than the test', async () => {
    const link = await startTcpProxy(agent.port);
    try {
      await using direct = await connect(agent.url);
      await using cut = await connect(`gpulink://${agent.token}@127.0.0.1:${link.port}`);
      const n = 200;
      const submitted = await runLines(direct, n, 0.01);
      const job = await cut.jobs.get(submitted.id);
      // Every retry's backoff is an hour: only a retry on the link's return can deliver the rest.
      const retry = { maxAttempts: 3, initialDelayMs: 3_600_000, maxDelayMs: 3_600_000 };
      const events: JobEvent[] = [];
      for await (const e of job.events({ retry })) {
        events.push(e);
        if (events.length === 20) {
          // The link goes down (open connections cut, new ones refused) and comes back a second later.
          link.refuse(true);
          link.cutAll();
          setTimeout(() => link.refuse(false), 1000);
        }
      }
      expectDense(events);
      expect(printedLines(events)).toEqual(
        Array.from({ length: n }, (_, i) => `line ${String(i).padStart(5, '0')}`),
      );
      expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
      expect(link.connections).toBeGreaterThan(1);
    } finally {
      await link.close();
    }
    // Far under the hour of backoff, far over a reconnect's second or two.
  }, 120_000);

  it('delivers every event once through a link cut every 16 KiB, with log lines of 1 KB and 10 KB', async () => {
    const link = await startTcpProxy(agent.port);
    try {
      await using direct = await connect(agent.url);
      await using cut = await connect(`gpulink://${agent.token}@127.0.0.1:${link.port}`);
      // 90 lines, 300 KB in all: each stream is cut many times, and a 10 KB line comes every third.
      const sizes = Array.from({ length: 90 }, (_, i) => (i % 3 === 2 ? 10_240 : 1024));
      const submitted = await direct.runScript({
        workspace: { datasetId: workspaceId },
        entrypoint: 'sized.py',
        args: [sizes.join(',')],
        name: 'sized-lines',
      });
      const job = await cut.jobs.get(submitted.id);
      link.cutEachAfterBytesToClient(16 * 1024);
      // The default number of tries: a stream that makes progress never runs out of them.
      const retry = { initialDelayMs: 20, maxDelayMs: 200 };
      const watch = async (replayOnly: boolean) => {
        const events: JobEvent[] = [];
        for await (const e of job.events({ replayOnly, retry })) events.push(e);
        return events;
      };
      // Followed while it runs, then replayed from the agent's log once it has finished.
      const live = await watch(false);
      await submitted.wait();
      const replayed = await watch(true);
      link.cutEachAfterBytesToClient(undefined);

      for (const events of [live, replayed]) {
        expectDense(events);
        const printed = events.flatMap((e) => (e.type === 'log' && e.stream === 'stdout' ? [e.text] : []));
        expect(printed.map((t) => t.length)).toEqual(sizes);
        expect(printed.map((t) => t.slice(0, 10))).toEqual(
          sizes.map((_, i) => `line ${String(i).padStart(5, '0')}`),
        );
        expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
      }
      expect(link.connections).toBeGreaterThan(10);
      const uncut: JobEvent[] = [];
      for await (const e of (await direct.jobs.get(job.id)).events({ replayOnly: true })) uncut.push(e);
      expect(replayed).toEqual(uncut);
      expect(live).toEqual(uncut);
    } finally {
      await link.close();
    }
  });

  it('asks for smaller messages through a link cut every 3 KiB, and every event gets through once', async () => {
    const link = await startTcpProxy(agent.port);
    try {
      await using direct = await connect(agent.url);
      await using cut = await connect(`gpulink://${agent.token}@127.0.0.1:${link.port}`);
      // The agent's first message of a stream holds a few 1 KB lines: more than this link carries.
      const sizes = Array.from({ length: 30 }, () => 1024);
      const submitted = await direct.runScript({
        workspace: { datasetId: workspaceId },
        entrypoint: 'sized.py',
        args: [sizes.join(',')],
        name: 'sized-lines-small-link',
      });
      await submitted.wait();
      const job = await cut.jobs.get(submitted.id);
      link.cutEachAfterBytesToClient(3 * 1024);
      const events: JobEvent[] = [];
      for await (const e of job.events({ replayOnly: true, retry: { initialDelayMs: 20, maxDelayMs: 200 } }))
        events.push(e);
      link.cutEachAfterBytesToClient(undefined);

      expectDense(events);
      expect(printedLines(events)).toEqual(sizes.map((_, i) => `line ${String(i).padStart(5, '0')}`));
      expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' });
      const uncut: JobEvent[] = [];
      for await (const e of (await direct.jobs.get(job.id)).events({ replayOnly: true })) uncut.push(e);
      expect(events).toEqual(uncut);
    } finally {
      await link.close();
    }
  });

  it('delivers every event exactly once across an agent restart, ending with the interrupted state', async () => {
    await using client = await connect(agent.url);
    // Thirty seconds of output: the job is still printing when the agent stops.
    const job = await runLines(client, 1500, 0.02);
    const events: JobEvent[] = [];
    let restarted: Promise<void> | undefined;
    for await (const e of job.events()) {
      events.push(e);
      if (!restarted && e.type === 'log' && e.text.startsWith('line 00020')) {
        restarted = agent.stop({ keepState: true }).then(() => agent.restart());
      }
    }
    await restarted;

    expectDense(events);
    const lines = printedLines(events);
    expect(lines.length).toBeGreaterThan(20);
    expect(lines).toEqual(
      Array.from({ length: lines.length }, (_, i) => `line ${String(i).padStart(5, '0')}`),
    );
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'interrupted' });
    const info = await job.refresh();
    expect(info.state).toBe('interrupted');
    expect(info.lastSeq).toBe(events.length);
  });
});

describe('job.artifacts.download() against the real agent', () => {
  let job: Job;
  const size = 6 * 1024 * 1024 + 123;

  beforeAll(async () => {
    await using client = await connect(agent.url);
    const submitted = await runLines(client, 1, 0, size);
    await submitted.wait();
    job = submitted;
  });

  it('lists the artifact with its size and sha256', async () => {
    await using client = await connect(agent.url);
    const list = await (await client.jobs.get(job.id)).artifacts.list();
    expect(list).toEqual([expect.objectContaining({ name: 'blob.bin', sizeBytes: size, kind: 'file' })]);
    expect(list[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('resumes by itself after each cut and the sha256 matches', async () => {
    const proxy = await startTcpProxy(agent.port);
    try {
      await using client = await connect(`gpulink://${agent.token}@127.0.0.1:${proxy.port}`);
      const handle = await client.jobs.get(job.id);
      const [artifact] = await handle.artifacts.list();
      proxy.cutEachAfterBytesToClient(1536 * 1024);
      const dest = join(dir, 'auto', 'blob.bin');
      const result = await handle.artifacts.download('blob.bin', dest, { retry: { initialDelayMs: 20 } });
      expect(proxy.connections).toBeGreaterThanOrEqual(4);
      expect(result).toEqual({ path: dest, sizeBytes: size, sha256: artifact?.sha256, resumedFromBytes: 0 });
      expect(await sha256Of(dest)).toBe(artifact?.sha256);
      await expect(stat(`${dest}.part`)).rejects.toThrow();
    } finally {
      await proxy.close();
    }
  });

  it('says NOT_FOUND for an artifact the job does not have, and leaves no file behind', async () => {
    const { readdir } = await import('node:fs/promises');
    await using client = await connect(agent.url);
    const handle = await client.jobs.get(job.id);
    const folder = join(dir, 'missing');
    const error = await handle.artifacts
      .download('nope.bin', join(folder, 'nope.bin'))
      .catch((e: unknown) => e);
    expect((error as GpulinkError).code).toBe('NOT_FOUND');
    expect(await readdir(folder)).toEqual([]);
  });

  it('keeps the bytes of a download cut halfway and the next call fetches only the rest', async () => {
    const proxy = await startTcpProxy(agent.port);
    const dest = join(dir, 'manual', 'blob.bin');
    try {
      await using client = await connect(`gpulink://${agent.token}@127.0.0.1:${proxy.port}`);
      const handle = await client.jobs.get(job.id);
      proxy.cutEachAfterBytesToClient(3 * 1024 * 1024);
      const error = await handle.artifacts
        .download('blob.bin', dest, { retry: false })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GpulinkError);
      expect((error as GpulinkError).code).toBe('UNAVAILABLE');
      expect((error as GpulinkError).details).toMatch(/bytes are kept in .*blob\.bin\.part/);
    } finally {
      await proxy.close();
    }
    const kept = (await stat(`${dest}.part`)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(size);

    await using client = await connect(agent.url);
    const handle = await client.jobs.get(job.id);
    let firstProgress: number | undefined;
    const result = await handle.artifacts.download('blob.bin', join(dir, 'manual'), {
      onProgress: (done) => {
        firstProgress ??= done;
      },
    });
    expect(result.path).toBe(dest);
    expect(result.resumedFromBytes).toBe(kept);
    expect(firstProgress).toBeGreaterThan(kept);
    const [artifact] = await handle.artifacts.list();
    expect(result.sha256).toBe(artifact?.sha256);
    expect(await sha256Of(dest)).toBe(result.sha256);
  });
});
