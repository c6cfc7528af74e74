import { readdirSync, readFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import type { HostStats } from '@gpulink/proto';

/** Host memory and CPU, from /proc where there is one (MemAvailable is what "free" should mean). */
export class HostSampler {
  #prev = cpuTimes();

  sample(): HostStats {
    const now = cpuTimes();
    const busy = now.busy - this.#prev.busy;
    const total = now.total - this.#prev.total;
    this.#prev = now;
    const mem = meminfo();
    return {
      memoryTotalBytes: mem?.total ?? totalmem(),
      memoryAvailableBytes: mem?.available ?? freemem(),
      cpuPercent: total > 0 ? Math.round((1000 * busy) / total) / 10 : 0,
      cpuCount: cpus().length,
    };
  }
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

function meminfo(): { total: number; available: number } | undefined {
  try {
    const text = readFileSync('/proc/meminfo', 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1]) * 1024;
    const total = kb('MemTotal');
    const available = kb('MemAvailable');
    return Number.isFinite(total) && Number.isFinite(available) ? { total, available } : undefined;
  } catch {
    return undefined;
  }
}

const PAGE = 4096;

/** Resident memory of `pid` and all its descendants, bytes (Linux /proc; 0 elsewhere). */
export function treeRssBytes(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return out;
  }
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) start after the last ")".
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(name);
      const ppid = Number(rest[1]);
      rss.set(pid, Number(rest[21]) * PAGE);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // The process ended while we looked.
    }
  }
  for (const root of pids) {
    let sum = 0;
    const stack = [root];
    while (stack.length) {
      const p = stack.pop() as number;
      sum += rss.get(p) ?? 0;
      stack.push(...(children.get(p) ?? []));
    }
    out.set(root, sum);
  }
  return out;
}
