import { sampleMultinomial, sampleStandardNormal, seededRandom } from '../stats/distributions';
import { binCounts, quantileBinsSorted, sortedSample } from '../stats/drift';
import {
  configurationHash,
  DEFAULT_DRIFT_CONFIGURATION,
  type DriftConfiguration,
  parseDriftConfiguration,
  type CusumMonitor,
  type DistributionMonitor,
  type LocationCusumMonitor,
  type ProportionMonitor,
} from './drift-config';
import {
  batchBudget,
  chartedPairs,
  evaluateBatchMonitor,
  evaluateChartMonitor,
  evaluateLocationChart,
  locationChartApplies,
  outputChartShare,
  mergeSparseCells,
  permutationsFor,
  referenceForSegment,
  summarizeReferenceRows,
  type LabelledVessel,
  type ReferenceRow,
  type ReferenceSummary,
  type SegmentAggregates,
} from './drift-evaluator';
import { dailySegmentCounts, type DailyCtFfrCell } from './drift-queries';
import { parseReferenceCsv, ReferenceCsvError } from './reference-csv';

function row(overrides: Partial<ReferenceRow>): ReferenceRow {
  return {
    caseId: 'c',
    status: 'completed',
    vessel: 'LAD',
    ctFfr: 0.8,
    invasiveFfr: null,
    heartRate: null,
    sliceThickness: null,
    tubeVoltage: null,
    agatston: null,
    bmi: null,
    age: null,
    imageQuality: null,
    processingTime: null,
    sex: null,
    scannerVendor: null,
    ...overrides,
  };
}

function aggregates(overrides: Partial<SegmentAggregates>): SegmentAggregates {
  return {
    analyses: 0,
    rejected: 0,
    failed: 0,
    numeric: {},
    sex: {},
    scannerVendor: {},
    vessels: 0,
    vesselsAtOrBelow: 0,
    deviceErrorsByKind: {},
    ...overrides,
  };
}

/** A reference of n standard-normal heart rates (other features empty). */
function normalReference(n: number, seed: number): ReferenceSummary {
  const random = seededRandom(seed);
  const rows: ReferenceRow[] = [];
  for (let i = 0; i < n; i++)
    rows.push(row({ caseId: `c${i}`, heartRate: 64 + 10 * sampleStandardNormal(random) }));
  return summarizeReferenceRows(rows, 0.8);
}

const heartRate: DistributionMonitor = {
  id: 'input.heartRate',
  family: 'input',
  kind: 'distribution',
  feature: 'heartRate',
};

describe('reference summaries', () => {
  it('count analysis-level features once per case and vessel-level ones once per vessel, at float32', () => {
    const summary = summarizeReferenceRows(
      [
        row({ caseId: 'a', heartRate: 60, ctFfr: 0.7, invasiveFfr: 0.75, sex: 'F' }),
        row({ caseId: 'a', heartRate: 60, ctFfr: 0.9, invasiveFfr: 0.78, sex: 'F', vessel: 'RCA' }),
        row({ caseId: 'b', heartRate: 70, ctFfr: 0.85, sex: 'M' }),
        row({ caseId: 'r', status: 'rejected', vessel: null, ctFfr: null, heartRate: 90, sex: 'M' }),
      ],
      Math.fround(0.8),
    );
    expect(summary.analyses).toBe(3);
    expect(summary.rejected).toBe(1);
    expect(summary.numeric.heartRate?.n).toBe(3);
    expect(summary.numeric.ctFfr?.n).toBe(3);
    expect(summary.vesselsAtOrBelow).toBe(1);
    expect(summary.categorical.sex).toEqual({ F: 1, M: 2 });
    // 0.7 vs 0.75 concordant, 0.9 vs 0.78 discordant (CT negative, FFR positive).
    expect(summary.residuals).toMatchObject({ n: 2, discordant: 1 });
    expect(summary.residuals!.meanResidual).toBeCloseTo((-0.05 + 0.12) / 2, 12);
  });

  it('bins on reference deciles with the drift-statistics conventions (right-closed, merged ties)', () => {
    const values = [1, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9];
    const summary = summarizeReferenceRows(
      values.map((v, i) => row({ caseId: `c${i}`, heartRate: v })),
      0.8,
    );
    const sorted = sortedSample(values);
    const binning = quantileBinsSorted(sorted, 10);
    expect(summary.numeric.heartRate?.edges).toEqual(binning.edges);
    expect(summary.numeric.heartRate?.counts).toEqual(binCounts(sorted, binning));
  });
});

