// Prints the Windows lane's skipped tests and one summary line from its vitest JSON report.
// Usage: node scripts/windows/lane-summary.mjs <vitest.json> <exit code> <seconds>
import { readFileSync } from 'node:fs';

const [file, rc = '?', seconds = '?'] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, 'utf8'));
const skipped = [];
const failed = [];
for (const suite of report.testResults ?? []) {
  const name = String(suite.name ?? '').replace(/\\/g, '/');
  const relative = name.replace(/^.*?\/((?:packages|apps)\/)/, '$1');
  for (const test of suite.assertionResults ?? []) {
    const title = test.fullName ?? [...(test.ancestorTitles ?? []), test.title].join(' > ');
    if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') {
      skipped.push(`${relative} > ${title}`);
    } else if (test.status === 'failed') {
      failed.push(`${relative} > ${title}`);
    }
  }
  // A file that fails to load has no failed test but is a failure all the same.
  if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) {
    failed.push(`${relative} (file failed: ${String(suite.message ?? '').split('\n')[0]})`);
  }
}
if (skipped.length > 0) {
  console.log(`skipped on win32 under Wine (${skipped.length}):`);
  for (const line of skipped) console.log(`  - ${line}`);
}
if (failed.length > 0) {
  console.log(`failed on win32 under Wine (${failed.length}):`);
  for (const line of failed) console.log(`  - ${line}`);
}
const passed = report.numPassedTests ?? 0;
const suites = report.testResults ?? [];
const files = `${suites.filter((suite) => suite.status === 'passed').length}/${suites.length} files passed`;
console.log(
  `windows lane (win32 under Wine): ${passed} passed, ${failed.length} failed, ${skipped.length} skipped; ${files}; vitest exit code ${rc}; ${seconds}s`,
);
