#!/usr/bin/env node
// One prepared check of gpulink on a real GPU (npm run gpu-check), for the days a GPU machine is at
// hand. That machine may have no Node and no internet, so the check has two halves:
//
//   node scripts/gpu-check.mjs [--python-version 3.12]
//       here: packs what the GPU machine lacks into .gpu-check/ (git-ignored): this Node gzipped,
//       the agent package, the checks bundled with the SDK, wheels for that machine's Python; then
//       prints the one command to run there.
//   node scripts/gpu-check.mjs --device        (with the unpacked Node, on the GPU machine)
//       there: installs the wheels, unpacks the agent, runs the checks, prints one report.
//   node scripts/gpu-check.mjs --dry-run [--junit FILE]      (CI)
//       here: packs and unpacks the agent and the checks the same way and runs them on the CPU
//       with the recorded stand-in nvidia-smi; the report says which checks only a GPU can make.
//
// Both runs take --report FILE (the report also goes to stdout) and --junit FILE; the exit status
// is 1 when a check failed. The checks themselves are in scripts/gpu-check/checks.mjs.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const here = join(root, 'scripts', 'gpu-check');
const packed = join(root, '.gpu-check');
const MIB = 1024 * 1024;
/** What a copy of the checkout may weigh on the GPU machine's side, .gpu-check/ included. */
const TRAVEL_LIMIT = 64 * MIB;
const { values: o } = parseArgs({
  options: {
    'dry-run': { type: 'boolean' },
    device: { type: 'boolean' },
    'python-version': { type: 'string', default: '3.12' },
    python: { type: 'string' },
    report: { type: 'string' },
    junit: { type: 'string' },
  },
});
const say = (m) => process.stderr.write(`gpu-check: ${m}\n`);

/** Runs the bundled checks with the unpacked agent; returns their exit status. */
function runChecks(bundle, agentTgz, work, mode, extra) {
  const agentDir = join(work, 'agent');
  mkdirSync(agentDir, { recursive: true });
  execFileSync('tar', ['-xzf', agentTgz, '-C', agentDir, '--strip-components=1']);
  const args = [bundle, '--mode', mode, '--agent', agentDir, '--python', extra.python];
  args.push(
    '--fixture',
    join(root, 'packages', 'gpu-agent', 'src', 'stats', 'fixtures', 'nvidia-smi-2xT4.csv'),
  );
  args.push(
    '--direct-fit',
    join(here, 'direct_fit.py'),
    ...(extra.pathPrefix ? ['--path-prefix', extra.pathPrefix] : []),
  );
  if (o.report) args.push('--report', resolve(o.report));
  if (o.junit) {
    mkdirSync(dirname(resolve(o.junit)), { recursive: true });
    args.push('--junit', resolve(o.junit));
  }
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, ...extra.env } });
  return r.status ?? 1;
}

async function pack() {
  const { bundleChecks, downloadWheels, packAgent, packNode, sizeOf } = await import('./gpu-check/pack.mjs');
  rmSync(packed, { recursive: true, force: true });
  mkdirSync(packed);
  say('packing the agent (npm run pack:agent)');
  execFileSync(process.execPath, [join(root, 'scripts', 'setup.mjs')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const tgz = packAgent(packed);
  execFileSync('mv', [tgz, join(packed, 'agent.tgz')]);
  say('bundling the checks with the SDK');
  await bundleChecks(packed);
  say(`gzipping this Node (${process.version})`);
  await packNode(packed);
  say(`downloading wheels for CPython ${o['python-version']} on x86-64 Linux`);
  const venvPython = join(root, 'packages', 'gpu-agent', 'python', '.venv', 'bin', 'python');
  const pins = downloadWheels(packed, venvPython, o['python-version']);
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root })
    .toString()
    .split('\0')
    .filter(Boolean);
  const trackedBytes = tracked.reduce(
    (n, f) => n + (existsSync(join(root, f)) ? statSync(join(root, f)).size : 0),
    0,
  );
  const total = sizeOf(packed) + trackedBytes;
  console.log(
    `Packed ${relative(process.cwd(), packed) || '.'}/: Node ${process.version} gzipped, the agent, the checks, ${pins.length} wheels (${pins.join(' ')}).`,
  );
  console.log(
    `With the checkout's tracked files that is ${(total / MIB).toFixed(1)} MiB to bring (limit ${TRAVEL_LIMIT / MIB} MiB).`,
  );
  if (total > TRAVEL_LIMIT) {
    console.log('That is over the limit: nothing more can travel with it.');
    process.exitCode = 1;
    return;
  }
  console.log(`
On the GPU machine (x86-64 Linux, Python ${o['python-version']} with torch; no Node or internet needed), in a copy
of this checkout that brings the git-ignored .gpu-check/ along (carry: [".gpu-check"]), run as one command
(about 5 minutes; allow 10):

set -o pipefail; gunzip -c .gpu-check/node.gz >/tmp/node && chmod +x /tmp/node && /tmp/node scripts/gpu-check.mjs --device --report "\${OUT:-/tmp}/gpu-check-report.txt" --junit "\${OUT:-/tmp}/gpu-check.junit.xml" 2>&1 | tee "\${OUT:-/tmp}/gpu-check.log"
`);
}

function device() {
  for (const f of ['agent.tgz', 'checks.mjs'])
    if (!existsSync(join(packed, f))) {
      say(`.gpu-check/${f} is missing: run \`npm run gpu-check\` on a machine with the checkout first`);
      return 1;
    }
  const work = mkdtempSync(join(tmpdir(), 'gpulink-gpu-check-'));
  try {
    const python = o.python ?? 'python3';
    const site = join(work, 'site');
    const wheels = existsSync(join(packed, 'wheels')) ? readdirSync(join(packed, 'wheels')) : [];
    if (wheels.length) {
      say(`installing ${wheels.length} wheels into ${site}`);
      execFileSync(
        python,
        [
          ...['-m', 'pip', 'install', '-q', '--no-index', '--no-deps', '--no-compile', '--no-cache-dir'],
          ...[
            '--disable-pip-version-check',
            '--target',
            site,
            ...wheels.map((w) => join(packed, 'wheels', w)),
          ],
        ],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
    }
    const PYTHONPATH = [site, process.env.PYTHONPATH].filter(Boolean).join(':');
    return runChecks(join(packed, 'checks.mjs'), join(packed, 'agent.tgz'), work, 'gpu', {
      python,
      env: { PYTHONPATH },
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function dryRun() {
  const { bundleChecks, packAgent } = await import('./gpu-check/pack.mjs');
  const work = mkdtempSync(join(tmpdir(), 'gpulink-gpu-check-dry-'));
  const { installNvidiaSmiStandIn } = await import('@gpulink/gpu-agent/testing');
  const standIn = await installNvidiaSmiStandIn();
  try {
    say(
      'packing the agent and bundling the checks as for a GPU machine (the Node binary and the wheels: only then)',
    );
    const tgz = packAgent(work);
    const bundle = await bundleChecks(work);
    const venv = join(root, 'packages', 'gpu-agent', 'python', '.venv', 'bin', 'python');
    const python = o.python ?? process.env.GPULINK_PYTHON ?? venv;
    return runChecks(bundle, tgz, work, 'dry', { python, pathPrefix: standIn, env: {} });
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(standIn, { recursive: true, force: true });
  }
}

if (o.device) process.exitCode = device();
else if (o['dry-run']) process.exitCode = await dryRun();
else await pack();
