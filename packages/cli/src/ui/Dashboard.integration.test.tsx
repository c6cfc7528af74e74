// The dashboard in a terminal of a set size, against a real agent (with the nvidia-smi stand-in for
// two GPUs) and jobs that run until cancelled: its frames fit, nothing clears the screen, and its keys.
import { installNvidiaSmiStandIn, startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect, type Job } from '@gpulink/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptJob } from '../test-utils/script-job.js';
import { FULL_CLEAR, renderInTerminal, visible } from '../test-utils/terminal.js';
import { Dashboard } from './Dashboard.js';
import { StatsWatch } from './StatsWatch.js';

let agent: TestAgent;
let client: AgentClient;
let running: Job;
const queued: Job[] = [];

beforeAll(async () => {
  const standIn = await installNvidiaSmiStandIn();
  agent = await startTestAgent({ env: { PATH: `${standIn}:${process.env.PATH}` } });
  client = await connect(agent.url);
  // 300 numbered lines, wider than any terminal, a one-epoch fastai fit (its table joins the log),
  // then it waits until cancelled.
  const script = await scriptJob(
    client,
    'talk.py',
    [
      'import time',
      'from fastai.test_utils import synth_learner',
      'for i in range(300):',
      '    print(f"line {i:03d} " + "x" * 250, flush=True)',
      'synth_learner(n_trn=64, n_val=32).fit(1)',
      'time.sleep(600)',
      '',
    ].join('\n'),
  );
  running = await client.runScript({ ...script, name: 'talker' });
  // Behind it (one job at a time on the CPU) they wait: more rows than an 80x24 screen has.
  for (let i = 0; i < 14; i++)
    queued.push(await client.runScript({ ...script, name: `waiting-${i}-with-a-name-longer-than-the-pane` }));
});

afterAll(async () => {
  for (const j of [...queued, running]) await j?.cancel().catch(() => {});
  await client?.close();
  await agent?.stop();
});

async function until(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end && !ok(); )
    await new Promise((r) => setTimeout(r, 50));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

/** Ink subscribes a frame's key handler in an effect after drawing it. */
const settled = () => new Promise((r) => setTimeout(r, 300));

/** The frame's lines, as shown. */
const linesOf = (frame: string) => frame.split('\n').map(visible);

function expectFits(frame: string, columns: number, rows: number) {
  const lines = linesOf(frame);
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(columns);
}

/** Renders the dashboard, selects the talking job and waits until its GPUs, rows and log show. */
async function dashboard(columns: number, rows: number, frames = true) {
  const t = renderInTerminal(<Dashboard agent={client} pollMs={200} />, { columns, rows, frames });
  const shows = () => t.writes.join('').includes('line 299') && t.writes.join('').includes('Tesla T4');
  await until('the GPUs', () => t.writes.join('').includes('Tesla T4'));
  // The list is polled every 200 ms: by now it holds every job.
  await new Promise((r) => setTimeout(r, 1000));
  // The talker is the oldest, at the bottom of the list: the filter finds it.
  // Each key once the frame shows what the one before did (a key can meet the frame's old handler).
  t.stdin.write('/');
  await until('the filter prompt', () => t.lastFrame().includes('type to filter'));
  await settled();
  t.stdin.write('talker');
  await until('the filter', () => visible(t.lastFrame()).includes('jobs 1/15'));
  await settled();
  t.stdin.write('\r');
  await until('the filter kept', () => !t.lastFrame().includes('type to filter'));
  await settled();
  // The first time, the worker has to start and print first.
  await until('the log and GPUs', shows, 90_000);
  await settled();
  return t;
}

describe('the dashboard at any size from 80x24 (defect 6)', () => {
  it.each([
    [80, 24],
    [120, 40],
    [200, 60],
  ])('never draws a frame taller than %i x %i less a row, or a line wider', async (columns, rows) => {
    const t = await dashboard(columns, rows);
    try {
      for (const frame of t.writes.slice(1)) expectFits(frame, columns, rows);
      expect(t.lastFrame()).toContain('line 299');
    } finally {
      t.app.unmount();
    }
  });

  it('lays itself out again when the terminal shrinks', async () => {
    const t = await dashboard(200, 60);
    try {
      t.resize(80, 24);
      await settled();
      expectFits(t.lastFrame(), 80, 24);
    } finally {
      t.app.unmount();
    }
  });

  it('never clears the screen while it updates', async () => {
    const t = await dashboard(80, 24, false);
    try {
      const before = t.writes.length;
      await new Promise((r) => setTimeout(r, 2500));
      expect(t.writes.length).toBeGreaterThan(before);
      expect(t.writes.filter((w) => FULL_CLEAR.test(w))).toEqual([]);
    } finally {
      t.app.unmount();
    }
  });

  it('keeps the jobs pane as wide whichever job is selected', async () => {
    const t = await dashboard(80, 24);
    const paneEdge = () => {
      const top = linesOf(t.lastFrame()).find((l) => l.includes('jobs')) ?? '';
      return top.lastIndexOf('│', top.indexOf('jobs') + 40);
    };
    try {
      // Esc clears the filter: all the jobs again, the talker selected.
      t.stdin.write('\x1b');
      await until('every job', () => linesOf(t.lastFrame()).filter((l) => l.includes('queued')).length > 5);
      const edges = new Set<number>();
      for (let i = 0; i < 4; i++) {
        edges.add(paneEdge());
        t.stdin.write('j');
        await settled();
      }
      expect(edges.size).toBe(1);
      expect([...edges][0]).toBeGreaterThan(20);
    } finally {
      t.app.unmount();
    }
  });
});

