/**
 * A CUSUM of the location of a binned output (CT-FFR) against a reference, on the unlabelled stream: every analysis has
 * a CT-FFR, invasive FFR arrives late and for a minority, so a shift of the output (a +0.03 bias at one site) is seen
 * by the output long before the residual charts could see it. The rank-sum batch monitor (rank-sum.ts) sees the
 * same shift but only within one window (a 30-day window at a site of ~8 vessels a day gives z ≈ 2 for +0.03 CT-FFR);
 * this chart accumulates the evidence over the whole monitoring period.
 *
 * The observation is the Wilcoxon score of a vessel's value against the reference: its bin's mid-rank in the
 * reference distribution, u_i = F_{i−1} + p_i/2 on the reference's frozen bins (p_i the reference proportion of bin i,
 * F the cumulative proportions). Under the reference law E[u] = ½ exactly and Var[u] = (1 − Σp_i³)/12 (the
 * tie-corrected variance of a mid-rank; 1/12 without ties), whatever the shape of the output — so the chart needs no
 * normal-theory model of CT-FFR, only the reference's bin counts, which a reference summary already holds. A shift of
 * the distribution moves E[u] (by P(current > reference) − ½, the rank-sum effect size).
 *
 * Standardised observation z = (u − ½)/(sd_u·√deff): `deff` (≥ 1) inflates the variance for vessels clustered within
 * an analysis (same patient) and analyses within a day, so that the chart's sums have variance ≈ 1 per vessel.
 *
 * Observations arrive grouped (per day and segment, from SQL aggregates: counts per bin), and the chart is updated once
 * per group with the group's sum: C⁺ ← max(0, C⁺ + Σz − k·n), C⁻ ← max(0, C⁻ − Σz − k·n), a signal when either
 * exceeds h. This is the per-vessel CUSUM checked and reflected at 0 only at group ends: at every group end its
 * statistic is ≤ the per-vessel chart's (the reflection takes the minimum of the partial sums over a subset of the
 * points), so it signals no earlier and the per-vessel design (chart-calibration.ts, in vessels) is conservative for it.
 */

export interface MidRankScores {
  /** Mid-rank of each bin in the reference distribution, in (0, 1). */
  readonly scores: readonly number[];
  /** Reference values. */
  readonly n: number;
  /** SD of the score under the reference: √((1 − Σp³)/12). */
  readonly sd: number;
}

/** Wilcoxon mid-rank scores of a reference's bins (file header). */
export function midRankScores(referenceCounts: readonly number[]): MidRankScores {
  let n = 0;
  for (const c of referenceCounts) {
    if (!(c >= 0 && Number.isFinite(c))) throw new RangeError('bin counts must be finite and ≥ 0');
    n += c;
  }
  if (n === 0) throw new RangeError('the reference needs at least one value');
  const scores: number[] = [];
  let below = 0;
  let cubes = 0;
  for (const c of referenceCounts) {
    const p = c / n;
    scores.push(below + p / 2);
    below += p;
    cubes += p * p * p;
  }
  return { scores, n, sd: Math.sqrt(Math.max(0, 1 - cubes) / 12) };
}

/** One group of observations (a day of a segment): how many, and the sum of their standardised scores. */
export interface ScoreGroup {
  readonly n: number;
  readonly sum: number;
}

/** A group's counts on the reference bins as (n, Σz), z = (u − ½)/(sd·√deff). */
export function scoreGroup(
  counts: readonly number[],
  reference: MidRankScores,
  designEffect = 1,
): ScoreGroup {
  if (counts.length !== reference.scores.length) {
    throw new RangeError(`bin counts differ in length: ${counts.length} and ${reference.scores.length}`);
  }
  if (!(designEffect >= 1 && Number.isFinite(designEffect)))
    throw new RangeError(`design effect must be ≥ 1, got ${designEffect}`);
  if (!(reference.sd > 0)) throw new RangeError('the reference has a single bin: no location to monitor');
  const scale = reference.sd * Math.sqrt(designEffect);
  let n = 0;
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    n += counts[i];
    sum += (counts[i] * (reference.scores[i] - 0.5)) / scale;
  }
  return { n, sum };
}

export interface GroupedCusumDesign {
  readonly k: number;
  readonly h: number;
  readonly sided: 'two' | 'upper' | 'lower';
}

export interface GroupedCusumSignal {
  /** Index of the group that signalled. */
  readonly index: number;
  readonly side: 'upper' | 'lower';
  readonly statistic: number;
  /** First group of the excursion that ended in the signal. */
  readonly excursionStart: number;
  /** Observations in the excursion, and the shift it estimates (σ units of z, signed): ±(k + C/N). */
  readonly excursionObservations: number;
  readonly shiftEstimate: number;
}

export interface GroupedCusumRun {
  readonly upper: readonly number[];
  readonly lower: readonly number[];
  readonly signals: readonly GroupedCusumSignal[];
}

/** Runs the grouped CUSUM (file header); both sums restart at 0 after a signal. */
export function runGroupedCusum(groups: readonly ScoreGroup[], design: GroupedCusumDesign): GroupedCusumRun {
  const { k, h, sided } = design;
  if (!(k >= 0 && Number.isFinite(k))) throw new RangeError(`k must be ≥ 0, got ${k}`);
  if (!(h > 0 && Number.isFinite(h))) throw new RangeError(`h must be > 0, got ${h}`);
  const watchUpper = sided !== 'lower';
  const watchLower = sided !== 'upper';
  const upper: number[] = [];
  const lower: number[] = [];
  const signals: GroupedCusumSignal[] = [];
  let cPlus = 0;
  let cMinus = 0;
  let plusStart = 0;
  let minusStart = 0;
  let plusN = 0;
  let minusN = 0;
  for (let t = 0; t < groups.length; t++) {
    const { n, sum } = groups[t];
    if (!(n >= 0 && Number.isFinite(n) && Number.isFinite(sum)))
      throw new RangeError(`group ${t} is not finite`);
    if (watchUpper) {
      if (cPlus === 0) {
        plusStart = t;
        plusN = 0;
      }
      cPlus = Math.max(0, cPlus + sum - k * n);
      plusN += n;
    }
    if (watchLower) {
      if (cMinus === 0) {
        minusStart = t;
        minusN = 0;
      }
      cMinus = Math.max(0, cMinus - sum - k * n);
      minusN += n;
    }
    upper.push(cPlus);
    lower.push(cMinus);
    const up = watchUpper && cPlus > h;
    const down = watchLower && cMinus > h;
    if (up) {
      signals.push({
        index: t,
        side: 'upper',
        statistic: cPlus,
        excursionStart: plusStart,
        excursionObservations: plusN,
        shiftEstimate: k + cPlus / Math.max(1, plusN),
      });
    }
    if (down) {
      signals.push({
        index: t,
        side: 'lower',
        statistic: cMinus,
        excursionStart: minusStart,
        excursionObservations: minusN,
        shiftEstimate: -(k + cMinus / Math.max(1, minusN)),
      });
    }
    if (up || down) {
      cPlus = 0;
      cMinus = 0;
    }
  }
  return { upper, lower, signals };
}
