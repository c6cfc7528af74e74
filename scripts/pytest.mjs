#!/usr/bin/env node
// Runs the worker's pytest suite with the project virtualenv, writing a JUnit report that
// scripts/test-summary.mjs counts. Usage: node scripts/pytest.mjs <python-dir>
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = resolve(process.argv[2] ?? 'python');
const python = process.env.GPULINK_PYTHON ?? join(dir, '.venv', 'bin', 'python');
mkdirSync(join(root, '.test-results'), { recursive: true });
const result = spawnSync(
  python,
  [
    '-m',
    'pytest',
    '-q',
    '-p',
    'no:cacheprovider',
    `--junitxml=${join(root, '.test-results', 'python.junit.xml')}`,
    'tests',
  ],
  { cwd: dir, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
