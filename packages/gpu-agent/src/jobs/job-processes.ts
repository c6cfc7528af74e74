import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Every process a worker starts carries its worker's tag in its environment: children inherit it,
 * whether they stay in the worker's process group or leave it (setsid, a double fork), and whoever
 * adopts them (init, once the worker or the agent is gone). So the agent can find and end them all,
 * now or after a restart, from /proc/<pid>/environ.
 *
 * A tag is 128 random bits made when the worker is spawned, kept in the job's record while the job
 * runs: a process that carries it descends from that worker, so a reused pid is never mistaken for
 * one of the job's. Chosen over a subreaper (PR_SET_CHILD_SUBREAPER in the worker) because orphans
 * then go to the worker, and when the worker itself is killed (SIGKILL, or its parent-death signal
 * after the agent dies) they go on to init with nothing left that knows them; a tag survives that.
 * A process that replaces its own environment before exec (env -i) escapes the tag; it is still
 * in the worker's group unless it also leaves that, which only such a deliberate process does.
 *
 * Linux only (/proc); elsewhere no process is found and the worker's group is all that is signalled.
 */
export const WORKER_TAG_ENV = 'GPULINK_WORKER_TAG';

export function newWorkerTag(): string {
  return randomBytes(16).toString('hex');
}

/** Pids of live processes carrying each tag (scans /proc once for all of them). */
export function findTaggedProcesses(tags: Iterable<string>): Map<string, number[]> {
  const found = new Map<string, number[]>();
  const markers = new Map<string, string>();
  for (const tag of tags) markers.set(`${WORKER_TAG_ENV}=${tag}`, tag);
  if (markers.size === 0 || process.platform !== 'linux') return found;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ: string;
    try {
      // Another user's processes (EACCES) and those gone meanwhile (ENOENT) are not ours.
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue;
    }
    for (const variable of environ.split('\0')) {
      const tag = markers.get(variable);
      if (tag === undefined) continue;
      const pids = found.get(tag) ?? [];
      pids.push(pid);
      found.set(tag, pids);
      break;
    }
  }
  return found;
}

/** Rounds of scan-and-signal at most: each ends what the previous round's processes forked meanwhile. */
const MAX_KILL_ROUNDS = 10;

/**
 * Signals every process carrying one of `tags`, scanning again while SIGKILL leaves some (a process
 * may fork between the scan and the signal). Returns the pids signalled, per tag.
 */
export function signalTaggedProcesses(tags: Iterable<string>, signal: NodeJS.Signals): Map<string, number[]> {
  const wanted = [...tags];
  const signalled = new Map<string, number[]>();
  for (let round = 0; round < (signal === 'SIGKILL' ? MAX_KILL_ROUNDS : 1); round++) {
    let fresh = 0;
    for (const [tag, pids] of findTaggedProcesses(wanted)) {
      const seen = signalled.get(tag) ?? [];
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch {
          continue; // Gone meanwhile.
        }
        if (!seen.includes(pid)) {
          seen.push(pid);
          fresh++;
        }
      }
      signalled.set(tag, seen);
    }
    if (fresh === 0) break;
  }
  return signalled;
}
