import {
  estimatedBaselineBernoulliDesign,
  estimatedBaselineCusumDesign,
  estimatedBaselineEwmaDesign,
  estimationScenarios,
  falseAlarmWithin,
  REFERENCE_MEAN_DESIGN_EFFECT,
} from './chart-calibration';
import {
  bernoulliCusumArl,
  bernoulliCusumArlByLimit,
  bernoulliCusumChart,
  bernoulliCusumDesign,
  cusumDesign,
  ewmaDesign,
} from './control-charts';
import { sampleStandardNormal, seededRandom } from './distributions';

describe('estimated-baseline chart designs: reduction to the known-parameter designs', () => {
  // A known baseline (n = ∞) and a horizon of one observation: P = 1 − exp(−1/ARL) ⇔ ARL = ARL0.
  it('CUSUM: h equals cusumDesign (spc xcusum.crit) for known parameters', () => {
    for (const [k, arl0, sided] of [
      [0.5, 500, 'two'],
      [0.25, 500, 'two'],
      [0.25, 20000, 'upper'],
    ] as const) {
      const d = estimatedBaselineCusumDesign({ k, sided, arl0, horizon: 1, referenceSize: Infinity });
      // Siegmund's approximation in the search: within 0.5% of the integral-equation h.
      expect(d.h / cusumDesign({ k, arl0, sided }).h).toBeCloseTo(1, 2);
      const exact = estimatedBaselineCusumDesign({
        k,
        sided,
        arl0,
        horizon: 1,
        referenceSize: Infinity,
        arlMethod: 'integral-equation',
      });
      expect(exact.h / cusumDesign({ k, arl0, sided }).h).toBeCloseTo(1, 3);
    }
  });

  it('EWMA: L equals ewmaDesign (spc xewma.crit) for known parameters', () => {
    const d = estimatedBaselineEwmaDesign({ lambda: 0.1, arl0: 500, horizon: 1, referenceSize: Infinity });
    expect(d.L / ewmaDesign({ lambda: 0.1, arl0: 500 }).L).toBeCloseTo(1, 3);
  });

  it('Bernoulli CUSUM: the limit equals bernoulliCusumDesign for a known p0', () => {
    const d = estimatedBaselineBernoulliDesign({
      p0: 0.15,
      shift: 0.1,
      arl0: 700,
      horizon: 1,
      referenceSize: Infinity,
    });
    expect(d.chart.limit).toBe(bernoulliCusumDesign({ p0: 0.15, p1: 0.25, arl0: 700 }).limit);
  });

  it('the ARLs of every smaller lattice limit come from one factorisation (bernoulliCusumArlByLimit)', () => {
    const big = bernoulliCusumChart({ p0: 0.15, p1: 0.25, h: 4 });
    for (const p of [0.1, 0.15, 0.25]) {
      const byLimit = bernoulliCusumArlByLimit(big, p);
      for (const limit of [1, 17, big.limit >> 1, big.limit]) {
        const chart = bernoulliCusumChart({ p0: 0.15, p1: 0.25, h: (limit + 0.5) / big.scale });
        expect(chart.limit).toBe(limit);
        expect(byLimit(limit) / bernoulliCusumArl(chart, p)).toBeCloseTo(1, 10);
      }
    }
  });
});

