#!/usr/bin/env node
// Sums the test reports in .test-results/ (vitest JSON per package, pytest JUnit XML) and prints
// one line "N passed, N failed" — the line CI reads. Each failure, and each test that passed only on
// another try, is named above it (report, file, test), so the tail of a CI log says what failed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, '.test-results');
let passed = 0;
const failures = [];
/** Tests that passed on another try (GPULINK_TEST_RETRY): counted as passed, named as flaky. */
const flaky = [];
for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
  const text = readFileSync(join(dir, name), 'utf8');
  if (name.endsWith('.vitest.json')) {
    const r = JSON.parse(text);
    passed += r.numPassedTests;
    failures.push(...vitestFailures(name, r));
    flaky.push(...vitestFlaky(name, r));
  } else if (name.endsWith('.junit.xml')) {
    const suite = /<testsuite\b[^>]*>/.exec(text)?.[0] ?? '';
    const attr = (a) => Number(new RegExp(`\\b${a}="(\\d+)"`).exec(suite)?.[1] ?? 0);
    const bad = attr('failures') + attr('errors');
    passed += attr('tests') - bad - attr('skipped');
    const named = junitFailures(name, text);
    for (let i = 0; i < bad; i++) failures.push(named[i] ?? `${name}: a failure (unnamed in the report)`);
  }
}
if (flaky.length > 0) {
  console.log('passed only on another try (flaky):');
  for (const f of flaky) console.log(`  ${f}`);
}
if (failures.length > 0) {
  console.log('failed:');
  for (const f of failures) console.log(`  ${f}`);
}
console.log(`${passed} passed, ${failures.length} failed`);

// A test file that fails to load (or fails in a hook) has no failed tests: it counts once. Not
// numFailedTestSuites, which also counts each describe block around a failed test.
function vitestFailures(report, r) {
  const out = [];
  for (const s of r.testResults ?? []) {
    const file = relative(root, s.name ?? '?');
    const bad = (s.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of bad)
      out.push(`${report}: ${file}: ${a.fullName ?? a.title}: ${firstLine(a.failureMessages?.[0])}`);
    if (s.status === 'failed' && bad.length === 0) {
      out.push(`${report}: ${file}: the file failed outside its tests: ${firstLine(s.message)}`);
    }
  }
  return out;
}

// vitest keeps the errors of the tries that failed on a test that passed in the end.
function vitestFlaky(report, r) {
  const out = [];
  for (const s of r.testResults ?? []) {
    for (const a of s.assertionResults ?? []) {
      if (a.status !== 'passed' || !a.failureMessages?.length) continue;
      out.push(
        `${report}: ${relative(root, s.name ?? '?')}: ${a.fullName ?? a.title}: ${firstLine(a.failureMessages[0])}`,
      );
    }
  }
  return out;
}

function junitFailures(report, text) {
  const out = [];
  for (const m of text.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    if (!/<(failure|error)\b/.test(m[2] ?? '')) continue;
    const attr = (a) => new RegExp(`\\b${a}="([^"]*)"`).exec(m[1])?.[1] ?? '';
    const where = [attr('classname'), attr('name')].filter(Boolean).join('::');
    const message = /<(?:failure|error)\b[^>]*\bmessage="([^"]*)"/.exec(m[2])?.[1] ?? '';
    out.push(`${report}: ${where}${message ? `: ${firstLine(unescapeXml(message))}` : ''}`);
  }
  return out;
}

function firstLine(text) {
  const line =
    String(text ?? '')
      .split('\n')
      .find((l) => l.trim()) ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function unescapeXml(text) {
  return text.replace(/&(#\d+|#x[0-9a-f]+|lt|gt|quot|apos|amp);/gi, (_, e) => {
    if (e[0] === '#')
      return String.fromCodePoint(Number(e[1] === 'x' || e[1] === 'X' ? `0${e.slice(1)}` : e.slice(1)));
    return { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' }[e.toLowerCase()];
  });
}
