// Jest reporter: after a run that included tests of the security suite (security/suite.json), prints
// a Markdown table of what was tried and whether it held, grouped by confidentiality, integrity,
// availability and audit, then one line of totals per category. Used by `npm run test:security` and
// `npm test`; prints nothing when no suite file ran.
'use strict';

const { readFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');

function loadSuite() {
  return JSON.parse(readFileSync(join(root, 'security', 'suite.json'), 'utf8'));
}

/** The category of one test, or null when the suite leaves it out. */
function categoryOf(suite, file, test) {
  const titles = [...test.ancestorTitles, test.title];
  for (const title of titles) {
    const prefix = /^([a-z]+):/.exec(title)?.[1];
    if (prefix && suite.categories.includes(prefix)) return prefix;
  }
  const fullName = titles.join(' ');
  const rule = (suite.tests ?? []).find(
    (candidate) => candidate.file === file && fullName.includes(candidate.title),
  );
  if (rule) return rule.category;
  return suite.files[file] ?? null;
}

function outcome(status) {
  if (status === 'passed') return 'held';
  if (status === 'failed') return '**FAILED**';
  return status; // pending, skipped, todo
}

/** `|` and newlines would break a Markdown table row. */
const cell = (text) =>
  String(text)
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');

function summaryTable(suite, testResults) {
  const rows = [];
  for (const fileResult of testResults) {
    const file = relative(root, fileResult.testFilePath).split('\\').join('/');
    if (!(file in suite.files)) continue;
    if (fileResult.testResults.length === 0 && fileResult.testExecError) {
      rows.push({ category: suite.files[file], tried: `${file} could not run`, file, status: 'failed' });
      continue;
    }
    for (const test of fileResult.testResults) {
      const category = categoryOf(suite, file, test);
      if (!category) continue;
      const tried = test.title.replace(/^[a-z]+:\s*/, '');
      rows.push({ category, tried, file, status: test.status });
    }
  }
  if (rows.length === 0) return null;
  // By category, then in the suite's file order (jest runs files in an order of its own), then as written.
  const files = Object.keys(suite.files);
  const rank = (row) => suite.categories.indexOf(row.category) * 1000 + files.indexOf(row.file);
  rows.forEach((row, index) => (row.index = index));
  rows.sort((a, b) => rank(a) - rank(b) || a.index - b.index);
  const lines = [
    '| Category | What was tried | Test file | Result |',
    '|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.category} | ${cell(row.tried)} | ${cell(row.file.replace(/^test\//, ''))} | ${outcome(row.status)} |`,
    ),
    '',
    '| Category | Tests | Held | Failed | Not run |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const category of suite.categories) {
    const mine = rows.filter((row) => row.category === category);
    const held = mine.filter((row) => row.status === 'passed').length;
    const failed = mine.filter((row) => row.status === 'failed').length;
    lines.push(`| ${category} | ${mine.length} | ${held} | ${failed} | ${mine.length - held - failed} |`);
  }
  return lines.join('\n');
}

class SecuritySummaryReporter {
  onRunComplete(_contexts, results) {
    let table;
    try {
      table = summaryTable(loadSuite(), results.testResults);
    } catch (error) {
      console.log(`Security suite summary unavailable: ${error.message}`);
      return;
    }
    if (table) console.log(`\nSecurity suite (security/suite.json): what was tried, what held\n\n${table}\n`);
  }
}

module.exports = SecuritySummaryReporter;
module.exports.summaryTable = summaryTable;
module.exports.categoryOf = categoryOf;