describe('estimated-baseline CUSUM: the false-alarm contract holds for the chart that runs', () => {
  it('Siegmund and integral-equation quadratures give the same h (≤ 0.5%) for segment-sized references', () => {
    // (References of a few hundred vessels need h of 30–40; the integral equation resolves limits up to ~60.)
    for (const [referenceSize, sided] of [
      [1500, 'two'],
      [600, 'upper'],
    ] as const) {
      const request = { k: 0.25, sided, arl0: 150_000, horizon: 330, referenceSize, kurtosis: 3.5 };
      const fast = estimatedBaselineCusumDesign(request);
      const exact = estimatedBaselineCusumDesign({ ...request, arlMethod: 'integral-equation' });
      expect(fast.h / exact.h).toBeCloseTo(1, 2);
      expect(fast.achievedProbability).toBeLessThanOrEqual(fast.targetProbability);
    }
  });

  it('the estimation quadrature has weight 1, mean error 0 and SD √(deff/n)', () => {
    const s = estimationScenarios(400 * REFERENCE_MEAN_DESIGN_EFFECT, 3);
    const w = s.reduce((a, x) => a + x.weight, 0);
    const mean = s.reduce((a, x) => a + x.weight * x.d, 0);
    const variance = s.reduce((a, x) => a + x.weight * x.d * x.d, 0);
    expect(w).toBeCloseTo(1, 12);
    expect(mean).toBeCloseTo(0, 12);
    expect(Math.sqrt(variance)).toBeCloseTo(1 / 20, 12);
  });

  /**
   * Monte Carlo of what the design promises: a reference of n = 100 N(0, 1) observations gives μ̂, σ̂; the chart runs
   * on z = (x − μ̂)/σ̂ for T = 300 in-control observations. Over 4,000 references the share that alarm must stay
   * within the contract 1 − exp(−T/ARL0) (Monte Carlo error allowed; with independent draws the design effect makes
   * it conservative), while the textbook design for the same ARL0 with the estimates plugged in alarms far more often.
   */
  it('matches a Monte Carlo of charts on re-estimated baselines; the plug-in design does not', () => {
    const n = 100;
    const horizon = 300;
    const arl0 = 3000;
    const k = 0.5;
    const calibrated = estimatedBaselineCusumDesign({ k, sided: 'two', arl0, horizon, referenceSize: n });
    const plugIn = cusumDesign({ k, arl0, sided: 'two' });
    expect(calibrated.h).toBeGreaterThan(plugIn.h);
    const random = seededRandom(20261127);
    const replicates = 4000;
    let alarmsCalibrated = 0;
    let alarmsPlugIn = 0;
    for (let rep = 0; rep < replicates; rep++) {
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const x = sampleStandardNormal(random);
        s1 += x;
        s2 += x * x;
      }
      const mu = s1 / n;
      const sd = Math.sqrt((s2 - n * mu * mu) / (n - 1));
      let upC = 0;
      let loC = 0;
      let upP = 0;
      let loP = 0;
      let alarmC = false;
      let alarmP = false;
      for (let t = 0; t < horizon && !(alarmC && alarmP); t++) {
        const z = (sampleStandardNormal(random) - mu) / sd;
        upC = Math.max(0, upC + z - k);
        loC = Math.max(0, loC - z - k);
        upP = Math.max(0, upP + z - k);
        loP = Math.max(0, loP - z - k);
        if (upC > calibrated.h || loC > calibrated.h) alarmC = true;
        if (upP > plugIn.h || loP > plugIn.h) alarmP = true;
      }
      if (alarmC) alarmsCalibrated++;
      if (alarmP) alarmsPlugIn++;
    }
    const target = falseAlarmWithin(horizon, arl0);
    const se = Math.sqrt((target * (1 - target)) / replicates);
    // Independent vessels here: the design effect of 3 (REFERENCE_MEAN_DESIGN_EFFECT) makes the design conservative.
    expect(alarmsCalibrated / replicates).toBeLessThan(target + 3 * se);
    expect(alarmsCalibrated / replicates).toBeGreaterThan(target / 10);
    expect(alarmsPlugIn / replicates).toBeGreaterThan(target + 4 * se);
  });
});

describe('estimated-baseline CUSUM: the reference mean’s design effect', () => {
  it('d ~ N(0, deff/n): designEffect 1 at n equals the default (3) at 3n', () => {
    const contract = { k: 0.125, sided: 'two' as const, arl0: 50000, horizon: 2000 };
    const own = estimatedBaselineCusumDesign({ ...contract, referenceSize: 700, designEffect: 1 });
    const byDefault = estimatedBaselineCusumDesign({ ...contract, referenceSize: 2100 });
    expect(REFERENCE_MEAN_DESIGN_EFFECT).toBe(3);
    expect(own.quadrature.designEffect).toBe(1);
    // Only the spread of σ̂ (log r, from n) differs: the two designs' h within 2%.
    expect(own.h / byDefault.h).toBeCloseTo(1, 1);
    expect(own.h).toBeGreaterThanOrEqual(byDefault.h * 0.999);
    expect(() => estimationScenarios(700, 3, 0)).toThrow(/design effect/);
  });
});