describe('batch monitors keep their false-alarm rate at the window size (no drift)', () => {
  it('χ² on reference-decile counts: alarm rate within 3 binomial SDs of α over 2,000 windows of 200', () => {
    const reference = normalReference(5000, 11);
    const ref = reference.numeric.heartRate!;
    const p = ref.counts.map((c) => c / ref.n);
    const random = seededRandom(12);
    const replicates = 2000;
    const alpha = 0.05;
    let alarms = 0;
    for (let r = 0; r < replicates; r++) {
      const current = Array.from(sampleMultinomial(random, 200, p));
      const outcome = evaluateBatchMonitor(
        heartRate,
        reference,
        aggregates({ numeric: { heartRate: current } }),
        {
          alpha,
          permutations: 999,
          seed: r,
          minimumWindow: 30,
        },
      );
      expect(outcome.estimable).toBe(true);
      if (outcome.alarm) alarms++;
    }
    const rate = alarms / replicates;
    const sd = Math.sqrt((alpha * (1 - alpha)) / replicates);
    expect(Math.abs(rate - alpha)).toBeLessThan(3 * sd);
  });

  it('detects a 0.5 SD heart-rate shift at n = 300 and records PSI and JS as effect sizes', () => {
    const reference = normalReference(5000, 21);
    const random = seededRandom(22);
    const shifted = Array.from({ length: 300 }, () => 69 + 10 * sampleStandardNormal(random));
    const counts = binCounts(shifted, { edges: reference.numeric.heartRate!.edges, requestedBins: 10 });
    const outcome = evaluateBatchMonitor(
      heartRate,
      reference,
      aggregates({ numeric: { heartRate: counts } }),
      {
        alpha: 0.001,
        permutations: 999,
        seed: 1,
        minimumWindow: 30,
      },
    );
    expect(outcome.alarm).toBe(true);
    expect(outcome.pValue!).toBeLessThan(0.001);
    const effect = outcome.evidence.effectSizes as { psi: number; jensenShannon: number };
    expect(effect.psi).toBeGreaterThan(0);
    expect(effect.jensenShannon).toBeGreaterThan(0);
  });

  it('merges sparse bins (expected < 5, from the reference only) before the χ² approximation', () => {
    const reference = normalReference(2000, 31);
    const current = [3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
    const outcome = evaluateBatchMonitor(
      heartRate,
      reference,
      aggregates({ numeric: { heartRate: current } }),
      {
        alpha: 0.001,
        permutations: 999,
        seed: 1,
        minimumWindow: 30,
      },
    );
    expect(outcome.evidence.method).toBe('chi-square-approximation');
    // 30 observations on deciles: m·p ≈ 3 per bin, so adjacent pairs (expected ≈ 6): 5 cells, df 4.
    expect(outcome.evidence.mergedBins).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
      [8, 9],
    ]);
    expect(outcome.evidence.df).toBe(4);
    expect(permutationsFor(0.001, 999)).toBe(4999);
  });

  it('keeps a category the reference never saw as its own cell (a new scanner vendor is the signal)', () => {
    const merged = mergeSparseCells([500, 480, 15, 5, 0], [50, 40, 1, 0, 9], false);
    expect(merged.groups).toEqual([[0], [1], [4], [2, 3]]);
    expect(merged.current).toEqual([50, 40, 9, 1]);
  });

  it('reports a window below the minimum as not estimable instead of "no drift"', () => {
    const reference = normalReference(500, 41);
    const outcome = evaluateBatchMonitor(
      heartRate,
      reference,
      aggregates({ numeric: { heartRate: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] } }),
      { alpha: 0.01, permutations: 999, seed: 1, minimumWindow: 30 },
    );
    expect(outcome).toMatchObject({
      estimable: false,
      alarm: false,
      evidence: { reason: 'window-too-small' },
    });
  });

  it('tests a rejection-rate increase one-sided, with the Newcombe CI of the difference', () => {
    const monitor: ProportionMonitor = {
      id: 'operations.rejectionRate',
      family: 'operations',
      kind: 'proportion',
      event: 'rejected',
      alternative: 'increase',
    };
    const reference = { ...normalReference(10, 1), analyses: 4000, rejected: 200 };
    const worse = evaluateBatchMonitor(monitor, reference, aggregates({ analyses: 500, rejected: 50 }), {
      alpha: 0.01,
      permutations: 999,
      seed: 1,
      minimumWindow: 30,
    });
    expect(worse.alarm).toBe(true);
    const [lower, upper] = worse.evidence.differenceCi95 as [number, number];
    expect(lower).toBeLessThan(0.05);
    expect(upper).toBeGreaterThan(0.05);
    const better = evaluateBatchMonitor(monitor, reference, aggregates({ analyses: 500, rejected: 10 }), {
      alpha: 0.01,
      permutations: 999,
      seed: 1,
      minimumWindow: 30,
    });
    expect(better.alarm).toBe(false);
  });
});

