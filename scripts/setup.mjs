#!/usr/bin/env node
// Installs what is missing, and nothing else: Node dependencies (npm ci when package-lock.json
// changed), the build (turbo caches it), and the worker's Python virtualenv. Safe to run any time;
// a no-op takes a few seconds. Used by `npm run demo`, `npm test` and `npm run bench`. With
// --test-tools (npm test) also the Python tools only the tests use (requirements-dev.txt: nbformat,
// jupyter_server and ipykernel for a real Jupyter server), into the worker's virtualenv.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => process.stderr.write(`setup: ${m}\n`);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });

if (Number(process.versions.node.split('.')[0]) < 20) {
  say(`Node ${process.versions.node} is too old: gpulink needs Node 20 or newer`);
  process.exit(1);
}

const lockHash = createHash('sha256')
  .update(readFileSync(join(root, 'package-lock.json')))
  .digest('hex');
const stamp = join(root, 'node_modules', '.gpulink-lock.sha256');
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
  say('installing Node dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  writeFileSync(stamp, lockHash);
} else {
  say('Node dependencies are up to date');
}

say('building the packages (turbo reuses what has not changed)');
run(join(root, 'node_modules', '.bin', 'turbo'), ['run', 'build', '--output-logs=errors-only']);

// `npx gpulink` in the checkout: npm links no bin of a workspace that the root does not depend on.
const gpulinkBin = join(root, 'node_modules', '.bin', 'gpulink');
if (!lstatSync(gpulinkBin, { throwIfNoEntry: false }))
  symlinkSync(join('..', '@gpulink', 'cli', 'dist', 'bin.js'), gpulinkBin);

run(join(root, 'packages', 'gpu-agent', 'python', 'setup-venv.sh'), []);

if (process.argv.includes('--test-tools')) {
  const python = join(root, 'packages', 'gpu-agent', 'python', '.venv', 'bin', 'python');
  try {
    execFileSync(python, ['-c', 'import nbformat, jupyter_server, ipykernel'], { stdio: 'ignore' });
    say('test tools are up to date (nbformat, jupyter_server, ipykernel)');
  } catch {
    say('installing the test tools (requirements-dev.txt: nbformat, jupyter_server, ipykernel)');
    const dev = join(root, 'packages', 'gpu-agent', 'python', 'requirements-dev.txt');
    run(python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', dev]);
  }
}
