// `npm run audit:gate`: fails on any high or critical advisory against a production dependency
// (`npm audit --omit=dev`) that security/audit-exceptions.json does not excuse with an unexpired,
// reasoned exception. Policy and exit codes: security/README.md.
//
//   node scripts/audit-gate.js [--report <npm-audit.json>] [--exceptions <file>] [--today YYYY-MM-DD]
//                              [--allow-unavailable] [-- <extra npm audit arguments>]
//
// Exit 0: passed. Exit 1: blocked (an advisory without a valid exception, or an expired or malformed
// exception). Exit 2: the audit could not be done (registry's audit endpoint unreachable or refusing):
// a gate that cannot see is not a pass. --allow-unavailable turns exit 2 into a loud warning and exit 0,
// for a build machine that has no route to the audit endpoint and runs the gate elsewhere.
'use strict';

const { spawnSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const BLOCKING = new Set(['high', 'critical']);
/** An exception is a dated decision, not a mute button: at most this far ahead. */
const MAX_EXCEPTION_DAYS = 180;
const DAY_MS = 24 * 60 * 60 * 1000;

function parseArguments(argv) {
  const options = {
    report: null,
    exceptions: join(root, 'security', 'audit-exceptions.json'),
    today: new Date().toISOString().slice(0, 10),
    allowUnavailable: false,
    npmArguments: [],
  };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--') {
      options.npmArguments = argv.slice(index + 1);
      break;
    } else if (argument === '--report') options.report = argv[++index];
    else if (argument === '--exceptions') options.exceptions = argv[++index];
    else if (argument === '--today') options.today = argv[++index];
    else if (argument === '--allow-unavailable') options.allowUnavailable = true;
    else throw new Error(`unknown argument ${argument}`);
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(options.today)) throw new Error('--today must be YYYY-MM-DD');
  return options;
}

