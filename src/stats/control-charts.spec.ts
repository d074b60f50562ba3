/**
 * control-charts.ts — where the expected values come from:
 *  - fixtures/control-charts-oracle-r.json: `Rscript src/stats/fixtures/oracle/control-charts-oracle.R src/stats/fixtures`
 *    (R 4.2.2, spc 0.6.7: xcusum.arl / xcusum.crit / xewma.arl / xewma.crit; an independent base-R build of the
 *    Bernoulli CUSUM lattice solved with LAPACK `solve`; a 100,000-run Monte Carlo of the real-valued Bernoulli chart);
 *  - statistics.md §10–12 and §14.5 (vector E), asserted to their printed digits.
 * Tolerances: ARLs 1e-9 relative to spc (same Nyström equations, same r), or ARL·1e-15 where larger (the linear
 * system's condition grows like the ARL: 3e-9 at ARL 4e7, 4e-6 at the absurd 1.6e11 of k = 1, h = 8, δ = −0.5);
 * h and L 1e-6 absolute to
 * spc's crit (spc stops its secant search at |ARL − L0| ≈ 1e-6, so its h carries ~1e-9 error; observed ≤ 5e-9);
 * Bernoulli lattice ARLs 1e-9 relative to R's dense solve. Provenance: fixtures/README-drift.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleStandardNormal, seededRandom } from './distributions';
import {
  type CusumSide,
  bernoulliCusumArl,
  bernoulliCusumChart,
  bernoulliCusumDesign,
  bestRationalApproximation,
  cusumArl,
  cusumDesign,
  ewmaArl,
  ewmaAsymptoticLimit,
  ewmaDesign,
  gaussLegendre,
  runBernoulliCusum,
  runCusum,
  runEwma,
  siegmundArl,
} from './control-charts';

interface Oracle {
  shifts: number[];
  cusumArl: {
    sided: 'one' | 'two';
    k: number;
    h: number;
    mu: number;
    hs: number;
    arl: number;
    arlR100: number;
  }[];
  cusumDesign: {
    sided: 'one' | 'two';
    arl0: number;
    k: number;
    h: number;
    arl0AtH: number;
    arl1: number[];
  }[];
  ewmaArl: { lambda: number; L: number; mu: number; arl: number; arlR150: number }[];
  ewmaDesign: { arl0: number; lambda: number; L: number; arl0AtL: number; arl1: number[] }[];
  ewmaTimeVarying: { lambda: number; L: number; arl0: number; arl1: number }[];
  bernoulli: {
    p0: number;
    p1: number;
    resolution: number;
    h: number;
    scale: number;
    stepEvent: number;
    stepNonEvent: number;
    limit: number;
    p: number[];
    arl: number[];
  }[];
  bernoulliDesign: {
    p0: number;
    p1: number;
    resolution: number;
    arl0: number;
    limit: number;
    h: number;
    achievedArl0: number;
    arl1: number;
  }[];
  bernoulliMonteCarlo: {
    p0: number;
    p1: number;
    h: number;
    runs: number;
    arl0: number;
    arl0Se: number;
    arl1: number;
    arl1Se: number;
  };
}

const oracle = JSON.parse(
  readFileSync(join(__dirname, 'fixtures', 'control-charts-oracle-r.json'), 'utf8'),
) as Oracle;

function relClose(actual: number, expected: number, tolerance: number, label: string): void {
  const rel = Math.abs(actual - expected) / Math.abs(expected);
  if (!(rel <= tolerance)) throw new Error(`${label}: got ${actual}, expected ${expected} (relative ${rel})`);
}

function absClose(actual: number, expected: number, tolerance: number, label: string): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`${label}: got ${actual}, expected ${expected} (|Δ| = ${Math.abs(actual - expected)})`);
  }
}

const side = (s: 'one' | 'two'): CusumSide => (s === 'one' ? 'upper' : 'two');

describe('CUSUM ARL vs spc::xcusum.arl (Nyström, r = 30)', () => {
  it('k ∈ {0.25, 0.5, 1} × h ∈ {3, 4, 5, 8} × δ ∈ {0, ±0.5, 1} × head start {0, h/2}, one- and two-sided', () => {
    for (const e of oracle.cusumArl) {
      const arl = cusumArl({ k: e.k, h: e.h, sided: side(e.sided), headStart: e.hs }, e.mu);
      // The Nyström system's condition number grows like the ARL (spectral radius 1 − 1/ARL): rounding is ≈ ARL·ε.
      relClose(
        arl,
        e.arl,
        Math.max(1e-9, 1e-15 * e.arl),
        `${e.sided} k=${e.k} h=${e.h} δ=${e.mu} hs=${e.hs}`,
      );
    }
  });

  it("'lower' is the mirror image of 'upper'", () => {
    expect(cusumArl({ k: 0.5, h: 4, sided: 'lower' }, -1)).toBe(
      cusumArl({ k: 0.5, h: 4, sided: 'upper' }, 1),
    );
  });

  it('statistics.md §10 / §14.5 printed digits', () => {
    expect(cusumArl({ k: 0.5, h: 4, sided: 'upper' }).toFixed(2)).toBe('335.37');
    expect(cusumArl({ k: 0.5, h: 4, sided: 'upper' }, 1).toFixed(3)).toBe('8.383');
    expect(cusumArl({ k: 0.5, h: 4, sided: 'two' }).toFixed(1)).toBe('167.7');
    expect(cusumArl({ k: 0.5, h: 5, sided: 'two' }).toFixed(1)).toBe('465.4');
    expect(cusumArl({ k: 0.5, h: 5, sided: 'upper' }).toFixed(1)).toBe('930.9');
    expect(cusumArl({ k: 0.5, h: 3, sided: 'upper' }).toFixed(1)).toBe('117.6');
    expect(cusumArl({ k: 0.5, h: 6, sided: 'two' }).toFixed(1)).toBe('1276.6');
    const two = [26.6, 8.38, 3.34, 2.19];
    [0.5, 1, 2, 3].forEach((d, i) =>
      expect(cusumArl({ k: 0.5, h: 4, sided: 'two' }, d).toFixed(i === 1 || i >= 2 ? 2 : 1)).toBe(
        two[i].toFixed(i === 1 || i >= 2 ? 2 : 1),
      ),
    );
    for (const [arl0, h] of [
      [200, '4.171'],
      [370, '4.774'],
      [500, '5.071'],
      [1000, '5.757'],
    ] as const) {
      expect(cusumDesign({ k: 0.5, arl0, sided: 'two' }).h.toFixed(3)).toBe(h);
    }
    for (const [arl0, h] of [
      [200, '3.502'],
      [370, '4.095'],
      [500, '4.389'],
      [1000, '5.071'],
    ] as const) {
      expect(cusumDesign({ k: 0.5, arl0, sided: 'upper' }).h.toFixed(3)).toBe(h);
    }
    // Small-shift designs (two-sided, ARL0 500; h to the digits spc prints there, ARL1 rounded).
    for (const [k, arl0, h, arl1] of [
      [0.125, 500, '13.150', [83, 49, 35, 22, 16]],
      [0.1875, 500, '10.372', [87, 48, 32, 19, 14]],
      [0.25, 500, '8.585', [95, 49, 31, 18, 12]],
      [0.5, 500, '5.071', [146, 70, 39, 17, 11]],
      [0.25, 1000, '9.931', [123, 59, 36, 20, 14]],
      [0.5, 1000, '5.757', [217, 93, 48, 20, 12]],
    ] as const) {
      const design = cusumDesign({ k, arl0, sided: 'two' });
      expect(design.h.toFixed(3)).toBe(h);
      expect([0.25, 0.375, 0.5, 0.75, 1].map((d) => Math.round(cusumArl(design, d)))).toEqual(arl1);
    }
  });

  it('Brook–Evans Markov chain converges to the integral equation at O(1/N²); Siegmund within 1.5%', () => {
    const design = { k: 0.5, h: 4, sided: 'upper' } as const;
    const exact = cusumArl(design);
    const e100 = Math.abs(cusumArl(design, 0, { method: 'markov-chain', nodes: 100 }) - exact) / exact;
    const e400 = Math.abs(cusumArl(design, 0, { method: 'markov-chain', nodes: 400 }) - exact) / exact;
    expect(e400).toBeLessThan(1e-4);
    expect(e100 / e400).toBeGreaterThan(10); // ≈ 16 for O(1/N²)
    for (const [k, h] of [
      [0.5, 4],
      [0.5, 5],
      [0.25, 8],
    ] as const) {
      for (const d of [0, 1]) {
        relClose(
          siegmundArl(k, h, d),
          cusumArl({ k, h, sided: 'upper' }, d),
          0.015,
          `Siegmund k=${k} h=${h} δ=${d}`,
        );
      }
    }
  });

  it('the two-sided formula agrees with a simulation of the two-sided chart at small k (both sums can be positive)', () => {
    const random = seededRandom(3);
    const design = { k: 0.125, h: 6, sided: 'two', mu0: 0, sigma: 1, afterSignal: 'stop' } as const;
    const runs = 4000;
    let sum = 0;
    let sum2 = 0;
    const values = new Float64Array(1200);
    for (let r = 0; r < runs; r++) {
      for (let i = 0; i < values.length; i++) values[i] = sampleStandardNormal(random);
      const run = runCusum(values, design);
      if (run.firstSignal === null) throw new Error('no signal in 1200 observations');
      sum += run.firstSignal + 1;
      sum2 += (run.firstSignal + 1) ** 2;
    }
    const mean = sum / runs;
    const se = Math.sqrt((sum2 / runs - mean * mean) / runs);
    expect(Math.abs(mean - cusumArl(design))).toBeLessThan(3 * se); // 51.3 vs the simulated mean
  });
});

describe('CUSUM design table vs spc::xcusum.crit', () => {
  it('ARL0 ∈ {200, 370, 500, 1000} × k ∈ {0.125 … 1}, one- and two-sided: h and ARL1', () => {
    for (const e of oracle.cusumDesign) {
      const design = cusumDesign({ k: e.k, arl0: e.arl0, sided: side(e.sided) });
      absClose(design.h, e.h, 1e-6, `h ${e.sided} k=${e.k} ARL0=${e.arl0}`);
      relClose(design.arl0, e.arl0, 1e-10, `achieved ARL0 ${e.sided} k=${e.k}`);
      oracle.shifts.forEach((d, i) =>
        relClose(cusumArl(design, d), e.arl1[i], 1e-6, `ARL1 ${e.sided} k=${e.k} ARL0=${e.arl0} δ=${d}`),
      );
    }
  });
});

describe('EWMA (two-sided, asymptotic limits) vs spc::xewma.arl / xewma.crit', () => {
  it('ARL grid (r = 40)', () => {
    for (const e of oracle.ewmaArl) {
      relClose(ewmaArl({ lambda: e.lambda, L: e.L }, e.mu), e.arl, 1e-9, `λ=${e.lambda} L=${e.L} δ=${e.mu}`);
    }
  });

  it('design table: L and ARL1', () => {
    for (const e of oracle.ewmaDesign) {
      const design = ewmaDesign({ lambda: e.lambda, arl0: e.arl0 });
      absClose(design.L, e.L, 1e-6, `L λ=${e.lambda} ARL0=${e.arl0}`);
      oracle.shifts.forEach((d, i) =>
        relClose(ewmaArl(design, d), e.arl1[i], 1e-6, `ARL1 λ=${e.lambda} ARL0=${e.arl0} δ=${d}`),
      );
    }
  });

  it('statistics.md §11 printed digits', () => {
    expect(ewmaArl({ lambda: 0.1, L: 2.703 }).toFixed(1)).toBe('371.9');
    expect(ewmaArl({ lambda: 0.2, L: 3 }).toFixed(0)).toBe('560');
    for (const [arl0, L] of [
      [370, '2.859'],
      [500, '2.962'],
      [1000, '3.187'],
    ] as const) {
      expect(ewmaDesign({ lambda: 0.2, arl0 }).L.toFixed(3)).toBe(L);
    }
    for (const [lambda, L] of [
      [0.05, '2.615'],
      [0.1, '2.814'],
      [0.25, '2.998'],
      [0.4, '3.054'],
    ] as const) {
      expect(ewmaDesign({ lambda, arl0: 500 }).L.toFixed(3)).toBe(L);
    }
    expect([0.5, 1, 2, 3].map((d) => ewmaArl({ lambda: 0.05, L: 2.615 }, d).toFixed(1))).toEqual([
      '28.8',
      '11.4',
      '5.2',
      '3.5',
    ]);
  });

  it('the Lucas–Saccucci Markov chain converges to the integral equation', () => {
    const design = { lambda: 0.1, L: 2.703 };
    const rel = Math.abs(ewmaArl(design, 0, { method: 'markov-chain', nodes: 401 }) / ewmaArl(design) - 1);
    expect(rel).toBeLessThan(5e-4);
  });

  it('time-varying limits lower ARL0 (runner only; spc vacl values documented in the fixture)', () => {
    const vacl = oracle.ewmaTimeVarying[0];
    expect(vacl.arl0).toBeLessThan(ewmaArl({ lambda: vacl.lambda, L: vacl.L }));
    expect(vacl.arl0.toFixed(1)).toBe('486.4');
  });
});

describe('Bernoulli CUSUM on the integer lattice', () => {
  it('lattice, limit and exact ARL equal the independent R build (dense solve)', () => {
    for (const e of oracle.bernoulli) {
      const chart = bernoulliCusumChart({ p0: e.p0, p1: e.p1, h: e.h, resolution: e.resolution });
      expect([chart.stepEvent, chart.stepNonEvent, chart.limit]).toEqual([
        e.stepEvent,
        e.stepNonEvent,
        e.limit,
      ]);
      relClose(chart.scale, e.scale, 1e-14, 'scale');
      e.p.forEach((p, i) =>
        relClose(bernoulliCusumArl(chart, p), e.arl[i], 1e-9, `ARL p0=${e.p0} p1=${e.p1} h=${e.h} p=${p}`),
      );
    }
  });

  it('design: smallest lattice limit reaching the target ARL0', () => {
    for (const e of oracle.bernoulliDesign) {
      const d = bernoulliCusumDesign({ p0: e.p0, p1: e.p1, arl0: e.arl0, resolution: e.resolution });
      expect(d.limit).toBe(e.limit);
      relClose(d.arl0, e.achievedArl0, 1e-9, `achieved ARL0 ${e.p0}→${e.p1} target ${e.arl0}`);
      relClose(bernoulliCusumArl(d, e.p1), e.arl1, 1e-9, 'ARL1');
      expect(d.arl0).toBeGreaterThanOrEqual(e.arl0);
    }
  });

  it('weights: best rational approximation of the weight ratio; reported as used', () => {
    expect(bestRationalApproximation(Math.PI, 1000)).toEqual({ p: 355, q: 113 });
    expect(bestRationalApproximation(4.0813, 20)).toEqual({ p: 49, q: 12 });
    const chart = bernoulliCusumChart({ p0: 0.15, p1: 0.25, h: 3 });
    expect(chart.weights.nonEvent).toBeCloseTo(Math.log(0.75 / 0.85), 14); // the smaller weight is exact
    expect(Math.abs(chart.weights.event / chart.weights.exactEvent - 1)).toBeLessThan(1e-3);
  });

  it('agrees with the Monte Carlo of the real-valued chart and with statistics.md §12 (p0 0.15 → p1 0.25, h = 3)', () => {
    const mc = oracle.bernoulliMonteCarlo;
    const fine = bernoulliCusumChart({ p0: 0.15, p1: 0.25, h: 3, resolution: 50 });
    expect(Math.abs(bernoulliCusumArl(fine, 0.15) - mc.arl0)).toBeLessThan(3 * mc.arl0Se);
    expect(Math.abs(bernoulliCusumArl(fine, 0.25) - mc.arl1)).toBeLessThan(3 * mc.arl1Se);
    // statistics.md §12: ARL0 ≈ 756 (re-run 736), ARL1 ≈ 66 (p = 0.25), ≈ 156 (p = 0.20) — Monte Carlo, a few %.
    const chart = bernoulliCusumChart({ p0: 0.15, p1: 0.25, h: 3 });
    relClose(bernoulliCusumArl(chart, 0.15), 736, 0.03, 'ARL0 h=3');
    relClose(bernoulliCusumArl(chart, 0.25), 66, 0.03, 'ARL1 p=0.25');
    relClose(bernoulliCusumArl(chart, 0.2), 156, 0.03, 'ARL1 p=0.20');
  });

  it('the runner is the chart whose ARL is computed: simulated run lengths average to the exact ARL', () => {
    const chart = bernoulliCusumDesign({ p0: 0.15, p1: 0.25, arl0: 200 });
    const random = seededRandom(9);
    const runs = 2000;
    let sum = 0;
    let sum2 = 0;
    const outcomes = new Uint8Array(6000);
    for (let r = 0; r < runs; r++) {
      for (let i = 0; i < outcomes.length; i++) outcomes[i] = random.nextUniform() < 0.15 ? 1 : 0;
      const run = runBernoulliCusum(outcomes, chart, { afterSignal: 'stop' });
      if (run.firstSignal === null) throw new Error('no signal');
      sum += run.firstSignal + 1;
      sum2 += (run.firstSignal + 1) ** 2;
    }
    const mean = sum / runs;
    const se = Math.sqrt((sum2 / runs - mean * mean) / runs);
    expect(Math.abs(mean - chart.arl0)).toBeLessThan(3 * se);
  });

  it('detects a decrease when p1 < p0', () => {
    const d = bernoulliCusumDesign({ p0: 0.15, p1: 0.1, arl0: 500 });
    expect(d.stepEvent).toBeLessThan(0);
    expect(d.stepNonEvent).toBeGreaterThan(0);
    expect(bernoulliCusumArl(d, 0.1)).toBeLessThan(d.arl0 / 3);
  });
});

describe('runners', () => {
  const baseline = { mu0: 0.02, sigma: 0.08 };

  it('CUSUM path, first signal, excursion start and shifted-mean estimate (hand-computed)', () => {
    // z = (x − 0.02)/0.08 = 0, 1, 2, 2, −3, 0.5
    const values = [0.02, 0.1, 0.18, 0.18, -0.22, 0.06];
    const run = runCusum(values, { ...baseline, k: 0.5, h: 2, sided: 'two', afterSignal: 'continue' });
    expect(run.upper).toEqual([0, 0.5, 2, 3.5, 0, 0]);
    expect(run.lower).toEqual([0, 0, 0, 0, 2.5, 1.5]);
    expect(run.firstSignal).toBe(3);
    expect(run.signals.map((s) => [s.index, s.side])).toEqual([
      [3, 'upper'],
      [4, 'lower'],
    ]);
    const up = run.signals[0];
    expect(up.excursionStart).toBe(1);
    // μ0 + σ(k + C⁺/N⁺) with N⁺ = 3 (indices 1..3)
    expect(up.shiftedMeanEstimate).toBeCloseTo(0.02 + 0.08 * (0.5 + 3.5 / 3), 14);
  });

  it("reset semantics: 'reset' restarts from the head start, 'continue' keeps accumulating, 'stop' ends the path", () => {
    const values = [0.18, 0.18, 0.18, 0.18];
    const design = { ...baseline, k: 0.5, h: 2, sided: 'upper' } as const;
    expect(runCusum(values, { ...design, afterSignal: 'reset' }).upper).toEqual([1.5, 3, 1.5, 3]);
    expect(runCusum(values, { ...design, afterSignal: 'reset' }).signals.map((s) => s.index)).toEqual([1, 3]);
    expect(runCusum(values, { ...design, afterSignal: 'continue' }).upper).toEqual([1.5, 3, 4.5, 6]);
    expect(runCusum(values, { ...design, afterSignal: 'continue' }).signals.map((s) => s.index)).toEqual([
      1, 2, 3,
    ]);
    const stopped = runCusum(values, { ...design, afterSignal: 'stop' });
    expect([stopped.upper, stopped.processed, stopped.firstSignal]).toEqual([[1.5, 3], 2, 1]);
    // The path holds the value at each observation, before a reset takes effect: FIR start 1, z − k = 1.5 per step.
    const fir = runCusum(values, { ...design, headStart: 1 });
    expect([fir.upper, fir.signals.length]).toEqual([[2.5, 2.5, 2.5, 2.5], 4]);
  });

  it('EWMA path with asymptotic and time-varying limits', () => {
    const values = [0.1, 0.1, 0.1];
    const lambda = 0.2;
    const L = 3;
    const asymptotic = runEwma(values, { ...baseline, lambda, L });
    // z = 1 each step: w = 0.2, 0.36, 0.488
    [0.2, 0.36, 0.488].forEach((w, i) => expect(asymptotic.ewma[i]).toBeCloseTo(0.02 + 0.08 * w, 14));
    const half = ewmaAsymptoticLimit({ lambda, L });
    expect(asymptotic.upperLimit[0]).toBeCloseTo(0.02 + 0.08 * half, 14);
    const exact = runEwma(values, { ...baseline, lambda, L, limits: 'time-varying' });
    expect(exact.upperLimit[0]).toBeCloseTo(
      0.02 + 0.08 * L * Math.sqrt((lambda / (2 - lambda)) * (1 - 0.8 ** 2)),
      14,
    );
    expect(exact.upperLimit[2]).toBeLessThan(asymptotic.upperLimit[2]);
    const shifted = runEwma([0.3, 0.3], { ...baseline, lambda, L, limits: 'time-varying' });
    expect(shifted.signals).toEqual([
      { index: 0, side: 'upper', statistic: 0.7 },
      { index: 1, side: 'upper', statistic: 0.7 },
    ]); // reset after the first: w restarts at 0 and the limit at its t = 1 value
  });

  it('EWMA runner run lengths average to the computed ARL', () => {
    const design = { lambda: 0.2, L: 2.2 };
    const random = seededRandom(21);
    const runs = 3000;
    let sum = 0;
    let sum2 = 0;
    const values = new Float64Array(1200);
    for (let r = 0; r < runs; r++) {
      for (let i = 0; i < values.length; i++) values[i] = sampleStandardNormal(random);
      const run = runEwma(values, { ...design, mu0: 0, sigma: 1, afterSignal: 'stop' });
      if (run.firstSignal === null) throw new Error('no signal');
      sum += run.firstSignal + 1;
      sum2 += (run.firstSignal + 1) ** 2;
    }
    const mean = sum / runs;
    const se = Math.sqrt((sum2 / runs - mean * mean) / runs);
    expect(Math.abs(mean - ewmaArl(design))).toBeLessThan(3 * se);
  });

  it('Bernoulli runner: integer steps, reset', () => {
    const chart = bernoulliCusumChart({ p0: 0.15, p1: 0.25, h: 0.9 }); // steps +49 / −12 per 95.87…
    const run = runBernoulliCusum([1, 1, 0, true, false], chart, { afterSignal: 'reset' });
    expect(run.statistic.map((s) => Math.round(s * chart.scale))).toEqual([49, 98, 0, 49, 37]); // 98 > 86: signal, reset
    expect(run.signals.map((s) => s.index)).toEqual([1]);
    expect(chart.limit).toBe(86);
  });

  it('empty and single-observation sequences', () => {
    expect(runCusum([], { ...baseline, k: 0.5, h: 4, sided: 'two' })).toEqual({
      upper: [],
      lower: [],
      signals: [],
      firstSignal: null,
      processed: 0,
    });
    expect(runEwma([0.02], { ...baseline, lambda: 0.1, L: 2.7 }).firstSignal).toBeNull();
    expect(runBernoulliCusum([], bernoulliCusumChart({ p0: 0.1, p1: 0.2, h: 2 })).processed).toBe(0);
  });

  it('rejects invalid designs and data', () => {
    expect(() => runCusum([Number.NaN], { ...baseline, k: 0.5, h: 4, sided: 'two' })).toThrow(RangeError);
    expect(() => runCusum([1], { mu0: 0, sigma: 0, k: 0.5, h: 4, sided: 'two' })).toThrow(RangeError);
    expect(() => cusumArl({ k: 0.5, h: 0, sided: 'two' })).toThrow(RangeError);
    expect(() => ewmaArl({ lambda: 0, L: 3 })).toThrow(RangeError);
    expect(() => bernoulliCusumChart({ p0: 0.2, p1: 0.2, h: 3 })).toThrow(RangeError);
    expect(() => runBernoulliCusum([2], bernoulliCusumChart({ p0: 0.1, p1: 0.2, h: 2 }))).toThrow(RangeError);
    expect(() => cusumDesign({ k: 0.5, arl0: 1, sided: 'two' })).toThrow(RangeError);
  });
});

describe('Gauss–Legendre quadrature', () => {
  it('integrates polynomials of degree 2r − 1 exactly', () => {
    const { nodes, weights } = gaussLegendre(5, -1, 2);
    let s = 0;
    for (let i = 0; i < 5; i++) s += weights[i] * nodes[i] ** 9;
    expect(s).toBeCloseTo((2 ** 10 - 1) / 10, 10);
  });
});

describe("runners with record 'last' (what a 10M-analysis evaluation keeps)", () => {
  // Same signals and processed count as the full path, and the path's last value, under reset and stop.
  const random = seededRandom(20261128);
  const values = Array.from({ length: 4000 }, (_, i) => sampleStandardNormal(random) + (i > 2500 ? 0.6 : 0));
  const outcomes = values.map((v) => v > 1.1);
  const last = (path: readonly number[]) => path[path.length - 1];
  for (const afterSignal of ['reset', 'stop'] as const) {
    it(`CUSUM, EWMA and Bernoulli CUSUM agree with their full path (${afterSignal})`, () => {
      const cusum = { k: 0.5, h: 4, sided: 'two' as const, mu0: 0, sigma: 1, afterSignal };
      const fullCusum = runCusum(values, cusum);
      const lastCusum = runCusum(values, { ...cusum, record: 'last' });
      expect(fullCusum.signals.length).toBeGreaterThan(0);
      expect(lastCusum.signals).toEqual(fullCusum.signals);
      expect(lastCusum.processed).toBe(fullCusum.processed);
      expect(lastCusum.upper).toEqual([last(fullCusum.upper)]);
      expect(lastCusum.lower).toEqual([last(fullCusum.lower)]);

      const ewma = { lambda: 0.1, L: 2.7, mu0: 0, sigma: 1, limits: 'asymptotic' as const, afterSignal };
      const fullEwma = runEwma(values, ewma);
      const lastEwma = runEwma(values, { ...ewma, record: 'last' });
      expect(fullEwma.signals.length).toBeGreaterThan(0);
      expect(lastEwma.signals).toEqual(fullEwma.signals);
      expect(lastEwma.processed).toBe(fullEwma.processed);
      expect(lastEwma.ewma).toEqual([last(fullEwma.ewma)]);
      expect(lastEwma.upperLimit).toEqual([last(fullEwma.upperLimit)]);

      const chart = bernoulliCusumDesign({ p0: 0.13, p1: 0.26, arl0: 200 });
      const fullBernoulli = runBernoulliCusum(outcomes, chart, { afterSignal });
      const lastBernoulli = runBernoulliCusum(outcomes, chart, { afterSignal, record: 'last' });
      expect(fullBernoulli.signals.length).toBeGreaterThan(0);
      expect(lastBernoulli.signals).toEqual(fullBernoulli.signals);
      expect(lastBernoulli.processed).toBe(fullBernoulli.processed);
      expect(lastBernoulli.statistic).toEqual([last(fullBernoulli.statistic)]);
    });
  }
});
