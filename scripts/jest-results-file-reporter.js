// Jest reporter of scripts/run-tests.js: writes what the run's closing summaries need (counts, and per file the
// tests' titles and statuses, as scripts/security-summary-reporter.js reads them) to FW_JEST_RESULTS_FILE, so that
// the runner can print one total and one security table for runs made in several processes.
'use strict';

const { writeFileSync } = require('node:fs');

class ResultsFileReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.FW_JEST_RESULTS_FILE;
    if (!file) return;
    const kept = {
      numPassedTests: results.numPassedTests,
      numFailedTests: results.numFailedTests,
      numPendingTests: results.numPendingTests,
      numTodoTests: results.numTodoTests,
      testResults: results.testResults.map((fileResult) => ({
        testFilePath: fileResult.testFilePath,
        testExecError: fileResult.testExecError ? { message: fileResult.testExecError.message } : undefined,
        durationMs: fileResult.perfStats.end - fileResult.perfStats.start,
        testResults: fileResult.testResults.map((test) => ({
          ancestorTitles: test.ancestorTitles,
          title: test.title,
          status: test.status,
        })),
      })),
    };
    writeFileSync(file, JSON.stringify(kept));
  }
}

module.exports = ResultsFileReporter;
