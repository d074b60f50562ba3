// The Jest part of `npm test`: the unit project on two workers, then the integration project one suite at a time.
// Unit specs are pure and CPU-bound, so they use both cores; integration suites share one database, one broker and
// the scheduled jobs of every app they start, so they run in band, after the units (a CPU-bound unit suite run in
// the same process after dozens of integration suites took three times as long: scripts/jest-sequencer.js).
// The closing line "N passed, N failed" counts both runs (scripts/jest-summary-reporter.js), so that CI reads one
// total. Extra arguments go to both runs.
'use strict';

const { spawnSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const jestBin = require.resolve('jest/bin/jest');
const carryDirectory = mkdtempSync(join(tmpdir(), 'fieldwatch-jest-'));
const environment = { ...process.env, FW_JEST_SUMMARY_CARRY: join(carryDirectory, 'summary.json') };
const extra = process.argv.slice(2);

const reporter = (name) => `--reporters=${join(__dirname, name)}`;
const runs = [
  ['--selectProjects', 'unit', '--maxWorkers=2', '--reporters=default'],
  [
    '--selectProjects',
    'integration',
    '--runInBand',
    '--reporters=default',
    // The security suite's files are all integration specs (security/suite.json).
    reporter('security-summary-reporter.js'),
  ],
];

let status = 0;
try {
  for (const args of runs) {
    const jest = spawnSync(
      process.execPath,
      [jestBin, ...args, reporter('jest-summary-reporter.js'), ...extra],
      { stdio: 'inherit', env: environment },
    );
    status = jest.status ?? 1;
    if (status !== 0) break;
  }
} finally {
  rmSync(carryDirectory, { recursive: true, force: true });
}
process.exit(status);
