// One agent per state dir: two agents on one set of job logs and one blob store would each mark the
// other's running jobs INTERRUPTED and write over each other's records. The lock is a file in the
// state dir, made in one step (a hard link, which fails when it exists), that names its holder; clients on this machine (`gpulink down`) read it
// to find the agent that serves the dir. A holder that died without removing it (SIGKILL, a crash)
// leaves a stale file that the next agent takes over.
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './state-dir.js';

/** What `agent.lock` holds (JSON, mode 0600: the URL carries the token). */
export interface StateLockHolder {
  pid: number;
  hostname: string;
  /** The agent's own listener, once it listens. */
  url?: string;
}

export interface StateLock {
  /** Records where the holder listens, for whoever finds the lock. */
  setUrl(url: string): Promise<void>;
  /** Removes the lock, if it is still this process's. */
  release(): Promise<void>;
}

export const stateLockFile = (root: string) => join(root, 'agent.lock');

/** Takes the state dir's lock, or fails naming the live agent that holds it (its pid and URL). */
export async function takeStateLock(root: string, log: (message: string) => void): Promise<StateLock> {
  const path = stateLockFile(root);
  const me: StateLockHolder = { pid: process.pid, hostname: hostname() };
  for (let attempt = 0; !(await createWith(path, me)); attempt++) {
    const holder = await readHolder(path);
    const live = holder && holder.hostname === me.hostname && isAlive(holder.pid);
    // A second miss means another agent took the dir in between: it is in use all the same.
    if (live || attempt > 0) throw inUse(root, holder);
    // Its holder is gone, or ran on another machine (a state dir on a shared drive, from a runtime
    // that was recycled): this machine cannot ask that one, so the newer agent takes the dir.
    if (holder)
      log(`taking over the state dir from agent pid ${holder.pid} on ${holder.hostname}, which is gone`);
    await rm(path, { force: true });
  }
  return {
    async setUrl(url) {
      me.url = url;
      await writeFileAtomic(path, `${JSON.stringify(me)}\n`);
    },
    async release() {
      const holder = await readHolder(path);
      if (holder?.pid === me.pid && holder.hostname === me.hostname) await rm(path, { force: true });
    },
  };
}

/**
 * Makes `path` with its content in one step (a hard link to a full file), or returns false if it
 * exists. Where links are not supported (some network and FUSE drives) it is made with O_EXCL.
 */
async function createWith(path: string, holder: StateLockHolder): Promise<boolean> {
  const text = `${JSON.stringify(holder)}\n`;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  try {
    await link(tmp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
  } finally {
    await rm(tmp, { force: true });
  }
  try {
    await writeFile(path, text, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function inUse(root: string, holder: StateLockHolder | undefined): Error {
  const pid = holder ? ` with pid ${holder.pid}` : '';
  const where = holder?.url ? ` at ${holder.url.replace(/\/\/[^@/]+@/, '//')}` : ' (still starting)';
  return new Error(
    `the state dir ${root} is in use by the agent${pid}${where}: stop it first, or give this one another --state-dir`,
  );
}

async function readHolder(path: string): Promise<StateLockHolder | undefined> {
  try {
    const holder = JSON.parse(await readFile(path, 'utf8')) as Partial<StateLockHolder>;
    return typeof holder.pid === 'number' && typeof holder.hostname === 'string'
      ? (holder as StateLockHolder)
      : undefined;
  } catch {
    // Missing, or not what an agent writes: nobody holds it.
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: a process of another user has that pid; it is alive all the same.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
