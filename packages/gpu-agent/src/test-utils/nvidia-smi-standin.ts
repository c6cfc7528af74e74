import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageDir } from '../paths.js';

/**
 * A STAND-IN for `nvidia-smi`, for machines without an NVIDIA GPU (CI). It replays recorded
 * `--query-gpu ... -lms N` rows from a fixture, one tick per N ms, until killed, so the agent's real
 * sampler path runs: spawn, parse, fan-out, stop. `--query-compute-apps` prints no processes;
 * `--query-gpu=name,driver_version` (the doctor's question) gives the fixture's GPU names and driver
 * $GPULINK_STANDIN_DRIVER_VERSION (default 550.54.15).
 * The real nvidia-smi is exercised on a GPU machine by `npm run gpu-check` (scripts/gpu-check.mjs).
 * Returns a folder to put first on PATH.
 */
export async function installNvidiaSmiStandIn(fixture = 'nvidia-smi-2xT4.csv'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gpulink-nvidia-smi-standin-'));
  // From the package folder, so that dist/testing.js finds the fixture as src/ does.
  const rows = join(packageDir, 'src', 'stats', 'fixtures', fixture);
  const script = `#!/usr/bin/env node
// gpulink test STAND-IN for nvidia-smi (replays ${fixture})
const fs = require('node:fs');
const args = process.argv.slice(2);
if (args.some((a) => a.startsWith('--query-compute-apps'))) process.exit(0);
const lines = fs.readFileSync(${JSON.stringify(rows)}, 'utf8').trim().split('\\n');
const gpus = new Set(lines.map((l) => l.split(',')[0])).size;
if (args.includes('--query-gpu=name,driver_version')) {
  // The doctor's one-off question: each GPU's name (third column of the rows) and the driver.
  const driver = process.env.GPULINK_STANDIN_DRIVER_VERSION || '550.54.15';
  for (const l of lines.slice(0, gpus)) console.log(l.split(',')[2].trim() + ', ' + driver);
  process.exit(0);
}
const i = args.indexOf('-lms');
const every = i >= 0 ? Number(args[i + 1]) : 0;
let tick = 0;
const print = () => {
  const start = (tick % (lines.length / gpus)) * gpus;
  process.stdout.write(lines.slice(start, start + gpus).join('\\n') + '\\n');
  tick++;
};
print();
if (every > 0) setInterval(print, every);
`;
  const path = join(dir, 'nvidia-smi');
  await writeFile(path, script);
  await chmod(path, 0o755);
  return dir;
}
