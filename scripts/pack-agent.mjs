#!/usr/bin/env node
// Packs the agent as one self-contained npm tarball: @gpulink/gpu-agent with every dependency it
// runs with (the contract package @gpulink/proto included) bundled inside, so `npm install <file>`
// needs no registry. This is what goes onto a machine that cannot reach ours: a Colab runtime
// (upload it; the notebook installs it) or a GPU box without the packages published.
//
//   node scripts/pack-agent.mjs [--out DIR]      (npm run pack:agent; builds first)
//
// Prints the tarball's path. Uses only what `npm ci` already put in npm's cache.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outAt = process.argv.indexOf('--out');
const out = resolve(outAt > 0 ? (process.argv[outAt + 1] ?? '.') : '.');

const npm = (args, cwd) =>
  execFileSync('npm', args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }).toString();

const work = mkdtempSync(join(tmpdir(), 'gpulink-pack-'));
try {
  // The two workspace packages exactly as npm would publish them.
  const packed = JSON.parse(
    npm(
      ['pack', '--json', '--pack-destination', work, '-w', '@gpulink/proto', '-w', '@gpulink/gpu-agent'],
      root,
    ),
  );
  const tarball = (name) => join(work, packed.find((p) => p.name === name).filename);

  // The agent's published files, with its dependencies installed next to them from npm's cache.
  const stage = join(work, 'stage');
  mkdirSync(stage);
  execFileSync('tar', ['-xzf', tarball('@gpulink/gpu-agent'), '-C', stage, '--strip-components=1']);
  const manifestPath = join(stage, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const protoVersion = manifest.dependencies['@gpulink/proto'];
  writeFileSync(
    manifestPath,
    JSON.stringify({
      ...manifest,
      dependencies: { ...manifest.dependencies, '@gpulink/proto': `file:${tarball('@gpulink/proto')}` },
    }),
  );
  npm(
    [
      'install',
      '--omit=dev',
      '--ignore-scripts',
      '--no-package-lock',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
    ],
    stage,
  );

  // Back to the published manifest, now saying that every dependency travels inside the tarball.
  manifest.dependencies['@gpulink/proto'] = protoVersion;
  manifest.bundleDependencies = Object.keys(manifest.dependencies);
  delete manifest.devDependencies;
  delete manifest.scripts;
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const [result] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], stage));

  mkdirSync(out, { recursive: true });
  const dest = join(out, result.filename);
  try {
    renameSync(join(work, result.filename), dest);
  } catch {
    cpSync(join(work, result.filename), dest);
  }
  console.log(dest);
} finally {
  rmSync(work, { recursive: true, force: true });
}
