#!/usr/bin/env node
// Sums the test reports in .test-results/ (vitest JSON per package, pytest JUnit XML) and prints
// one line "N passed, N failed" — the line CI reads.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '.test-results');
let passed = 0;
let failed = 0;
for (const name of existsSync(dir) ? readdirSync(dir) : []) {
  const text = readFileSync(join(dir, name), 'utf8');
  if (name.endsWith('.vitest.json')) {
    const r = JSON.parse(text);
    passed += r.numPassedTests;
    failed += r.numFailedTests + countFilesFailedWithoutTests(r);
  } else if (name.endsWith('.junit.xml')) {
    const suite = /<testsuite\b[^>]*>/.exec(text)?.[0] ?? '';
    const attr = (a) => Number(new RegExp(`\\b${a}="(\\d+)"`).exec(suite)?.[1] ?? 0);
    const bad = attr('failures') + attr('errors');
    failed += bad;
    passed += attr('tests') - bad - attr('skipped');
  }
}
console.log(`${passed} passed, ${failed} failed`);

// A test file that fails to load (or fails in a hook) has no failed tests: count it once. Not
// numFailedTestSuites, which also counts each describe block around a failed test.
function countFilesFailedWithoutTests(r) {
  return (r.testResults ?? []).filter(
    (s) => s.status === 'failed' && !s.assertionResults?.some((a) => a.status === 'failed'),
  ).length;
}
