#!/usr/bin/env node
// The gpulink benchmark harness (`npm run bench`). Each suite measures our figure and a baseline in the
// same run, on the same machine, and reports the ratio against the issue's target; a missed target is
// printed as a miss. Results: a table on stdout, bench/results/<date>.json, and bench/RESULTS.md (full
// runs only).
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bytes } from './lib/figures.mjs';
import { linkSectionsOf, withLinkSections } from './lib/link-results.mjs';
import { benchDir, nvidiaGpus, pythonVersions } from './lib/setup.mjs';
import { PROFILES } from './lib/toxiproxy.mjs';
import * as events from './suites/events.mjs';
import * as link from './suites/link.mjs';
import * as logMemory from './suites/log-memory.mjs';
import * as ranks from './suites/ranks.mjs';
import * as start from './suites/start.mjs';
import * as stats from './suites/stats.mjs';
import * as transports from './suites/transports.mjs';
import * as upload from './suites/upload.mjs';

const SUITES = [start, ranks, events, upload, stats, logMemory, transports];
/** Suites a full run leaves out (they take long): run with --only or their own flag (--link). */
const OPT_IN = [link];
const ALL = [...SUITES, ...OPT_IN];

const HELP = `Usage: node bench/run.mjs [--quick] [--only NAME[,NAME...]] [--link PROFILE[,PROFILE...]|all [--reps N] [--carriages C] [--mib N]] [--no-record]
       node bench/run.mjs --render RESULTS.json

  --quick       fewer repetitions and smaller inputs (a smoke run; its figures are not recorded in RESULTS.md)
  --only NAMES  run only these suites: ${ALL.map((s) => [s.name, ...(s.aliases ?? [])].join('|')).join(', ')}
  --link P      the shaped-link suite alone, through these link profiles (${Object.keys(PROFILES).join(', ')}, or all)
  --reps N      repetitions of each figure of the link suite (default 3, --quick 1)
  --carriages C the link suite's carriages: direct[,wss][,jupyter] (default all three)
  --mib N       the link suite's upload and pull sizes, all N MiB (default 1024 / 200, carriages 64)
  --no-record   print the table only; write no results file
  --render F    rewrite bench/RESULTS.md from a recorded results file, measuring nothing (a --link
                run's file: only its profiles' sections)

Suites:
${SUITES.map((s) => `  ${s.name.padEnd(10)} ${s.describe}`).join('\n')}
Not in a full run:
${OPT_IN.map((s) => `  ${s.name.padEnd(10)} ${s.describe}`).join('\n')}
`;

function pickSuites(only, linkProfiles) {
  if (linkProfiles) return [link];
  if (!only) return SUITES;
  const names = only.split(',').map((n) => n.trim());
  const picked = [];
  for (const n of names) {
    const suite = ALL.find((s) => s.name === n || s.aliases?.includes(n));
    if (!suite) throw new Error(`--only: no suite "${n}" (${ALL.map((s) => s.name).join(', ')})`);
    if (!picked.includes(suite)) picked.push(suite);
  }
  return picked;
}

