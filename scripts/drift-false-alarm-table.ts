/**
 * False-alarm rates of drift tests on windows with NO drift (issue 4 §3; drift-methods.md §3): fixed thresholds
 * (PSI ≥ 0.1, normalised Wasserstein ≥ 0.1, Jensen–Shannon ≥ 0.1 — the open-source tools' defaults) against the
 * calibrated thresholds of src/stats/drift.ts at α = 0.05. Prints a Markdown table.
 *
 *   node -r ts-node/register/transpile-only scripts/drift-false-alarm-table.ts [--reference 2000] [--replicates 1000]
 *        [--permutations 99] [--sizes 30,50,100,200,500]
 *
 * Each replicate draws reference and current windows from N(0, 1) with `seededRandom(100000 + replicate)`; the
 * permutation tests use seed = replicate. With α(P + 1) an integer a Monte Carlo permutation test has level exactly α
 * whatever P, so P = 99 is enough for the false-alarm rate (larger P buys power, not level). The last column is the
 * binomial 99% band of a rate whose true value is 0.05.
 */
import { sampleStandardNormal, seededRandom } from '../src/stats/distributions';
import {
  type DriftTestResult,
  driftTest,
  jensenShannon,
  normalizedWasserstein,
  psi,
} from '../src/stats/drift';

function argument(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const n = Number(argument('reference', '2000'));
const replicates = Number(argument('replicates', '1000'));
const permutations = Number(argument('permutations', '99'));
const sizes = argument('sizes', '30,50,100,200,500').split(',').map(Number);
const alpha = 0.05;

function alarm(result: DriftTestResult): boolean {
  if (!result.estimable) throw new Error(result.detail);
  return result.alarm;
}

const columns = [
  'PSI ≥ 0.1',
  'W1/SD ≥ 0.1',
  'JS ≥ 0.1',
  'PSI perm.',
  'W1 perm.',
  'JS perm.',
  'KS (scipy p)',
  'PSI χ² approx.',
  'JS χ² approx.',
] as const;
const lines = [
  `False alarms per window with no drift: reference n = ${n}, ${replicates} replicates per row, α = ${alpha}, ` +
    `permutation tests with P = ${permutations}.`,
  '',
  `| current m | ${columns.join(' | ')} | 99% band for 0.05 |`,
  `|---|${columns.map(() => '---').join('|')}|---|`,
];
for (const m of sizes) {
  const counts = new Array<number>(columns.length).fill(0);
  for (let r = 0; r < replicates; r++) {
    const random = seededRandom(100000 + r);
    const reference = Array.from({ length: n }, () => sampleStandardNormal(random));
    const current = Array.from({ length: m }, () => sampleStandardNormal(random));
    const flags = [
      psi(reference, current) >= 0.1,
      normalizedWasserstein(reference, current).normalized >= 0.1,
      jensenShannon(reference, current) >= 0.1,
      alarm(driftTest(reference, current, { statistic: 'psi', alpha, permutations, seed: r })),
      alarm(driftTest(reference, current, { statistic: 'wasserstein', alpha, permutations, seed: r })),
      alarm(driftTest(reference, current, { statistic: 'jensenShannon', alpha, permutations, seed: r })),
      alarm(driftTest(reference, current, { statistic: 'ks', alpha })),
      alarm(driftTest(reference, current, { statistic: 'psi', alpha, calibration: 'asymptotic' })),
      alarm(driftTest(reference, current, { statistic: 'jensenShannon', alpha, calibration: 'asymptotic' })),
    ];
    flags.forEach((f, i) => (counts[i] += f ? 1 : 0));
  }
  const band = 2.576 * Math.sqrt((alpha * (1 - alpha)) / replicates);
  lines.push(
    `| ${m} | ${counts.map((c) => (c / replicates).toFixed(3)).join(' | ')} | ` +
      `${(alpha - band).toFixed(3)}–${(alpha + band).toFixed(3)} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