describe('accuracy charts', () => {
  const reference: ReferenceSummary = {
    ...normalReference(10, 1),
    residuals: {
      n: 800,
      meanResidual: 0.01,
      sdResidual: 0.07,
      meanAbsoluteError: 0.056,
      sdAbsoluteError: 0.042,
      discordant: 120,
    },
  };
  const cusum: CusumMonitor = {
    id: 'accuracy.biasCusum',
    family: 'accuracy',
    kind: 'cusum',
    quantity: 'residual',
    k: 0.25,
    sided: 'two',
  };
  function stream(n: number, shiftFrom: number, shift: number, seed: number): LabelledVessel[] {
    const random = seededRandom(seed);
    return Array.from({ length: n }, (_, i) => ({
      day: new Date(Date.UTC(2026, 0, 1) + Math.floor(i / 10) * 86_400_000).toISOString().slice(0, 10),
      residual: 0.01 + 0.07 * sampleStandardNormal(random) + (i >= shiftFrom ? shift : 0),
      discordant: false,
    }));
  }

  it('designs h for its share of the budget and signals a 0.04 bias inside the window', () => {
    const s = stream(1000, 700, 0.04, 5);
    const outcome = evaluateChartMonitor(cusum, reference, s, {
      arl0: 2000,
      arl0CommonClock: 2000,
      share: 1,
      horizon: 300,
      windowFromDay: s[700].day,
      suppressThroughDay: null,
      minimumWindow: 30,
    });
    expect(outcome.alarm).toBe(true);
    const design = outcome.evidence.design as {
      h: number;
      falseAlarmProbability: { target: number; achieved: number };
    };
    // The contract: P(false alarm within the horizon), averaged over the 800-vessel baseline's estimation error, is
    // what a known-parameter chart with ARL0 2000 would have over 300 vessels.
    expect(design.falseAlarmProbability.target).toBeCloseTo(-Math.expm1(-300 / 2000), 12);
    expect(design.falseAlarmProbability.achieved).toBeLessThanOrEqual(design.falseAlarmProbability.target);
    expect(design.falseAlarmProbability.achieved).toBeGreaterThan(0.99 * design.falseAlarmProbability.target);
    expect(outcome.threshold).toBe(design.h);
  });

  it('does not reopen a signal on or before the day a resolved alert last signalled', () => {
    const s = stream(1000, 700, 0.04, 5);
    const signalled = evaluateChartMonitor(cusum, reference, s, {
      arl0: 2000,
      arl0CommonClock: 2000,
      share: 1,
      horizon: 300,
      windowFromDay: s[0].day,
      suppressThroughDay: null,
      minimumWindow: 30,
    });
    const last = (signalled.evidence.signals as { last: { day: string } }).last.day;
    const suppressed = evaluateChartMonitor(cusum, reference, s, {
      arl0: 2000,
      arl0CommonClock: 2000,
      share: 1,
      horizon: 300,
      windowFromDay: s[0].day,
      suppressThroughDay: last,
      minimumWindow: 30,
    });
    expect(suppressed.alarm).toBe(false);
  });
});

