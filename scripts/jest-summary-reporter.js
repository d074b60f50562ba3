// Prints the plain closing line "N passed, N failed" (", N skipped") after a jest run, which CI reads
// to tell a run that tested nothing from one that passed. With FW_JEST_SUMMARY_CARRY set (scripts/run-tests.js),
// the counts of earlier runs kept in that file are added, so the last run's line is the total of all.
'use strict';

const { existsSync, readFileSync, writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const carry = process.env.FW_JEST_SUMMARY_CARRY;
    const earlier = carry && existsSync(carry) ? JSON.parse(readFileSync(carry, 'utf8')) : null;
    const totals = {
      passed: results.numPassedTests + (earlier?.passed ?? 0),
      failed: results.numFailedTests + (earlier?.failed ?? 0),
      skipped: results.numPendingTests + results.numTodoTests + (earlier?.skipped ?? 0),
    };
    if (carry) writeFileSync(carry, JSON.stringify(totals));
    const line = `${totals.passed} passed, ${totals.failed} failed`;
    console.log(totals.skipped > 0 ? `${line}, ${totals.skipped} skipped` : line);
  }
}

module.exports = SummaryReporter;
