// The Jest part of `npm test`. First the unit project on two workers: pure, CPU-bound specs. Then the integration
// project in FW_TEST_SHARDS (2) processes side by side, each running its share of the suites one at a time against a
// database of its own (fieldwatch_test_1, _2 …, created afresh by test/global-setup.ts) and the one local broker.
// Within a process the suites stay in band: they share its database and the scheduled jobs of the apps they start.
// Across processes nothing is shared but the broker, where every suite has its own topics and consumer group
// (test/helpers/test-environment.ts). Much of an integration suite's time is spent waiting for consumers and
// polls, which the other process fills. The shards are balanced by the suites' measured durations
// (scripts/jest-sequencer.js, test/suite-durations.json).
//
// Each run writes its results to a file (scripts/jest-results-file-reporter.js); the runner prints the security
// suite's table and the closing line "N passed, N failed" over all of them, which CI reads to tell a run that tested
// nothing from one that passed. Extra arguments go to every run.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { createInterface } = require('node:readline');
const { URL } = require('node:url');
const { summaryTable } = require('./security-summary-reporter');

const root = join(__dirname, '..');
const jestBin = require.resolve('jest/bin/jest');
// A filter given on the command line (`npm test -- --testPathPatterns evidence`) may match files of one project only.
const extra = process.argv.length > 2 ? [...process.argv.slice(2), '--passWithNoTests'] : [];
const shardCount = Number(process.env.FW_TEST_SHARDS ?? 2);
if (!(Number.isInteger(shardCount) && shardCount >= 1 && shardCount <= 8)) {
  console.error(`FW_TEST_SHARDS must be an integer from 1 to 8, got ${process.env.FW_TEST_SHARDS}`);
  process.exit(2);
}
const baseDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/fieldwatch_test';
const resultsDirectory = mkdtempSync(join(tmpdir(), 'fieldwatch-jest-'));
const reporter = (name) => `--reporters=${join(__dirname, name)}`;

function jestArgs(project, more) {
  return [
    jestBin,
    '--selectProjects',
    project,
    ...more,
    '--reporters=default',
    reporter('jest-results-file-reporter.js'),
    ...extra,
  ];
}

function shardDatabaseUrl(index) {
  if (shardCount === 1) return baseDatabaseUrl;
  const url = new URL(baseDatabaseUrl);
  url.pathname = `${url.pathname}_${index}`;
  return url.toString();
}

/** One integration shard, its output streamed line by line with a prefix (two processes write at once). */
function runShard(index) {
  const label = `[integration ${index}/${shardCount}]`;
  const child = spawn(
    process.execPath,
    jestArgs('integration', ['--runInBand', ...(shardCount > 1 ? [`--shard=${index}/${shardCount}`] : [])]),
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TEST_DATABASE_URL: shardDatabaseUrl(index),
        FW_JEST_RESULTS_FILE: join(resultsDirectory, `integration-${index}.json`),
      },
    },
  );
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    createInterface({ input: stream }).on('line', (line) => out.write(`${label} ${line}\n`));
  }
  const started = Date.now();
  return new Promise((resolve) => {
    child.on('close', (code, signal) =>
      resolve({ index, status: code ?? (signal ? 1 : 0), wallMs: Date.now() - started }),
    );
  });
}

function readResults(name) {
  const file = join(resultsDirectory, `${name}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
}

async function main() {
  const unit = spawnSync(process.execPath, jestArgs('unit', ['--maxWorkers=2']), {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FW_JEST_RESULTS_FILE: join(resultsDirectory, 'unit.json') },
  });
  let status = unit.status ?? 1;
  const runs = [['unit', readResults('unit')]];
  if (status === 0) {
    // Started once here, so that the shards' global setups find it answering instead of racing to start it.
    const broker = spawnSync('bash', [join(__dirname, 'kafka-local.sh'), 'start'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, KAFKA_TOPIC_PREFIX: '' },
    });
    if (broker.status !== 0) {
      console.error('npm test: the local Kafka broker did not start (scripts/kafka-local.sh start)');
      status = broker.status ?? 1;
    } else {
      const shards = await Promise.all(Array.from({ length: shardCount }, (_, i) => runShard(i + 1)));
      for (const shard of shards) {
        const results = readResults(`integration-${shard.index}`);
        runs.push([`integration ${shard.index}/${shardCount}`, results]);
        const suites = results ? results.testResults.length : 0;
        const busyMs = results ? results.testResults.reduce((sum, file) => sum + file.durationMs, 0) : 0;
        console.log(
          `integration shard ${shard.index}/${shardCount}: exit ${shard.status}, ${suites} suites, ` +
            `${(busyMs / 1000).toFixed(0)} s in suites, ${(shard.wallMs / 1000).toFixed(0)} s wall`,
        );
        if (shard.status !== 0) status = status || shard.status;
      }
    }
  }

  const missing = runs.filter(([, results]) => results === null).map(([name]) => name);
  if (missing.length > 0) {
    console.log(`No results from: ${missing.join(', ')}`);
    status = status || 1;
  }
  const all = runs.map(([, results]) => results).filter(Boolean);
  const security = summaryTable(
    JSON.parse(readFileSync(join(root, 'security', 'suite.json'), 'utf8')),
    all.flatMap((results) => results.testResults),
  );
  if (security)
    console.log(`\nSecurity suite (security/suite.json): what was tried, what held\n\n${security}\n`);
  const count = (key) => all.reduce((sum, results) => sum + results[key], 0);
  const skipped = count('numPendingTests') + count('numTodoTests');
  const line = `${count('numPassedTests')} passed, ${count('numFailedTests')} failed`;
  console.log(skipped > 0 ? `${line}, ${skipped} skipped` : line);
  rmSync(resultsDirectory, { recursive: true, force: true });
  return status;
}

main().then(
  (status) => process.exit(status),
  (error) => {
    console.error(`npm test: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
