// Prints `make test`'s closing line, "N passed, N failed", from the results each suite recorded in
// LUCID_RESULTS_DIR (vitest's JSON reports and the contract gate's count). Exits 1 when a suite
// recorded nothing or ran no test, so a run that executes nothing cannot pass silently.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.LUCID_RESULTS_DIR ?? '.tmp/results';
const expected = process.argv.slice(2);
let passed = 0;
let failed = 0;
const problems = [];
for (const name of expected) {
  const file = path.join(dir, `${name}.json`);
  if (!existsSync(file)) {
    problems.push(`${name}: no results recorded`);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  // vitest's JSON reporter, or the contract gate's { passed, failed }.
  const suitePassed = report.numPassedTests ?? report.passed ?? 0;
  const suiteFailed = (report.numFailedTests ?? report.failed ?? 0) + (report.numTodoTests ?? 0);
  console.log(
    `  ${name}: ${suitePassed} passed, ${suiteFailed} failed${report.numPendingTests ? `, ${report.numPendingTests} skipped` : ''}`,
  );
  if (suitePassed === 0) problems.push(`${name}: ran no test`);
  passed += suitePassed;
  failed += suiteFailed;
}
for (const stray of readdirSync(dir).filter((file) => !expected.includes(file.replace(/\.json$/, '')))) {
  problems.push(`unexpected results file ${stray}`);
}
for (const problem of problems) console.log(`  ${problem}`);
console.log(`${passed} passed, ${failed + problems.length} failed`);
process.exitCode = failed > 0 || problems.length > 0 ? 1 : 0;
