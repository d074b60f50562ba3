// `npm run test:security`: the security suite alone — the test files listed in security/suite.json,
// against real Kafka and PostgreSQL like every integration test — then its summary table (see
// scripts/security-summary-reporter.js). Extra arguments go to jest.
'use strict';

const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const suite = JSON.parse(readFileSync(join(root, 'security', 'suite.json'), 'utf8'));
const files = Object.keys(suite.files);
const absent = files.filter((file) => !existsSync(join(root, file)));
if (absent.length > 0) {
  console.error(`test:security: security/suite.json lists files that do not exist: ${absent.join(', ')}`);
  process.exit(1);
}

const jest = spawnSync(
  process.execPath,
  [
    require.resolve('jest/bin/jest'),
    '--runInBand',
    '--selectProjects',
    'integration',
    '--reporters=default',
    `--reporters=${join(__dirname, 'security-summary-reporter.js')}`,
    `--reporters=${join(__dirname, 'jest-summary-reporter.js')}`,
    ...process.argv.slice(2),
    '--runTestsByPath',
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(jest.status ?? 1);
