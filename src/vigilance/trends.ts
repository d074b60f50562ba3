/**
 * Trend reporting (MDR Art. 88; issue 5 §4): the pre-specified method and its evaluation, pure (no I/O).
 *
 * MDR Art. 88(1) asks for a report of "any statistically significant increase in the frequency or severity of
 * incidents that are not serious incidents … that could have a significant impact on the benefit-risk analysis", with
 * the method set out in advance in the PMS plan (Art. 84, Annex III 1.1(b)). The method here, per product
 * (`vigilance_methods.trend`, defaults below):
 *
 *   - unit: incidents counted by detection rule (default) or by IMDRF code (an incident counts once per code it carries);
 *     only non-serious incidents (the incident's current seriousness) from detection, and none superseded by a serious
 *     escalation of the same subject;
 *   - rate: incidents per 1,000 analyses (all statuses) in the same calendar month (UTC) and group — the product, or
 *     each site (groupBy: 'site');
 *   - baseline: a fixed period of whole months (`baseline`) or, when none is set, the `baselineMonths` months before
 *     each evaluated month;
 *   - test: the exact conditional test of two Poisson rates (default; `conditional-poisson`: x | x + x0 is binomial
 *     under equal rates, so the baseline's own uncertainty is accounted for) or the exact Poisson upper tail against
 *     the baseline rate taken as known (`poisson-exact`) — src/stats/poisson.ts, checked against scipy and R;
 *   - false-alarm level: `alpha` is family-wise per product and month — Bonferroni over the cells tested that month
 *     (cells with fewer than `minCount` incidents, or a rate not above the baseline, are not tested). So with no change
 *     at all, a month raises a false signal with probability ≤ alpha (the exact tests are conservative for counts).
 */
import { conditionalPoissonRateTest, poissonUpperTail } from '../stats/poisson';
import { DETECTION_RULES, type DetectionRuleId } from './detection-rules';

export type TrendUnit = 'rule' | 'imdrf';
export type TrendTest = 'conditional-poisson' | 'poisson-exact';

export interface TrendMethod {
  unit: TrendUnit;
  groupBy: 'product' | 'site';
  /** Fixed baseline months, inclusive, 'YYYY-MM'; null: the `baselineMonths` before each evaluated month. */
  baseline: { from: string; to: string } | null;
  baselineMonths: number;
  test: TrendTest;
  /** Family-wise false-alarm level per product and month (Bonferroni over the cells tested). */
  alpha: number;
  /** Cells with fewer incidents in the month are not tested. */
  minCount: number;
  /** Detection rules whose non-serious incidents are counted. */
  rules: DetectionRuleId[];
}

export const DEFAULT_TREND_METHOD: TrendMethod = {
  unit: 'rule',
  groupBy: 'site',
  baseline: null,
  baselineMonths: 6,
  test: 'conditional-poisson',
  alpha: 0.01,
  minCount: 3,
  // A silent device is dated by its last sign of life, not by an event rate: not a trend unit.
  rules: [
    'ctffr-false-negative',
    'ctffr-false-positive-invasive',
    'device-failed-analyses-rate',
    'device-error-burst',
    'device-out-of-range-output',
  ],
};

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** Merges a stored override into the defaults; problems are returned as messages (400 in the API). */
export function trendMethod(override: unknown): { method: TrendMethod; problems: string[] } {
  const method: TrendMethod = { ...DEFAULT_TREND_METHOD, rules: [...DEFAULT_TREND_METHOD.rules] };
  const problems: string[] = [];
  if (override === undefined || override === null) return { method, problems };
  if (typeof override !== 'object' || Array.isArray(override))
    return { method, problems: ['trend must be an object'] };
  for (const [key, value] of Object.entries(override as Record<string, unknown>)) {
    switch (key) {
      case 'unit':
        if (value === 'rule' || value === 'imdrf') method.unit = value;
        else problems.push("trend.unit must be 'rule' or 'imdrf'");
        break;
      case 'groupBy':
        if (value === 'product' || value === 'site') method.groupBy = value;
        else problems.push("trend.groupBy must be 'product' or 'site'");
        break;
      case 'test':
        if (value === 'conditional-poisson' || value === 'poisson-exact') method.test = value;
        else problems.push("trend.test must be 'conditional-poisson' or 'poisson-exact'");
        break;
      case 'baseline':
        if (value === null) method.baseline = null;
        else if (
          typeof value === 'object' &&
          !Array.isArray(value) &&
          MONTH.test(String((value as Record<string, unknown>).from)) &&
          MONTH.test(String((value as Record<string, unknown>).to)) &&
          String((value as Record<string, unknown>).from) <= String((value as Record<string, unknown>).to)
        ) {
          const { from, to } = value as { from: string; to: string };
          method.baseline = { from, to };
        } else
          problems.push("trend.baseline must be null or { from: 'YYYY-MM', to: 'YYYY-MM' } with from ≤ to");
        break;
      case 'baselineMonths':
        if (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 36)
          method.baselineMonths = value as number;
        else problems.push('trend.baselineMonths must be an integer in [1, 36]');
        break;
      case 'alpha':
        if (typeof value === 'number' && value > 0 && value <= 0.2) method.alpha = value;
        else problems.push('trend.alpha must be a number in (0, 0.2]');
        break;
      case 'minCount':
        if (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 1000)
          method.minCount = value as number;
        else problems.push('trend.minCount must be an integer in [1, 1000]');
        break;
      case 'rules': {
        const known = DETECTION_RULES.map((rule) => rule.id as string);
        if (Array.isArray(value) && value.length > 0 && value.every((id) => known.includes(String(id)))) {
          method.rules = [...new Set(value as DetectionRuleId[])];
        } else problems.push(`trend.rules must be a non-empty list of rule ids (${known.join(', ')})`);
        break;
      }
      default:
        problems.push(`trend.${key} is not a trend parameter`);
    }
  }
  return { method, problems };
}

