/**
 * gray-zone.ts — expected values:
 *  - fixtures/gray-zone-oracle-r.json: `Rscript src/stats/fixtures/oracle/gray-zone-oracle.R src/stats/fixtures`
 *    (cut(right = TRUE), prop.test, binom.test, ratio estimator → Wilson(n_eff)), 17 significant digits;
 *  - fixtures/gray-zone-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/gray-zone-oracle.py
 *    src/stats/fixtures` (pandas.cut(right=True), statsmodels proportion_confint, GEE sandwich).
 *  Tolerance 1e-12 absolute. Inputs: vector A (statistics.md §14.1) and the synthetic 436-vessel set, whose band
 *  accuracies (0.980 / 0.815 / 0.482 / 0.872 / 0.986) follow the Cook 2017 pattern of ctffr-evidence.md §2.
 * Commands, tool versions and oracle limits: fixtures/README-proportions.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BandAccuracy, COOK_2017_BAND_EDGES, accuracyByCtFfrBand, grayZoneAccuracy } from './gray-zone';
import type { LinkedVessel, ProportionResult } from './proportions';
import rOracle from './fixtures/gray-zone-oracle-r.json';
import pyOracle from './fixtures/gray-zone-oracle-python.json';

const FULL = 1e-12;

function readVessels(file: string): LinkedVessel[] {
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

const vectorA = readVessels('proportions-vector-a.csv');
const synthetic = readVessels('proportions-vessels.csv');

interface OracleMetric {
  x: number;
  n: number;
  estimable: boolean;
  estimate?: number;
  wilson?: number[];
  clopperPearson?: number[];
  clusterEstimable?: boolean;
  cluster?: number[];
}
interface OracleBand {
  low: number | string;
  high: number | string;
  vessels: number;
  patients: number;
  accuracy: OracleMetric;
  share: OracleMetric;
}

function expectClose(actual: number, expected: number, label: string): void {
  if (!(Math.abs(actual - expected) <= FULL)) {
    throw new Error(`${label}: |${actual} − ${expected}| = ${Math.abs(actual - expected)}`);
  }
}

function compareMetric(actual: ProportionResult, expected: OracleMetric, label: string): void {
  expect([actual.successes, actual.n, actual.estimable]).toEqual([
    expected.x,
    expected.n,
    expected.estimable,
  ]);
  if (!actual.estimable) return;
  expectClose(actual.estimate, expected.estimate ?? Number.NaN, `${label} estimate`);
  for (const [name, got, want] of [
    ['Wilson', actual.ci95.wilson, expected.wilson],
    ['CP', actual.ci95.clopperPearson, expected.clopperPearson],
  ] as const) {
    expectClose(got[0], want?.[0] ?? Number.NaN, `${label} ${name} lower`);
    expectClose(got[1], want?.[1] ?? Number.NaN, `${label} ${name} upper`);
  }
  const cluster = actual.ci95.cluster;
  if (expected.clusterEstimable) {
    if ('estimable' in cluster) throw new Error(`${label}: cluster not estimable: ${cluster.detail}`);
    expectClose(cluster[0], expected.cluster?.[0] ?? Number.NaN, `${label} cluster lower`);
    expectClose(cluster[1], expected.cluster?.[1] ?? Number.NaN, `${label} cluster upper`);
  } else {
    expect(cluster).toEqual(expect.objectContaining({ estimable: false, reason: 'single-patient' }));
  }
}

function compareBand(actual: BandAccuracy, expected: OracleBand, label: string): void {
  const edge = (v: number | string): number | null => (typeof v === 'number' ? v : null);
  expect([actual.low, actual.high]).toEqual([edge(expected.low), edge(expected.high)]);
  expect([actual.vessels, actual.patients]).toEqual([expected.vessels, expected.patients]);
  compareMetric(actual.accuracy, expected.accuracy, `${label} accuracy`);
  compareMetric(actual.share, expected.share, `${label} share`);
}

describe.each([
  ['R 4.2.2', rOracle],
  ['statsmodels 0.13.5', pyOracle],
] as const)('against %s (1e-12)', (_name, oracle) => {
  it.each([
    ['vector A', vectorA, oracle.vectorA],
    ['synthetic', synthetic, oracle.synthetic],
  ] as const)('%s: accuracy and share in the five Cook 2017 bands', (label, vessels, expected) => {
    const { bands, threshold } = accuracyByCtFfrBand(vessels);
    expect(threshold).toBe(0.8);
    expect(bands).toHaveLength(5);
    bands.forEach((b, i) => compareBand(b, expected.byBand[i], `${label} ${b.label}`));
  });

  it.each([
    ['vector A', vectorA, oracle.vectorA],
    ['synthetic', synthetic, oracle.synthetic],
  ] as const)('%s: gray zone (0.75, 0.80] and a wider (0.75, 0.85]', (label, vessels, expected) => {
    compareBand(grayZoneAccuracy(vessels), expected.grayZone, `${label} gray zone`);
    compareBand(grayZoneAccuracy(vessels, { high: 0.85 }), expected.grayZoneWide, `${label} wide`);
  });
});

describe('conventions and edge cases', () => {
  it('bands are (low, high]: CT-FFR 0.80 (P09) is in (0.70, 0.80] and in the gray zone; 0.70 (P06) in (0.60, 0.70]', () => {
    const { bands } = accuracyByCtFfrBand(
      vectorA.filter((v) => v.patientId === 'P09' || v.patientId === 'P06'),
    );
    expect(bands.map((b) => [b.label, b.vessels])).toEqual([
      ['(−∞, 0.6]', 0],
      ['(0.6, 0.7]', 1],
      ['(0.7, 0.8]', 1],
      ['(0.8, 0.9]', 0],
      ['(0.9, ∞)', 0],
    ]);
    expect(grayZoneAccuracy(vectorA.filter((v) => v.patientId === 'P09')).vessels).toBe(1);
  });

  it('every vessel falls in exactly one band; shares sum to 1', () => {
    const { bands } = accuracyByCtFfrBand(synthetic);
    expect(bands.reduce((n, b) => n + b.vessels, 0)).toBe(synthetic.length);
    const shares = bands.map((b) => (b.share.estimable ? b.share.estimate : 0));
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
  });

  it('synthetic band accuracies follow the Cook 2017 V-shape (lowest in (0.70, 0.80])', () => {
    const accuracies = accuracyByCtFfrBand(synthetic).bands.map((b) =>
      b.accuracy.estimable ? b.accuracy.estimate : -1,
    );
    expect(accuracies.map((a) => a.toFixed(3))).toEqual(['0.980', '0.815', '0.482', '0.872', '0.986']);
    expect(Math.min(...accuracies)).toBe(accuracies[2]);
  });

  it('an empty band is not estimable with n = 0 (vector A has no CT-FFR ≤ 0.60); no vessels at all likewise', () => {
    const first = accuracyByCtFfrBand(vectorA).bands[0];
    expect(first.vessels).toBe(0);
    expect(first.accuracy).toEqual(
      expect.objectContaining({ estimable: false, reason: 'no-eligible-vessels', n: 0 }),
    );
    expect(first.share.estimable).toBe(true);
    const none = grayZoneAccuracy([]);
    expect([none.vessels, none.patients, none.accuracy.estimable, none.share.estimable]).toEqual([
      0,
      0,
      false,
      false,
    ]);
    expect(JSON.stringify(accuracyByCtFfrBand([]))).not.toContain('NaN');
  });

  it('custom edges and threshold; invalid configurations throw', () => {
    const { bands } = accuracyByCtFfrBand(synthetic, { edges: [0.8], threshold: 0.75 });
    expect(bands.map((b) => b.label)).toEqual(['(−∞, 0.8]', '(0.8, ∞)']);
    expect(COOK_2017_BAND_EDGES).toEqual([0.6, 0.7, 0.8, 0.9]);
    expect(() => accuracyByCtFfrBand(synthetic, { edges: [0.8, 0.7] })).toThrow(RangeError);
    expect(() => accuracyByCtFfrBand(synthetic, { edges: [] })).toThrow(RangeError);
    expect(() => grayZoneAccuracy(synthetic, { low: 0.8, high: 0.75 })).toThrow(RangeError);
  });
});
