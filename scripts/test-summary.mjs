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
    failed += r.numFailedTests + (r.numFailedTestSuites ?? 0) - countSuitesWithFailedTests(r);
  } else if (name.endsWith('.junit.xml')) {
    const suite = /<testsuite\b[^>]*>/.exec(text)?.[0] ?? '';
    const attr = (a) => Number(new RegExp(`\\b${a}="(\\d+)"`).exec(suite)?.[1] ?? 0);
    const bad = attr('failures') + attr('errors');
    failed += bad;
    passed += attr('tests') - bad - attr('skipped');
  }
}
console.log(`${passed} passed, ${failed} failed`);

// A suite that fails to load has no tests; count it once as a failure, but not suites whose
// failure is already counted through their tests.
function countSuitesWithFailedTests(r) {
  return (r.testResults ?? []).filter(
    (s) => s.status === 'failed' && s.assertionResults?.some((a) => a.status === 'failed'),
  ).length;
}