describe('output location chart (CT-FFR, unlabelled stream)', () => {
  // A reference of 2,000 CT-FFR values on 10 equally likely bins, 500 labelled vessels (the budget's clock).
  const reference: ReferenceSummary = {
    ...normalReference(10, 1),
    numeric: {
      ...normalReference(10, 1).numeric,
      ctFfr: {
        n: 2000,
        edges: [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.88, 0.91, 0.94],
        counts: new Array<number>(10).fill(200),
      },
    },
    vessels: 2000,
    residuals: {
      n: 500,
      meanResidual: 0,
      sdResidual: 0.08,
      meanAbsoluteError: 0.06,
      sdAbsoluteError: 0.05,
      discordant: 70,
    },
  };
  const monitor: LocationCusumMonitor = {
    id: 'output.ctFfrLocationCusum',
    family: 'output',
    kind: 'locationCusum',
    feature: 'ctFfr',
    k: 0.15,
    sided: 'two',
    designEffect: 1.1,
  };
  const dayString = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
  // 200 days of 20 vessels; from `shiftFrom` 0.1 of probability moves from the two lowest bins to the two highest
  // (mean score +0.08: 0.27 score SDs).
  function days(shiftFrom: number, seed: number) {
    const random = seededRandom(seed);
    return Array.from({ length: 200 }, (_, i) => {
      const p = new Array<number>(10).fill(0.1);
      if (i >= shiftFrom) {
        p[0] = p[1] = 0.05;
        p[8] = p[9] = 0.15;
      }
      return { day: dayString(i), counts: Array.from(sampleMultinomial(random, 20, p)) };
    });
  }
  const context = (windowFrom: number, suppress: string | null = null) => ({
    arl0: 200_000,
    arl0CommonClock: 50_000,
    share: 4,
    horizon: 20_000,
    windowFromDay: dayString(windowFrom),
    suppressThroughDay: suppress,
    minimumWindow: 30,
  });

  it('designs h for its share of the budget with the reference’s estimation error and signals a shift', () => {
    const outcome = evaluateLocationChart(monitor, reference, days(100, 7), context(170));
    expect(outcome.estimable).toBe(true);
    expect(outcome.alarm).toBe(true);
    const design = outcome.evidence.design as {
      h: number;
      falseAlarmProbability: { target: number; achieved: number };
    };
    expect(design.falseAlarmProbability.target).toBeCloseTo(-Math.expm1(-20_000 / 200_000), 12);
    expect(design.falseAlarmProbability.achieved).toBeLessThanOrEqual(design.falseAlarmProbability.target);
    expect(outcome.threshold).toBe(design.h);
    expect(outcome.nCurrent).toBe(4000);
    expect(outcome.evidence.streamMeanScore as number).toBeGreaterThan(0.5);
    const signals = outcome.evidence.signals as { first: { day: string; side: string } };
    expect(signals.first.side).toBe('upper');
    expect(signals.first.day >= dayString(100)).toBe(true);
  });

  it('stays quiet without a shift and does not reopen a resolved signal', () => {
    expect(evaluateLocationChart(monitor, reference, days(1000, 8), context(0)).alarm).toBe(false);
    const stream = days(100, 7);
    const signalled = evaluateLocationChart(monitor, reference, stream, context(0));
    const last = (signalled.evidence.signals as { last: { day: string } }).last.day;
    expect(evaluateLocationChart(monitor, reference, stream, context(0, last)).alarm).toBe(false);
  });

  it('is not estimable without enough vessels; its clock is the reference’s vessels per labelled vessel', () => {
    const few = evaluateLocationChart(
      monitor,
      reference,
      [{ day: dayString(0), counts: [1, 0, 0, 0, 0, 0, 0, 0, 0, 2] }],
      context(0),
    );
    expect(few.estimable).toBe(false);
    expect(outputChartShare(reference, { kind: 'overall', key: '*' }, 0, 1)).toBe(4);
    // A segment new since the reference: its vessels so far per pooled labelled vessel so far.
    expect(outputChartShare(reference, { kind: 'scannerVendor', key: 'New' }, 300, 100)).toBe(3);
    expect(
      outputChartShare({ ...reference, residuals: null }, { kind: 'overall', key: '*' }, 0, 1),
    ).toBeNull();
  });

  it('counts its (monitor, segment) pairs in the sequential budget: reference segments and new ones', () => {
    const withSegments: ReferenceSummary = {
      ...reference,
      segments: {
        'site:A': {
          analyses: 900,
          rejected: 0,
          failed: 0,
          numericCounts: { ctFfr: new Array<number>(10).fill(100) },
          sex: {},
          scannerVendor: {},
          vessels: 1000,
          vesselsAtOrBelow: 0,
          deviceErrorsByKind: {},
          residuals: null,
        },
      },
    };
    const charted = chartedPairs(
      DEFAULT_DRIFT_CONFIGURATION,
      withSegments,
      [],
      [
        { segment: { kind: 'scannerVendor', key: 'New' }, vessels: 40 },
        { segment: { kind: 'scannerVendor', key: 'Tiny' }, vessels: 3 },
      ],
    );
    // overall, site:A, scannerVendor:New; the residual charts only on overall (site:A has no labelled baseline).
    expect(charted.get('output.ctFfrLocationCusum')).toBe(3);
    expect(charted.get('accuracy.biasCusum')).toBe(1);
    // A site compared with the pooled reference differs by case mix: no location chart there (dataset reference, or a
    // site too small in the reference period); a segment new since a period reference is compared with the pool.
    const site = { kind: 'site', key: 'A' } as const;
    expect(locationChartApplies(withSegments, site, 30)).toBe(true);
    expect(locationChartApplies(withSegments, site, 1000)).toBe(false);
    expect(locationChartApplies(withSegments, { kind: 'scannerVendor', key: 'New' }, 30)).toBe(true);
    expect(locationChartApplies(reference, site, 30)).toBe(false);
    expect(locationChartApplies(reference, { kind: 'overall', key: '*' }, 30)).toBe(true);
    expect(
      chartedPairs(DEFAULT_DRIFT_CONFIGURATION, reference, [], [{ segment: site, vessels: 500 }]).get(
        'output.ctFfrLocationCusum',
      ),
    ).toBe(1);
  });

  it('daily cells sum per segment in day order, from each segment’s monitoring start', () => {
    const cell = (day: string, site: string, counts: number[]): DailyCtFfrCell => ({
      day,
      siteCode: site,
      scannerVendor: 'GE',
      modelVersion: 'v1',
      counts,
    });
    const out = dailySegmentCounts(
      [cell('2026-01-01', 'A', [1, 0]), cell('2026-01-01', 'B', [0, 2]), cell('2026-01-02', 'A', [3, 1])],
      ['overall', 'site'],
      (s) => (s.key === 'B' ? '2026-01-02' : null),
    );
    expect(out.get('overall:*')).toEqual({
      segment: { kind: 'overall', key: '*' },
      days: [
        { day: '2026-01-01', counts: [1, 2] },
        { day: '2026-01-02', counts: [3, 1] },
      ],
      vessels: 7,
    });
    expect(out.get('site:A')?.vessels).toBe(5);
    expect(out.has('site:B')).toBe(false); // its only day is before its monitoring start
  });

  it('is an output monitor: the configuration refuses it in the accuracy family', () => {
    expect(() =>
      parseDriftConfiguration({
        ...DEFAULT_DRIFT_CONFIGURATION,
        monitors: [{ ...monitor, family: 'accuracy' }],
      }),
    ).toThrow(/accuracy monitors are the charts/);
  });
});

