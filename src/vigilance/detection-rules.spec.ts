import { join, resolve } from 'node:path';
import {
  classifyPair,
  DEFAULT_DETECTION_PARAMETERS,
  DETECTION_RULES,
  detectionParameters,
  deviceWindowKey,
  escalatedImdrf,
  escalation,
  failedRateExceeded,
  isSilent,
  windowStart,
} from './detection-rules';
import { loadImdrfCodeTable, validateImdrfCoding } from './imdrf-codes';
import { DEFAULT_TREND_METHOD, evaluateTrends, trendMethod } from './trends';

const TABLE = join(resolve(__dirname, '../../../shared/reference/imdrf'), 'imdrf_aet_2023.json');

describe('detection rules as data', () => {
  it('every rule cites a rationale and a source, and suggests codes the IMDRF 2023 table accepts', () => {
    const table = loadImdrfCodeTable(TABLE);
    for (const rule of DETECTION_RULES) {
      expect(rule.rationale.length).toBeGreaterThan(40);
      expect(rule.sources.length).toBeGreaterThan(0);
      expect(validateImdrfCoding(table, rule.imdrf).problems).toEqual([]);
    }
    const escalated = escalatedImdrf([
      { outcomeEventId: 'a', event: 'myocardial_infarction', occurredAt: '2025-02-01T00:00:00Z' },
      { outcomeEventId: 'b', event: 'death', occurredAt: '2025-03-01T00:00:00Z' },
    ]);
    expect(escalated).toEqual({ A: ['A090803'], F: ['F13', 'F05', 'F02'], E: ['E061202'] });
    expect(validateImdrfCoding(table, escalated).problems).toEqual([]);
  });

  it('classifies a pair with ≤ threshold as positive for both CT-FFR and invasive FFR', () => {
    expect(classifyPair(0.85, 0.8, 0.8)).toBe('fn');
    expect(classifyPair(0.8, 0.81, 0.8)).toBe('fp');
    expect(classifyPair(0.8, 0.8, 0.8)).toBe('tp');
    expect(classifyPair(0.81, 0.81, 0.8)).toBe('tn');
  });

  it('escalates on death, MI or urgent revascularisation within the window after the CTA, death first', () => {
    const cta = '2025-01-10T09:30:00Z';
    const mi = { outcomeEventId: 'm', event: 'myocardial_infarction', occurredAt: '2025-01-10T00:00:00Z' };
    const pci = { outcomeEventId: 'p', event: 'pci', occurredAt: '2025-01-20T00:00:00Z' };
    const lateDeath = { outcomeEventId: 'd', event: 'death', occurredAt: '2026-03-01T00:00:00Z' };
    const before = {
      outcomeEventId: 'x',
      event: 'urgent_revascularization',
      occurredAt: '2025-01-09T00:00:00Z',
    };
    expect(escalation(cta, [pci, before], 365)).toBeNull();
    expect(escalation(cta, [mi, pci, lateDeath], 365)).toEqual({
      seriousness: 'serious_deterioration',
      events: [mi],
    });
    expect(escalation(cta, [mi, lateDeath], 500)?.seriousness).toBe('death');
    expect(escalation(cta, [mi], 365)?.events).toEqual([mi]);
  });

  it('counts device problems in epoch-aligned windows with stable keys', () => {
    const at = Date.parse('2025-03-04T17:45:00Z');
    expect(new Date(windowStart(at, 24)).toISOString()).toBe('2025-03-04T00:00:00.000Z');
    expect(deviceWindowKey('DEV-1', windowStart(at, 6), 6)).toBe('DEV-1@2025-03-04T12:00:00.000Z/6h');
    expect(failedRateExceeded(3, 20, DEFAULT_DETECTION_PARAMETERS)).toBe(true);
    expect(failedRateExceeded(2, 5, DEFAULT_DETECTION_PARAMETERS)).toBe(false);
    expect(failedRateExceeded(3, 30, DEFAULT_DETECTION_PARAMETERS)).toBe(false);
    expect(isSilent('2025-03-01T00:00:00Z', new Date('2025-03-04T00:00:01Z'), 72)).toBe(true);
    expect(isSilent('2025-03-01T00:00:00Z', new Date('2025-03-03T23:00:00Z'), 72)).toBe(false);
  });

  it('validates parameter overrides', () => {
    expect(detectionParameters({ seriousOutcomeWindowDays: 30 }).parameters.seriousOutcomeWindowDays).toBe(
      30,
    );
    expect(detectionParameters({ seriousOutcomeWindowDays: 0.5, bogus: 1 }).problems).toHaveLength(2);
  });
});

describe('trend method (MDR Art. 88)', () => {
  const method = trendMethod({
    baseline: { from: '2025-01', to: '2025-03' },
    rules: ['ctffr-false-negative'],
  }).method;
  const exposures = ['2025-01', '2025-02', '2025-03', '2025-04'].flatMap((month) => [
    { month, group: 'A', analyses: 500 },
    { month, group: 'B', analyses: 500 },
  ]);
  const baseline = ['2025-01', '2025-02', '2025-03'].flatMap((month) => [
    { month, unit: 'ctffr-false-negative', group: 'A', count: 2 },
    { month, unit: 'ctffr-false-negative', group: 'B', count: 2 },
  ]);

  it('signals a site whose rate rose, with the evidence, and not the stable one', () => {
    const cells = evaluateTrends(
      method,
      [
        ...baseline,
        { month: '2025-04', unit: 'ctffr-false-negative', group: 'A', count: 12 },
        { month: '2025-04', unit: 'ctffr-false-negative', group: 'B', count: 3 },
      ],
      exposures,
      ['2025-01', '2025-02', '2025-03', '2025-04'],
    );
    expect(cells.map((c) => c.month)).toEqual(['2025-04', '2025-04']);
    const [a, b] = cells;
    expect(a).toMatchObject({
      group: 'A',
      count: 12,
      exposure: 500,
      ratePer1000: 24,
      tested: true,
      signal: true,
    });
    expect(a.baseline).toEqual({ from: '2025-01', to: '2025-03', count: 6, exposure: 1500, ratePer1000: 4 });
    expect(a.alphaPerTest).toBeCloseTo(0.005, 12);
    // x | x + x0 = 18 ~ Binomial(18, 1/4): P(X ≥ 12) (R: pbinom(11, 18, 0.25, lower.tail = FALSE)).
    expect(a.pValue).toBeCloseTo(0.0002311790595, 12);
    expect(b).toMatchObject({ group: 'B', count: 3, tested: true, signal: false });
  });

  it('tests nothing below minCount and keeps the defaults documented', () => {
    const cells = evaluateTrends(
      method,
      [...baseline, { month: '2025-04', unit: 'ctffr-false-negative', group: 'A', count: 2 }],
      exposures,
      ['2025-04'],
    );
    expect(cells.filter((c) => c.tested)).toEqual([]);
    expect(DEFAULT_TREND_METHOD).toMatchObject({ test: 'conditional-poisson', alpha: 0.01, minCount: 3 });
    expect(trendMethod({ alpha: 0.5, unit: 'x' }).problems).toHaveLength(2);
  });
});
