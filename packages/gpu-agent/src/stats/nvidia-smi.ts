import type { GpuStats } from '@gpulink/proto';

/** Fields asked of `nvidia-smi --query-gpu`, in this order. */
export const GPU_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'memory.total',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'utilization.memory',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'clocks.sm',
  'clocks.mem',
] as const;

const MIB = 1024 * 1024;

/** A number, or undefined for `[N/A]`, `[Not Supported]`, `N/A` and anything else that is not one. */
function num(field: string | undefined): number | undefined {
  if (field === undefined) return undefined;
  const t = field.trim();
  if (t === '' || t.startsWith('[') || /^n\/?a$/i.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses one row of `--format=csv,noheader,nounits` output. Returns undefined for a row that is not
 * a GPU row (a driver message, a blank line, a truncated write).
 */
export function parseGpuRow(line: string): GpuStats | undefined {
  const f = line.split(',').map((s) => s.trim());
  if (f.length < GPU_QUERY_FIELDS.length) return undefined;
  // A name may contain commas; the fields after it are fixed, so take them from the end.
  const tail = f.slice(-(GPU_QUERY_FIELDS.length - 3));
  const name = f.slice(2, f.length - tail.length).join(', ');
  const index = num(f[0]);
  if (index === undefined || !Number.isInteger(index)) return undefined;
  const [total, used, free, util, utilMem, temp, power, powerLimit, clockSm, clockMem] = tail.map(num);
  if (total === undefined) return undefined;
  return {
    index,
    uuid: f[1] ?? '',
    name,
    memoryTotalBytes: Math.round(total * MIB),
    memoryUsedBytes: Math.round((used ?? 0) * MIB),
    memoryFreeBytes: Math.round((free ?? Math.max(0, total - (used ?? 0))) * MIB),
    utilizationGpuPercent: util,
    utilizationMemoryPercent: utilMem,
    temperatureCelsius: temp,
    powerDrawWatts: power,
    powerLimitWatts: powerLimit,
    clockSmMhz: clockSm === undefined ? undefined : Math.round(clockSm),
    clockMemoryMhz: clockMem === undefined ? undefined : Math.round(clockMem),
  };
}

/**
 * Groups rows into ticks: `-lms` prints one row per GPU per tick, in index order, so a row whose
 * index is not above the previous one starts a new tick.
 */
export class GpuTickAssembler {
  #current: GpuStats[] = [];
  push(row: GpuStats): GpuStats[] | undefined {
    const last = this.#current.at(-1);
    if (last && row.index <= last.index) {
      const done = this.#current;
      this.#current = [row];
      return done;
    }
    this.#current.push(row);
    return undefined;
  }
  /** Rows of the tick in progress (when the GPU count is known, a tick is complete at that count). */
  pending(): GpuStats[] {
    return this.#current;
  }
}

/** Parses `--query-compute-apps=pid,used_memory --format=csv,noheader,nounits`: pid -> bytes. */
export function parseComputeApps(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const [pid, used] = line.split(',').map((s) => num(s));
    if (pid !== undefined && used !== undefined) out.set(pid, (out.get(pid) ?? 0) + Math.round(used * MIB));
  }
  return out;
}