/** Runs npm audit for production dependencies; returns its parsed JSON, or why it could not. */
function runNpmAudit(npmArguments) {
  const npm = spawnSync('npm', ['audit', '--omit=dev', '--json', ...npmArguments], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (npm.error) return { unavailable: `could not run npm: ${npm.error.message}` };
  return parseReport(npm.stdout, npm.stderr);
}

function parseReport(stdout, stderr = '') {
  let report;
  try {
    report = JSON.parse(stdout);
  } catch {
    return {
      unavailable: `npm audit printed no JSON report${stderr ? `: ${stderr.trim().split('\n')[0]}` : ''}`,
    };
  }
  if (report && typeof report.auditReportVersion === 'number' && report.vulnerabilities) return { report };
  // npm prints { message, statusCode, … } or { error: { code, summary } } when the endpoint fails.
  const why = report?.message ?? report?.error?.summary ?? report?.error?.code ?? 'unexpected report shape';
  return { unavailable: `the registry's audit endpoint gave no report (${why})` };
}

/** Every advisory of severity high or critical, once each, with the packages it affects. */
function blockingAdvisories(report) {
  const advisories = new Map();
  for (const vulnerability of Object.values(report.vulnerabilities)) {
    for (const via of vulnerability.via ?? []) {
      if (typeof via !== 'object' || !BLOCKING.has(via.severity)) continue;
      const ghsa = /GHSA(-[23456789cfghjmpqrvwx]{4}){3}/.exec(via.url ?? '')?.[0] ?? null;
      const key = ghsa ?? String(via.source);
      const known = advisories.get(key) ?? {
        id: key,
        ids: new Set([String(via.source), ...(ghsa ? [ghsa] : [])]),
        severity: via.severity,
        title: via.title ?? '',
        url: via.url ?? '',
        packages: new Set(),
      };
      known.packages.add(via.name ?? vulnerability.name);
      advisories.set(key, known);
    }
  }
  return [...advisories.values()];
}

/** Validates the exceptions file; returns the usable exceptions and the problems that block the gate. */
function checkExceptions(document, today) {
  const problems = [];
  const entries = Array.isArray(document?.exceptions) ? document.exceptions : null;
  if (!entries) return { usable: [], problems: ['the exceptions file must be { "exceptions": [ … ] }'] };
  const todayMs = Date.parse(`${today}T00:00:00Z`);
  const usable = [];
  entries.forEach((entry, index) => {
    const label = `exception #${index + 1}${entry?.id ? ` (${entry.id})` : ''}`;
    const missing = ['id', 'package', 'reason', 'expires', 'approvedBy'].filter(
      (field) => typeof entry?.[field] !== 'string' || entry[field].trim() === '',
    );
    if (missing.length > 0) return problems.push(`${label} lacks ${missing.join(', ')}`);
    if (entry.reason.trim().length < 20)
      return problems.push(`${label}: the reason must say why (20+ characters)`);
    const expiresMs = /^\d{4}-\d{2}-\d{2}$/.test(entry.expires)
      ? Date.parse(`${entry.expires}T00:00:00Z`)
      : NaN;
    if (Number.isNaN(expiresMs)) return problems.push(`${label}: expires must be a date YYYY-MM-DD`);
    if (expiresMs < todayMs)
      return problems.push(`${label} expired on ${entry.expires}: fix, upgrade or renew it`);
    if (expiresMs > todayMs + MAX_EXCEPTION_DAYS * DAY_MS) {
      return problems.push(`${label}: expires is more than ${MAX_EXCEPTION_DAYS} days ahead`);
    }
    usable.push(entry);
  });
  return { usable, problems };
}

function evaluate(report, exceptionsDocument, today) {
  const { usable, problems } = checkExceptions(exceptionsDocument, today);
  const advisories = blockingAdvisories(report);
  const excused = [];
  const blocked = [];
  for (const advisory of advisories) {
    const exception = usable.find(
      (entry) => advisory.ids.has(entry.id) && advisory.packages.has(entry.package),
    );
    (exception ? excused : blocked).push({ advisory, exception });
  }
  const unused = usable.filter((entry) => !excused.some((item) => item.exception === entry));
  return { advisories, excused, blocked, problems, unused };
}

function describe(advisory) {
  return `${advisory.severity.toUpperCase()} ${advisory.id} in ${[...advisory.packages].join(', ')}: ${advisory.title} ${advisory.url}`.trim();
}

function main() {
  let options;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    console.error(`audit-gate: ${error.message}`);
    return 1;
  }
  let exceptionsDocument;
  try {
    exceptionsDocument = JSON.parse(readFileSync(options.exceptions, 'utf8'));
  } catch (error) {
    console.error(
      `audit-gate: BLOCKED — cannot read the exceptions file ${options.exceptions}: ${error.message}`,
    );
    return 1;
  }
  const result = options.report
    ? parseReport(readFileSync(options.report, 'utf8'))
    : runNpmAudit(options.npmArguments);
  if (result.unavailable) {
    const text = `audit-gate: AUDIT UNAVAILABLE — ${result.unavailable}. No advisory was checked.`;
    if (options.allowUnavailable) {
      console.warn(`${text} Passing only because --allow-unavailable was given.`);
      return 0;
    }
    console.error(`${text} Failing: a gate that cannot see is not a pass (see security/README.md).`);
    return 2;
  }
  const { advisories, excused, blocked, problems, unused } = evaluate(
    result.report,
    exceptionsDocument,
    options.today,
  );
  const counts = result.report.metadata?.vulnerabilities ?? {};
  console.log(
    `audit-gate: production dependencies: ${counts.critical ?? 0} critical, ${counts.high ?? 0} high, ` +
      `${counts.moderate ?? 0} moderate, ${counts.low ?? 0} low (${advisories.length} high/critical advisories)`,
  );
  for (const { advisory, exception } of excused) {
    console.log(`  excepted until ${exception.expires}: ${describe(advisory)} — ${exception.reason}`);
  }
  for (const entry of unused) console.warn(`  unused exception ${entry.id} (${entry.package}): remove it`);
  for (const problem of problems) console.error(`  ${problem}`);
  for (const { advisory } of blocked) console.error(`  BLOCKING ${describe(advisory)}`);
  if (blocked.length > 0 || problems.length > 0) {
    console.error(
      `audit-gate: BLOCKED — ${blocked.length} advisories without a valid exception, ${problems.length} exception problems`,
    );
    return 1;
  }
  console.log('audit-gate: passed');
  return 0;
}

if (require.main === module) process.exitCode = main();

module.exports = { blockingAdvisories, checkExceptions, evaluate, parseReport };