// ── months ──────────────────────────────────────────────────────────────────────────────────────
export function monthOf(instant: string): string {
  return instant.slice(0, 7);
}

export function addMonths(month: string, delta: number): string {
  const [year, mon] = month.split('-').map(Number);
  const index = year * 12 + (mon - 1) + delta;
  return `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`;
}

export function monthsBetween(from: string, to: string): string[] {
  const months: string[] = [];
  for (let month = from; month <= to; month = addMonths(month, 1)) months.push(month);
  return months;
}

/** The baseline months of an evaluated month under the method. */
export function baselineMonthsOf(method: TrendMethod, month: string): string[] {
  if (method.baseline) return monthsBetween(method.baseline.from, method.baseline.to);
  return monthsBetween(addMonths(month, -method.baselineMonths), addMonths(month, -1));
}

// ── evaluation ──────────────────────────────────────────────────────────────────────────────────
/** Non-serious incidents counted in (month, unit, group). */
export interface TrendCount {
  month: string;
  unit: string;
  group: string;
  count: number;
}

/** Analyses in (month, group). */
export interface TrendExposure {
  month: string;
  group: string;
  analyses: number;
}

export interface TrendCell {
  month: string;
  unit: string;
  group: string;
  count: number;
  exposure: number;
  ratePer1000: number | null;
  baseline: { from: string; to: string; count: number; exposure: number; ratePer1000: number | null };
  tested: boolean;
  /** Why a cell was not tested. */
  notTested: string | null;
  rateRatio: number | null;
  pValue: number | null;
  /** alpha / (cells tested in the month): the per-test level. */
  alphaPerTest: number | null;
  signal: boolean;
}

const per1000 = (count: number, exposure: number): number | null =>
  exposure > 0 ? (1000 * count) / exposure : null;

/**
 * Every (month, unit, group) of the evaluated months that has incidents in the month or its baseline, with its test.
 * Evaluated months: after a fixed baseline's end (or all months given, with a trailing baseline) up to `toMonth`.
 */
export function evaluateTrends(
  method: TrendMethod,
  counts: readonly TrendCount[],
  exposures: readonly TrendExposure[],
  months: readonly string[],
): TrendCell[] {
  const countOf = new Map<string, number>();
  for (const c of counts)
    countOf.set(
      `${c.month}|${c.unit}|${c.group}`,
      (countOf.get(`${c.month}|${c.unit}|${c.group}`) ?? 0) + c.count,
    );
  const exposureOf = new Map<string, number>();
  for (const e of exposures)
    exposureOf.set(`${e.month}|${e.group}`, (exposureOf.get(`${e.month}|${e.group}`) ?? 0) + e.analyses);
  const units = [...new Set(counts.map((c) => `${c.unit}|${c.group}`))].sort();
  const cells: TrendCell[] = [];
  for (const month of months) {
    if (method.baseline && month <= method.baseline.to) continue;
    const baselineMonths = baselineMonthsOf(method, month);
    const monthCells: TrendCell[] = [];
    for (const key of units) {
      const [unit, group] = key.split('|');
      const count = countOf.get(`${month}|${unit}|${group}`) ?? 0;
      const exposure = exposureOf.get(`${month}|${group}`) ?? 0;
      let baselineCount = 0;
      let baselineExposure = 0;
      for (const b of baselineMonths) {
        baselineCount += countOf.get(`${b}|${unit}|${group}`) ?? 0;
        baselineExposure += exposureOf.get(`${b}|${group}`) ?? 0;
      }
      if (count === 0 && baselineCount === 0) continue;
      const rate = per1000(count, exposure);
      const baselineRate = per1000(baselineCount, baselineExposure);
      let notTested: string | null = null;
      if (exposure === 0) notTested = 'no analyses in the month';
      else if (baselineExposure === 0) notTested = 'no analyses in the baseline period';
      else if (count < method.minCount) notTested = `fewer than ${method.minCount} incidents in the month`;
      else if (baselineRate !== null && rate !== null && rate <= baselineRate)
        notTested = 'rate not above the baseline';
      else if (method.test === 'poisson-exact' && baselineCount === 0)
        notTested = 'no incidents in the baseline: the Poisson test needs a baseline rate';
      monthCells.push({
        month,
        unit,
        group,
        count,
        exposure,
        ratePer1000: rate,
        baseline: {
          from: baselineMonths[0],
          to: baselineMonths[baselineMonths.length - 1],
          count: baselineCount,
          exposure: baselineExposure,
          ratePer1000: baselineRate,
        },
        tested: notTested === null,
        notTested,
        rateRatio: null,
        pValue: null,
        alphaPerTest: null,
        signal: false,
      });
    }
    const tested = monthCells.filter((cell) => cell.tested);
    for (const cell of tested) {
      cell.alphaPerTest = method.alpha / tested.length;
      if (method.test === 'conditional-poisson') {
        const result = conditionalPoissonRateTest(
          cell.count,
          cell.exposure,
          cell.baseline.count,
          cell.baseline.exposure,
        );
        cell.pValue = result.pValue;
        cell.rateRatio = Number.isFinite(result.rateRatio) ? result.rateRatio : null;
      } else {
        const mu = (cell.baseline.count / cell.baseline.exposure) * cell.exposure;
        cell.pValue = poissonUpperTail(cell.count, mu);
        cell.rateRatio = cell.count / mu;
      }
      cell.signal = cell.pValue <= cell.alphaPerTest;
    }
    cells.push(...monthCells);
  }
  return cells;
}
