// `gpulink-agent doctor`: what the worker's Python sees, each check with a fix.
import { CheckStatus } from '@gpulink/proto';
import type { Command } from 'commander';
import { Environment, worstStatus } from '../environment/environment.js';
import { WarmPool } from '../jobs/warm-pool.js';
import { WorkerProcess } from '../jobs/worker-process.js';
import { openStateDir } from '../state/state-dir.js';
import { jsonOption, pythonOption, stateDirOption } from './options.js';

interface DoctorOptions {
  python: string;
  stateDir: string;
  json?: boolean;
}

const MARK = {
  [CheckStatus.CHECK_STATUS_OK]: 'ok  ',
  [CheckStatus.CHECK_STATUS_WARN]: 'warn',
  [CheckStatus.CHECK_STATUS_FAIL]: 'FAIL',
};

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check Python, torch, fastai, CUDA/cuDNN, the GPUs, RAM and disk, with fixes')
    .addOption(pythonOption())
    .addOption(stateDirOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExits 1 when a check fails. --json: one object per check.\n\nExample:\n  gpulink-agent doctor --python /usr/bin/python3\n',
    )
    .action(async (o: DoctorOptions) => {
      process.exitCode = await doctor(o);
    });
}

async function doctor(o: DoctorOptions): Promise<number> {
  const layout = await openStateDir(o.stateDir);
  const environment = new Environment(o.python, new WarmPool(0, () => new WorkerProcess(o.python)));
  const checks = await environment.checks(layout.root);
  if (o.json) {
    for (const c of checks)
      process.stdout.write(`${JSON.stringify({ ...c, status: CheckStatus[c.status] })}\n`);
  } else {
    for (const c of checks) {
      process.stdout.write(`${MARK[c.status as 1 | 2 | 3] ?? '?   '}  ${c.title}: ${c.detail}\n`);
      if (c.fixHint) process.stdout.write(`      fix: ${c.fixHint}\n`);
    }
  }
  return worstStatus(checks) === CheckStatus.CHECK_STATUS_FAIL ? 1 : 0;
}
