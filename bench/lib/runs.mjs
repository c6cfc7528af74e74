// Running the same work two ways: a Python script started directly (the baseline), and a gpulink
// script job followed through the SDK. Both report the moments the suites time.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { now } from './figures.mjs';
import { python } from './setup.mjs';

/**
 * Runs `python file args` and times it from spawn: each stdout line is passed to `onLine(line, msSinceSpawn)`.
 * Rejects when the script fails.
 */
export function runPythonDirect(file, args, { cwd, env = {}, onLine = () => {}, stdio3 } = {}) {
  const t0 = now();
  const child = spawn(python, [file, ...args], {
    cwd,
    env: { ...process.env, PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(stdio3 ? ['pipe'] : [])],
  });
  const stderr = [];
  child.stderr.on('data', (d) => {
    stderr.push(d.toString());
    if (stderr.length > 50) stderr.shift();
  });
  createInterface({ input: child.stdout }).on('line', (line) => onLine(line, now() - t0));
  if (stdio3) stdio3(child.stdio[3], t0);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    // 'close', not 'exit': every pipe is drained by then, so no line arrives after the promise settles.
    child.once('close', (code, signal) => {
      const ms = now() - t0;
      if (code === 0) resolve({ ms });
      else reject(new Error(`${file} exited with ${signal ?? code}: ${stderr.join('').slice(-2000)}`));
    });
  });
}

/**
 * Submits a job with `submit()` and follows its events with the SDK until it ends, timed from just
 * before the submit. `onEvent(event, msSinceSubmit)` sees every event. Resolves with the total time;
 * rejects with the job's error when it did not succeed.
 */
export async function runJob(submit, onEvent = () => {}) {
  const t0 = now();
  const job = await submit();
  let last;
  for await (const event of job.events()) {
    onEvent(event, now() - t0);
    last = event;
  }
  const ms = now() - t0;
  if (last?.type !== 'state' || last.state !== 'succeeded') {
    const summary = await job.wait().catch((e) => e);
    throw new Error(`job ${job.id} ended ${last?.state ?? 'without a state'}: ${summary?.message ?? ''}`);
  }
  return { ms, jobId: job.id };
}

/**
 * Follows `job` to its first `batch` event and returns the ms from `t0` to it; the job is then
 * cancelled and waited for. Throws when the job ends before a batch.
 */
export async function untilFirstBatch(job, t0) {
  let at;
  for await (const e of job.events()) {
    if (e.type === 'batch') {
      at = now() - t0;
      break;
    }
    if (e.type === 'state' && !['queued', 'starting', 'running'].includes(e.state))
      throw new Error(`job ${job.id} ended ${e.state} before its first batch`);
  }
  await job.cancel().catch(() => undefined);
  await job.wait().catch(() => undefined);
  return at;
}
