#!/usr/bin/env node
// Runs the worker's pytest suite with a virtualenv's Python, writing a JUnit report that
// scripts/test-summary.mjs counts.
//   node scripts/pytest.mjs <python-dir> [--venv DIR] [--report NAME]
// The Python is DIR/bin/python, else $GPULINK_PYTHON, else <python-dir>/.venv's. The report is
// .test-results/NAME.junit.xml (default "python"): a second run under another Python (.ci/run's
// Python 3.13) takes its own name, so its counts join the summary instead of replacing the first.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { venv: { type: 'string' }, report: { type: 'string', default: 'python' } },
});
const dir = resolve(positionals[0] ?? 'python');
const python = values.venv
  ? join(resolve(values.venv), 'bin', 'python')
  : (process.env.GPULINK_PYTHON ?? join(dir, '.venv', 'bin', 'python'));
mkdirSync(join(root, '.test-results'), { recursive: true });
const result = spawnSync(
  python,
  [
    '-m',
    'pytest',
    '-q',
    '-p',
    'no:cacheprovider',
    `--junitxml=${join(root, '.test-results', `${values.report}.junit.xml`)}`,
    'tests',
  ],
  { cwd: dir, stdio: 'inherit' },
);
if (result.error) console.error(`pytest.mjs: could not run ${python}: ${result.error.message}`);
process.exit(result.status ?? 1);