/** A Markdown table, padded the way the repository's formatter (Biome) writes one. */
function table(rows) {
  const head = ['what', 'ours', 'baseline', 'ratio', 'target', 'met'];
  const esc = (s) => String(s).replaceAll('|', '\\|');
  const cells = rows.map((r) =>
    [
      r.what,
      r.ours,
      r.baseline,
      r.ratio,
      r.target,
      r.met === null || r.met === undefined ? '-' : r.met ? 'yes' : 'MISSED',
    ].map(esc),
  );
  const widths = head.map((h, i) => Math.max(h.length, 3, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** The commit measured, and whether the working tree differed from it (others edit beside us). */
function revision() {
  try {
    const run = (args) => execFileSync('git', args, { cwd: benchDir, encoding: 'utf8' }).trim();
    const dirty = run(['status', '--porcelain', '--untracked-files=no']).length > 0;
    return `${run(['rev-parse', '--short', 'HEAD'])}${dirty ? ' + uncommitted changes' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function machine() {
  const cpu = cpus();
  const gpus = await nvidiaGpus();
  return {
    host: hostname(),
    cpu: `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}`,
    memory: bytes(totalmem()),
    kernel: release(),
    node: process.versions.node,
    revision: revision(),
    ...(await pythonVersions()),
    gpu: gpus.length
      ? gpus.join('; ')
      : 'No GPU: jobs train on the CPU; GPU figures come from a STAND-IN nvidia-smi',
    loadAverage: loadavg(),
  };
}

/** Notes that qualify a row (repetitions, what else ran), listed under the table. */
function notes(rows) {
  return rows.filter((r) => r.note).map((r) => `- ${r.what}: ${r.note}.`);
}

/** bench/RESULTS.md for a recorded run. */
function renderResults(record, jsonPath) {
  const m = record.machine;
  const load = (l) => l.map((x) => x.toFixed(1)).join(' / ');
  return [
    '# Benchmark results',
    '',
    `Latest full run: ${record.date} (\`${record.command}\`, ${Math.round(record.totalSeconds)} s), ` +
      `revision ${m.revision}.`,
    '',
    `Machine: ${m.cpu}, ${m.memory} RAM, Linux ${m.kernel}, Node ${m.node}, ` +
      `Python ${m.python ?? '?'}, torch ${m.torch ?? '?'}, fastai ${m.fastai ?? '?'}. ${m.gpu}.`,
    `Load average (1/5/15 min) at the start: ${load(m.loadAverage)}; at the end: ${load(record.loadAverageAtEnd)}` +
      ' (a shared machine: other work ran beside the benchmark).',
    '',
    'Each figure is a median of several runs; the baseline is measured in the same run. "MISSED" marks a',
    'target this run did not meet; [README.md](README.md) says how each row is measured and why targets',
    'are missed.',
    '',
    table(record.rows),
    '',
    ...notes(record.rows),
    '',
    `Raw figures: [${jsonPath}](${jsonPath}).`,
    '',
  ].join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      link: { type: 'string' },
      reps: { type: 'string' },
      carriages: { type: 'string' },
      mib: { type: 'string' },
      'no-record': { type: 'boolean', default: false },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.render) {
    const record = JSON.parse(await readFile(values.render, 'utf8'));
    const jsonPath = relative(benchDir, resolve(values.render));
    const resultsMd = join(benchDir, 'RESULTS.md');
    await writeFile(
      resultsMd,
      record.command.includes('--link')
        ? withLinkSections(await readFile(resultsMd, 'utf8'), record, jsonPath, { table, notes })
        : renderResults(record, jsonPath),
    );
    process.stderr.write(`bench: rendered bench/RESULTS.md from ${values.render}\n`);
    return 0;
  }
  const linkProfiles =
    values.link === undefined
      ? undefined
      : values.link === 'all'
        ? Object.keys(PROFILES)
        : values.link.split(',').map((p) => p.trim());
  const suites = pickSuites(values.only, linkProfiles);
  const started = new Date();
  const info = await machine();
  const results = [];
  let failed = false;
  for (const suite of suites) {
    const t0 = performance.now();
    const log = (m) => process.stderr.write(`bench ${suite.name}: ${m}\n`);
    log(`start (${suite.describe})`);
    try {
      const r = await suite.run({
        quick: values.quick,
        log,
        link: linkProfiles,
        reps: values.reps === undefined ? undefined : Number(values.reps),
        carriages: values.carriages?.split(',').map((c) => c.trim()),
        mib: values.mib === undefined ? undefined : Number(values.mib),
      });
      results.push({ suite: suite.name, seconds: (performance.now() - t0) / 1000, ...r });
    } catch (error) {
      // One broken suite must not hide the others' figures; the run still exits non-zero.
      failed = true;
      log(`FAILED: ${error.stack ?? error}`);
      results.push({
        suite: suite.name,
        seconds: (performance.now() - t0) / 1000,
        error: String(error.message ?? error),
        rows: [
          {
            id: `${suite.name}.error`,
            what: `${suite.describe}: the suite failed (${String(error.message ?? error).slice(0, 200)})`,
            ours: 'n/a',
            baseline: 'n/a',
            ratio: 'n/a',
            target: '-',
            met: false,
          },
        ],
      });
    }
    log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const rows = results.flatMap((r) => r.rows);
  const totalSeconds = (Date.now() - started.getTime()) / 1000;
  const args = [
    values.quick ? '--quick' : '',
    values.only ? `--only ${values.only}` : '',
    values.link ? `--link ${values.link}` : '',
    values.reps ? `--reps ${values.reps}` : '',
    values.carriages ? `--carriages ${values.carriages}` : '',
    values.mib ? `--mib ${values.mib}` : '',
  ].filter(Boolean);
  const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
  const text = table(rows);
  process.stdout.write(`\n${text}\n\n${notes(rows).join('\n')}\n\n`);
  const missed = rows.filter((r) => r.met === false);
  process.stdout.write(
    missed.length
      ? `${missed.length} target(s) missed: ${missed.map((r) => r.id).join(', ')}\n`
      : 'every target with a figure was met\n',
  );

  if (!values['no-record']) {
    const full = !values.quick && !values.only && !linkProfiles;
    const date = started.toISOString().slice(0, 10);
    const picked = linkProfiles
      ? `-link-${linkProfiles.join('-')}`
      : `-only-${suites.map((s) => s.name).join('-')}`;
    const suffix = full ? '' : values.quick ? '-quick' : picked;
    const dir = join(benchDir, 'results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${date}${suffix}.json`);
    const record = {
      date: started.toISOString(),
      command,
      quick: values.quick,
      totalSeconds,
      machine: info,
      loadAverageAtEnd: loadavg(),
      rows,
      suites: results,
    };
    await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
    process.stderr.write(`bench: wrote ${file}\n`);
    const resultsMd = join(benchDir, 'RESULTS.md');
    if (full) {
      // The shaped-link runs are recorded apart (not in a full run): their sections stay.
      const kept = linkSectionsOf(await readFile(resultsMd, 'utf8').catch(() => ''));
      await writeFile(resultsMd, [renderResults(record, `results/${date}.json`), ...kept].join('\n'));
      process.stderr.write('bench: updated bench/RESULTS.md\n');
    } else if (linkProfiles && !values.quick) {
      const text = await readFile(resultsMd, 'utf8');
      await writeFile(resultsMd, withLinkSections(text, record, relative(benchDir, file), { table, notes }));
      process.stderr.write(`bench: updated the ${linkProfiles.join(', ')} section(s) of bench/RESULTS.md\n`);
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exitCode = 2;
  },
);