describe('configuration and budget', () => {
  it('validates the default, hashes it stably, and refuses what is wrong with a path', () => {
    expect(
      parseDriftConfiguration(JSON.parse(JSON.stringify(DEFAULT_DRIFT_CONFIGURATION)) as unknown),
    ).toEqual(DEFAULT_DRIFT_CONFIGURATION);
    // Canonical JSON: the same document with its keys in another order has the same hash.
    const reordered = Object.fromEntries(
      Object.entries(DEFAULT_DRIFT_CONFIGURATION).reverse(),
    ) as unknown as DriftConfiguration;
    expect(Object.keys(reordered)[0]).not.toBe(Object.keys(DEFAULT_DRIFT_CONFIGURATION)[0]);
    expect(configurationHash(reordered)).toBe(configurationHash(DEFAULT_DRIFT_CONFIGURATION));
    expect(() =>
      parseDriftConfiguration({
        ...DEFAULT_DRIFT_CONFIGURATION,
        monitors: [{ id: 'x', family: 'accuracy', kind: 'distribution', feature: 'bmi' }],
      }),
    ).toThrow(/accuracy monitors are the charts/);
    expect(() => parseDriftConfiguration({ ...DEFAULT_DRIFT_CONFIGURATION, windowDays: 0 })).toThrow(
      /\/windowDays/,
    );
  });

  it('splits the family α over the (monitor, segment) pairs actually tested', () => {
    const tested = new Map([
      ['input.heartRate', 5],
      ['operations.rejectionRate', 3],
    ]);
    const budget = batchBudget(DEFAULT_DRIFT_CONFIGURATION, tested)!;
    expect(budget.totalTests).toBe(8);
    expect(budget.allocations.every((a) => Math.abs(a.alphaPerTest - 0.01 / 8) < 1e-15)).toBe(true);
  });

  it('compares a segment with its own reference period only when it has enough of one', () => {
    const pooled: ReferenceSummary = {
      ...normalReference(100, 3),
      segments: {
        'site:A': {
          analyses: 200,
          rejected: 0,
          failed: 0,
          numericCounts: { heartRate: [20, 20, 20, 20, 20, 20, 20, 20, 20, 20] },
          sex: {},
          scannerVendor: { GE: 200 },
          vessels: 0,
          vesselsAtOrBelow: 0,
          deviceErrorsByKind: {},
          residuals: {
            n: 40,
            meanResidual: 0,
            sdResidual: 0.1,
            meanAbsoluteError: 0.08,
            sdAbsoluteError: 0.05,
            discordant: 5,
          },
        },
      },
    };
    const own = referenceForSegment(pooled, { kind: 'site', key: 'A' }, 30);
    expect(own.scope).toBe('segment');
    expect(own.residualScope).toBe('pooled'); // 40 labelled vessels: fewer than MIN_SEGMENT_BASELINE
    expect(own.summary.categorical.scannerVendor).toEqual({ GE: 200 });
    expect(referenceForSegment(pooled, { kind: 'site', key: 'B' }, 30).scope).toBe('pooled');
    expect(referenceForSegment(pooled, { kind: 'site', key: 'A' }, 500).scope).toBe('pooled');
  });
});

