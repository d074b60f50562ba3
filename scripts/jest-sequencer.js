// Jest test sequencer of `npm test` (scripts/run-tests.js) and of plain `jest` runs.
//
// sort: every suite of the unit project first, then the integration project's, each group in jest's default order.
// The CPU-bound unit suites are then not run after dozens of integration suites in the same process: the drift
// scenarios took 81 s alone but 248 s in a fresh-clone CI run where they came after about fifty integration suites.
//
// shard (--shard=i/n): suites are dealt to shards longest first, each to the shard with the least time so far,
// by the durations measured in CI (test/suite-durations.json; a suite not listed counts as 10 s). Jest's own
// sharding splits by path, which can put the two longest suites (the load test and the browser test, about four
// minutes together) in one shard. Deterministic: every shard process computes the same deal.
'use strict';

const { readFileSync } = require('node:fs');
const { join, relative } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const root = join(__dirname, '..');
const UNLISTED_SECONDS = 10;

function measuredSeconds() {
  try {
    return JSON.parse(readFileSync(join(root, 'test', 'suite-durations.json'), 'utf8')).seconds;
  } catch {
    return {};
  }
}

class UnitFirstSequencer extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    const isUnit = (test) => test.context.config.displayName?.name === 'unit';
    return [...sorted.filter(isUnit), ...sorted.filter((test) => !isUnit(test))];
  }

  shard(tests, { shardIndex, shardCount }) {
    const seconds = measuredSeconds();
    const pathOf = (test) => relative(root, test.path).split('\\').join('/');
    const weighed = tests
      .map((test) => ({ test, path: pathOf(test) }))
      .map((entry) => ({ ...entry, weight: seconds[entry.path] ?? UNLISTED_SECONDS }))
      .sort((a, b) => b.weight - a.weight || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const load = new Array(shardCount).fill(0);
    const mine = [];
    for (const entry of weighed) {
      let lightest = 0;
      for (let s = 1; s < shardCount; s++) if (load[s] < load[lightest]) lightest = s;
      load[lightest] += entry.weight;
      if (lightest === shardIndex - 1) mine.push(entry.test);
    }
    return mine;
  }
}

module.exports = UnitFirstSequencer;