describe("the dashboard's keys", () => {
  it('? shows the keys, and any key closes them', async () => {
    const t = await dashboard(80, 24);
    try {
      t.stdin.write('?');
      await until('the help', () => t.lastFrame().includes('filter the jobs by text'));
      expectFits(t.lastFrame(), 80, 24);
      await settled();
      t.stdin.write('x');
      await until('the list again', () => /jobs 1\/15 · by newest/.test(visible(t.lastFrame())));
    } finally {
      t.app.unmount();
    }
  });

  it('Enter opens the selected job on the whole screen, Esc goes back', async () => {
    const t = await dashboard(80, 24);
    try {
      t.stdin.write('\r');
      await until('the job', () => t.lastFrame().includes('Esc back'));
      const frame = visible(t.lastFrame());
      expect(frame).toContain(running.id);
      expect(frame).not.toContain('by newest');
      await settled();
      t.stdin.write('\x1b');
      await until('the list', () => t.lastFrame().includes('by newest'));
    } finally {
      t.app.unmount();
    }
  });

  it('l shows the log, PgUp/PgDn and k/j scroll it, G goes back to its end', async () => {
    const t = await dashboard(80, 24);
    const last = () =>
      linesOf(t.lastFrame())
        .map((l) => /line (\d{3})/.exec(l)?.[1])
        .filter(Boolean)
        .map(Number)
        .at(-1);
    try {
      t.stdin.write('l');
      await until('the log', () => t.lastFrame().includes(`log of ${running.id}`));
      // The fit's epoch table, as `gpulink logs` prints it, follows the script's own lines.
      await until(
        'the epoch table',
        () => /^│? *0 +\d+\.\d{6} +\d+\.\d{6}/m.test(linesOf(t.lastFrame()).join('\n')),
        90_000,
      );
      expect(linesOf(t.lastFrame()).some((l) => /epoch +train_loss +valid_loss/.test(l))).toBe(true);
      expect(last()).toBe(299);
      expectFits(t.lastFrame(), 80, 24);
      await settled();
      t.stdin.write('\x1b[5~'); // PgUp
      await until('a page up', () => (last() ?? 299) < 299);
      const page = 299 - (last() ?? 0);
      expect(page).toBeGreaterThan(5);
      await settled();
      t.stdin.write('k');
      await until('a line up', () => last() === 299 - page - 1);
      await settled();
      t.stdin.write('j');
      await until('a line down', () => last() === 299 - page);
      await settled();
      t.stdin.write('\x1b[6~'); // PgDn
      await until('a page down', () => last() === 299);
      await settled();
      t.stdin.write('g');
      await until('the start', () => (last() ?? 299) < 299 - page);
      await settled();
      t.stdin.write('G');
      await until('the end', () => last() === 299);
      await settled();
      t.stdin.write('\x1b');
      await until('the list', () => t.lastFrame().includes('by newest'));
    } finally {
      t.app.unmount();
    }
  });

  it('s cycles the sort, / filters by text, Esc clears it', async () => {
    const t = await dashboard(120, 40);
    const frame = () => visible(t.lastFrame());
    try {
      for (const key of ['state', 'name', 'newest']) {
        t.stdin.write('s');
        await until(`sort by ${key}`, () => frame().includes(`by ${key}`));
        await settled();
      }
      t.stdin.write('\x1b');
      await until('every job', () => frame().includes('jobs 15 ·'));
      await settled();
      t.stdin.write('/');
      await until('the filter prompt', () => t.lastFrame().includes('type to filter'));
      await settled();
      t.stdin.write('waiting-12');
      await until('one match', () => frame().includes('jobs 1/15'));
      expect(frame()).toContain('waiting-12-with');
      expect(frame()).not.toContain('waiting-11-with');
    } finally {
      t.app.unmount();
    }
  });

  it('q quits', async () => {
    const t = await dashboard(80, 24);
    t.stdin.write('q');
    await t.app.waitUntilExit();
  });
});

describe('stats --watch in a terminal', () => {
  it('shows the GPUs with their clocks and each job worker, and q or ctrl-c ends it', async () => {
    for (const [key, how] of [
      ['q', 'q'],
      ['\x03', 'ctrl-c'],
    ] as const) {
      let ended: string | undefined;
      const t = renderInTerminal(<StatsWatch agent={client} intervalMs={200} onQuit={(h) => (ended = h)} />, {
        columns: 80,
        rows: 24,
      });
      await until('the GPUs', () => visible(t.lastFrame()).includes('SM 1590 MHz · mem 5000 MHz'));
      expect(visible(t.lastFrame())).toMatch(
        new RegExp(`${running.id} pid \\d+ · RSS [\\d.]+ \\w+ · GPU 0 B`),
      );
      expectFits(t.lastFrame(), 80, 24);
      await settled();
      t.stdin.write(key);
      await t.app.waitUntilExit();
      expect(ended).toBe(how);
    }
  });
});
