/**
 * correlation.ts — expected values:
 *  - statistics.md §14.1 (printed digits): Pearson r 0.91936, Spearman ρ 0.90184 (R `cor`, reference/oracle/oracle.R);
 *    Pearson Fisher-z CI [0.8039, 0.9680] (= `cor.test`); Spearman CIs [0.7644, 0.9609] (SE 1/√17) and
 *    [0.7585, 0.9620] (Fieller SE √(1.06/17)).
 *  - fixtures/correlation-oracle-r.json: `Rscript src/stats/fixtures/oracle/correlation-oracle.R src/stats/fixtures`
 *    (cor.test, cor(method = "spearman"), Spearman CIs by the §7 formulas), 17 significant digits.
 *  - fixtures/correlation-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/correlation-oracle.py
 *    src/stats/fixtures` (scipy pearsonr + confidence_interval, spearmanr).
 *  Tolerance 1e-12 absolute. Inputs: vector A, the synthetic 436-vessel set (ties), vector B (§14.2), a 4-pair set
 *  with a tie, a perfectly monotone decreasing set.
 * Commands, tool versions and oracle limits: fixtures/README-proportions.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CorrelationEstimate,
  type CorrelationResult,
  pearsonCorrelation,
  spearmanCorrelation,
  vesselCorrelation,
} from './correlation';
import rOracle from './fixtures/correlation-oracle-r.json';
import pyOracle from './fixtures/correlation-oracle-python.json';

const FULL = 1e-12;

function readPairs(file: string): { patientId: string; ctFfr: number; invasiveFfr: number }[] {
  const [header, ...rows] = readFileSync(join(__dirname, 'fixtures', file), 'utf8')
    .trim()
    .split('\n');
  const cols = header.split(',');
  return rows.map((row) => {
    const cells = row.split(',');
    return {
      patientId: cells[cols.indexOf('patient')],
      invasiveFfr: Number(cells[cols.indexOf('ffr')]),
      ctFfr: Number(cells[cols.indexOf('ctffr')]),
    };
  });
}

function estimated(result: CorrelationResult): CorrelationEstimate {
  if (!result.estimable) throw new Error(`not estimable: ${result.detail}`);
  return result;
}

function expectClose(actual: number, expected: number, label: string): void {
  if (!(Math.abs(actual - expected) <= FULL)) {
    throw new Error(`${label}: |${actual} − ${expected}| = ${Math.abs(actual - expected)}`);
  }
}

const printed = (i: readonly number[]): string => `[${i[0].toFixed(4)}, ${i[1].toFixed(4)}]`;

const vectorA = readPairs('proportions-vector-a.csv');
const synthetic = readPairs('proportions-vessels.csv');
const vectorB = {
  ctffr: [0.66, 0.79, 0.74, 0.84, 0.78, 0.88, 0.81, 0.93, 0.9, 0.95],
  ffr: [0.62, 0.71, 0.78, 0.8, 0.83, 0.86, 0.88, 0.91, 0.94, 0.97],
};

describe('statistics.md §14.1 vector A (printed digits)', () => {
  const { pearson, spearman } = vesselCorrelation(vectorA);

  it('Pearson r 0.91936, Fisher-z CI [0.8039, 0.9680] (= cor.test)', () => {
    expect(estimated(pearson).estimate.toFixed(5)).toBe('0.91936');
    expect(printed(estimated(pearson).ci95)).toBe('[0.8039, 0.9680]');
    expect(estimated(pearson).n).toBe(20);
  });

  it('Spearman ρ 0.90184; CI [0.7585, 0.9620] with the default Fieller SE, [0.7644, 0.9609] with 1/√(n − 3)', () => {
    expect(estimated(spearman).estimate.toFixed(5)).toBe('0.90184');
    expect(printed(estimated(spearman).ci95)).toBe('[0.7585, 0.9620]');
    expect(estimated(spearman).interval).toContain('1.06');
    const fisher = estimated(
      spearmanCorrelation(
        vectorA.map((v) => v.ctFfr),
        vectorA.map((v) => v.invasiveFfr),
        { standardError: 'fisher' },
      ),
    );
    expect(printed(fisher.ci95)).toBe('[0.7644, 0.9609]');
  });
});

describe.each([
  ['R 4.2.2', rOracle],
  ['scipy 1.10.1', pyOracle],
] as const)('against %s (1e-12)', (_name, oracle) => {
  const sets: [string, number[], number[], (typeof oracle)['vectorA']][] = [
    ['vector A', vectorA.map((v) => v.ctFfr), vectorA.map((v) => v.invasiveFfr), oracle.vectorA],
    [
      'synthetic (ties)',
      synthetic.map((v) => v.ctFfr),
      synthetic.map((v) => v.invasiveFfr),
      oracle.synthetic,
    ],
    ['vector B', vectorB.ctffr, vectorB.ffr, oracle.vectorB],
    ['n = 4 with a tie', [0.72, 0.8, 0.8, 0.88], [0.7, 0.85, 0.78, 0.91], oracle.smallWithTie],
    ['monotone decreasing', [0.55, 0.66, 0.71, 0.84, 0.93], [0.9, 0.8, 0.7, 0.6, 0.5], oracle.negative],
  ];
  it.each(sets)('%s: Pearson r and CI, Spearman ρ and its three CIs', (label, x, y, expected) => {
    const pearson = estimated(pearsonCorrelation(x, y));
    expectClose(pearson.estimate, expected.pearson.estimate, `${label} r`);
    expectClose(pearson.ci95[0], expected.pearson.ci95[0], `${label} r lower`);
    expectClose(pearson.ci95[1], expected.pearson.ci95[1], `${label} r upper`);
    expect(pearson.n).toBe(expected.n);
    const conventions = [
      ['fieller', expected.spearman.ci95Fieller],
      ['fisher', expected.spearman.ci95Fisher],
      ['bonett-wright', expected.spearman.ci95BonettWright],
    ] as const;
    for (const [convention, ci] of conventions) {
      const spearman = estimated(spearmanCorrelation(x, y, { standardError: convention }));
      expectClose(spearman.estimate, expected.spearman.estimate, `${label} ρ`);
      expectClose(spearman.ci95[0], ci[0], `${label} ρ ${convention} lower`);
      expectClose(spearman.ci95[1], ci[1], `${label} ρ ${convention} upper`);
    }
  });
});

describe('edge cases', () => {
  it('fewer than 4 pairs: not estimable with the reason (n = 0, 3)', () => {
    for (const n of [0, 1, 3]) {
      const x = [0.7, 0.8, 0.9].slice(0, n);
      const y = [0.72, 0.79, 0.93].slice(0, n);
      expect(pearsonCorrelation(x, y)).toEqual(
        expect.objectContaining({ estimable: false, reason: 'too-few-pairs', estimate: null, ci95: null, n }),
      );
      expect(spearmanCorrelation(x, y)).toEqual(
        expect.objectContaining({ estimable: false, reason: 'too-few-pairs' }),
      );
    }
  });

  it('a constant variable: not estimable (0/0), never NaN', () => {
    const x = [0.8, 0.8, 0.8, 0.8, 0.8];
    const y = [0.7, 0.75, 0.8, 0.85, 0.9];
    expect(pearsonCorrelation(x, y)).toEqual(
      expect.objectContaining({ estimable: false, reason: 'constant-values' }),
    );
    expect(spearmanCorrelation(y, x)).toEqual(
      expect.objectContaining({ estimable: false, reason: 'constant-values' }),
    );
  });

  it('perfect linear association: r = 1 and the degenerate interval [1, 1]', () => {
    const x = [0.6, 0.7, 0.8, 0.9];
    const result = estimated(pearsonCorrelation(x, x));
    expect(result.estimate).toBe(1);
    expect(result.ci95).toEqual([1, 1]);
  });

  it('rejects mismatched lengths and non-finite values', () => {
    expect(() => pearsonCorrelation([1, 2, 3, 4], [1, 2, 3])).toThrow(RangeError);
    expect(() => spearmanCorrelation([1, 2, 3, Number.NaN], [1, 2, 3, 4])).toThrow(RangeError);
  });
});
