// Jest test sequencer of `npm test` (one process, in band): every suite of the unit project first, then the
// integration project's, each group in jest's default order. The CPU-bound unit suites are then not run after
// dozens of integration suites in the same process: the drift scenarios took 81 s alone but 248 s in a fresh-clone CI
// run where they came after about fifty integration suites.
'use strict';

const Sequencer = require('@jest/test-sequencer').default;

class UnitFirstSequencer extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    const isUnit = (test) => test.context.config.displayName?.name === 'unit';
    return [...sorted.filter(isUnit), ...sorted.filter((test) => !isUnit(test))];
  }
}

module.exports = UnitFirstSequencer;
