// What the benchmark reads about processes, straight from /proc (Linux): CPU time, resident memory,
// children, and whether a warm worker is waiting for its job.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { sleep } from './figures.mjs';

/** Kernel clock ticks per second: the resolution of the CPU times read from /proc. */
export const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may hold spaces; the fields after it are plain.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) the process has used so far, not counting its children. */
export function cpuSeconds(pid) {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / clockTicks;
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Live children of `pid`, with their command lines. */
export function childrenOf(pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const f = statFields(name);
      if (Number(f[1]) !== pid || f[0] === 'Z') continue;
      out.push({
        pid: Number(name),
        cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim(),
      });
    } catch {
      // The process ended while the table was read.
    }
  }
  return out;
}

/**
 * CPU use of a process over `ms`: the share of one core (1.0 = one core busy the whole time).
 * Also samples its RSS each second, and returns the median.
 */
export async function cpuShareOver(pid, ms) {
  const start = cpuSeconds(pid);
  const t0 = performance.now();
  const rss = [];
  for (let left = ms; left > 0; left -= 1000) {
    await sleep(Math.min(1000, left));
    rss.push(rssBytes(pid));
  }
  const cpu = cpuSeconds(pid) - start;
  return { share: cpu / ((performance.now() - t0) / 1000), rssSamples: rss };
}

const readSyscall = { x64: 0, arm64: 63 }[arch()];

/**
 * Whether a process is blocked reading its stdin: how a warm worker waits for its job envelope
 * (python/PROTOCOL.md), once it has imported torch and fastai. Reads /proc/<pid>/syscall, whose first
 * two fields are the syscall number and its first argument (fd 0). On other architectures, or when
 * that file cannot be read, a process that used no CPU for 1.5 s counts as waiting.
 */
async function waitingOnStdin(pid) {
  if (readSyscall !== undefined) {
    try {
      const [nr, fd] = readFileSync(`/proc/${pid}/syscall`, 'utf8').trim().split(' ');
      return Number(nr) === readSyscall && fd === '0x0';
    } catch {
      // Not readable here (no ptrace rights): fall back to CPU use.
    }
  }
  const before = cpuSeconds(pid);
  await sleep(1500);
  return cpuSeconds(pid) === before;
}

/**
 * Waits until the agent `agentPid` has a warm worker that finished importing and waits for a job,
 * so a warm-start measurement does not include the spare's own start. Returns its pid.
 */
export async function waitForWarmWorker(agentPid, timeoutMs = 180_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const workers = childrenOf(agentPid).filter((c) => c.cmdline.includes('gpulink_worker'));
    for (const w of workers) {
      // Two reads 200 ms apart: a worker that only paused on a pipe mid-import does not pass twice.
      if (!(await waitingOnStdin(w.pid))) continue;
      await sleep(200);
      if (await waitingOnStdin(w.pid)) return w.pid;
    }
    await sleep(250);
  }
  throw new Error(`agent ${agentPid} has no warm worker waiting after ${timeoutMs} ms`);
}

/** Waits until the agent has no gpulink worker child left (e.g. after a job, with --warm-workers 0). */
export async function waitForNoWorkers(agentPid, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!childrenOf(agentPid).some((c) => c.cmdline.includes('gpulink_worker'))) return;
    await sleep(200);
  }
  throw new Error(`agent ${agentPid} still has worker processes after ${timeoutMs} ms`);
}

/** Peak resident set size in bytes since the last resetPeakRss (VmHWM). */
export function peakRssBytes(pid) {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Starts a process's peak RSS again from its current RSS (Linux: clear_refs 5). */
export function resetPeakRss(pid) {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