describe('reference CSV', () => {
  it('reports every problem with its line number, counting lines inside quoted fields', () => {
    const text =
      '\ufeffcaseId,status,vessel,ctFfr,scannerVendor\n"a",completed,LAD,0.7,"GE\nRevolution"\nb,completed,LAD,abc,GE\nc,failed,LAD,0.5,GE\n';
    try {
      parseReferenceCsv(text);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ReferenceCsvError);
      expect((error as ReferenceCsvError).problems).toEqual([
        'line 4: ctFfr "abc" must be a number in [0, 1]',
        'line 5: a failed analysis has no CT-FFR: leave vessel, ctFfr and invasiveFfr empty',
      ]);
    }
  });

  it('rounds real-valued columns to float32 as the database stores field data', () => {
    const [parsed] = parseReferenceCsv('caseId,vessel,ctFfr,bmi,ageYears\nx,LAD,0.74,27.4,61\n');
    expect(parsed.ctFfr).toBe(Math.fround(0.74));
    expect(parsed.bmi).toBe(Math.fround(27.4));
    expect(parsed.age).toBe(61);
  });

  it('refuses a row with an unterminated quote with the line it starts on', () => {
    expect(() => parseReferenceCsv('caseId,ctFfr\n"x,0.5\n')).toThrow(/line 2/);
  });
});
