import { describe, expect, it } from 'vitest';
import { GpuTickAssembler, parseComputeApps, parseGpuRow } from './nvidia-smi.js';

// Rows in the format `nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,noheader,nounits` prints.
const T4 =
  '0, GPU-5f2c1e0a-3b4d-4c5e-8f6a-7b8c9d0e1f2a, Tesla T4, 15360, 2345, 12700, 87, 41, 63, 61.52, 70.00, 1590, 5000';
const A100_NA =
  '0, GPU-a1, NVIDIA A100-SXM4-40GB, 40960, 0, 40337, 0, 0, 31, [N/A], 400.00, [Not Supported], 1215';
const MIG =
  '1, GPU-h1, NVIDIA H100 80GB HBM3, 81559, 1, 81069, [N/A], [N/A], [N/A], [N/A], [N/A], [N/A], [N/A]';

describe('parseGpuRow', () => {
  it('reads a Tesla T4 row with units converted to bytes', () => {
    const g = parseGpuRow(T4);
    expect(g).toMatchObject({
      index: 0,
      name: 'Tesla T4',
      memoryTotalBytes: 15360 * 1024 * 1024,
      memoryUsedBytes: 2345 * 1024 * 1024,
      utilizationGpuPercent: 87,
      temperatureCelsius: 63,
      powerDrawWatts: 61.52,
      clockSmMhz: 1590,
    });
  });
  it('leaves [N/A] and [Not Supported] unset rather than zero', () => {
    const g = parseGpuRow(A100_NA);
    expect(g?.powerDrawWatts).toBeUndefined();
    expect(g?.clockSmMhz).toBeUndefined();
    expect(g?.powerLimitWatts).toBe(400);
    const h = parseGpuRow(MIG);
    expect(h?.utilizationGpuPercent).toBeUndefined();
    expect(h?.memoryFreeBytes).toBe(81069 * 1024 * 1024);
  });
  it('keeps a GPU name that contains commas', () => {
    expect(parseGpuRow(T4.replace('Tesla T4', 'Quadro RTX 8000, rev B'))?.name).toBe(
      'Quadro RTX 8000, rev B',
    );
  });
  it('refuses lines that are not GPU rows', () => {
    expect(parseGpuRow('')).toBeUndefined();
    expect(
      parseGpuRow("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."),
    ).toBeUndefined();
    expect(parseGpuRow('0, GPU-x, T4, 1536')).toBeUndefined();
  });
});

describe('GpuTickAssembler', () => {
  it('groups rows of several GPUs into ticks', () => {
    const a = new GpuTickAssembler();
    const rows = [A100_NA, MIG, A100_NA, MIG].map((r) => parseGpuRow(r)!);
    expect(a.push(rows[0]!)).toBeUndefined();
    expect(a.push(rows[1]!)).toBeUndefined();
    expect(a.push(rows[2]!)?.map((g) => g.index)).toEqual([0, 1]);
  });
});

describe('parseComputeApps', () => {
  it('sums GPU memory per pid and skips N/A rows', () => {
    const m = parseComputeApps('4242, 1530\n4242, 10\n77, [N/A]\n');
    expect(m.get(4242)).toBe(1540 * 1024 * 1024);
    expect(m.has(77)).toBe(false);
  });
});
