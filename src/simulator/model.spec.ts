/**
 * Calibration of the generative model against ctffr-evidence.md §4.3 (20,000 simulated patients, per-vessel metrics
 * against the noisy invasive value; post-market mix: sens 0.819, spec 0.787, bias −0.025, SD 0.080, r 0.792,
 * 1.14 vessels per patient), plus the referral, lag, rejection and clinical-event parameters of §3, §4.6, §4.7.
 */
import { vesselAgreement } from './calibration';
import {
  DEFAULT_MODEL,
  rawEffectModifiers,
  referenceModifierMoments,
  referralLagSigma,
  referralProbability,
  rejectionProbability,
  REFERENCE_POPULATION,
  resolveModel,
  sampleClinicalEvents,
  sampleCtFfr,
  sampleHeartRate,
  sampleReferralLagDays,
  samplePatientCovariates,
  sampleTerritories,
  sampleTrueFfr,
  scanErrorContext,
  simulateReferencePatient,
} from './model';
import { Random } from './random';

function quantile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

describe('CT-FFR error model (ctffr-evidence §4.3)', () => {
  const patients = 20_000;
  const rng = Random.fromSeed('calibration');
  const ctFfr: number[] = [];
  const invasiveFfr: number[] = [];
  const trueFfr: number[] = [];
  let vessels = 0;
  for (let i = 0; i < patients; i++) {
    const patient = simulateReferencePatient(rng.fork('patient', i));
    vessels += patient.ctFfr.length;
    ctFfr.push(...patient.ctFfr);
    invasiveFfr.push(...patient.invasiveFfr);
    trueFfr.push(...patient.trueFfr);
  }
  const agreement = vesselAgreement(ctFfr, invasiveFfr);

  it('reproduces the post-market calibration row with the default parameters', () => {
    expect(Math.abs(agreement.sensitivity - 0.82)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(agreement.specificity - 0.79)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(agreement.bias - -0.025)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(agreement.sdOfDifferences - 0.08)).toBeLessThanOrEqual(0.015);
    expect(Math.abs(agreement.pearson - 0.79)).toBeLessThanOrEqual(0.04);
    expect(Math.abs(vessels / patients - 1.14)).toBeLessThanOrEqual(0.02);
  });

  it('draws true FFR from Beta(7.6, 1.67): mean 0.82, SD 0.12, P(≤ 0.80) ≈ 0.37 (§4.1)', () => {
    const mean = trueFfr.reduce((s, v) => s + v, 0) / trueFfr.length;
    const sd = Math.sqrt(trueFfr.reduce((s, v) => s + (v - mean) ** 2, 0) / (trueFfr.length - 1));
    expect(mean).toBeCloseTo(0.82, 2);
    expect(sd).toBeCloseTo(0.12, 2);
    expect(trueFfr.filter((v) => v <= 0.8).length / trueFfr.length).toBeCloseTo(0.37, 1);
  });

  it('keeps every CT-FFR and invasive value in [0.30, 1.00] with two decimals', () => {
    const offending = [...ctFfr, ...invasiveFfr].filter(
      (value) => value < 0.3 || value > 1 || Math.abs(value * 100 - Math.round(value * 100)) > 1e-9,
    );
    expect(offending).toEqual([]);
  });

  it('correlates vessels of one patient through the Gaussian copula (ρ = 0.2)', () => {
    const pairs: [number, number][] = [];
    const copulaRng = Random.fromSeed('copula');
    for (let i = 0; i < 20_000; i++) {
      const [a, b] = sampleTrueFfr(copulaRng, 2, DEFAULT_MODEL.trueFfr);
      pairs.push([a, b]);
    }
    const n = pairs.length;
    const meanA = pairs.reduce((s, p) => s + p[0], 0) / n;
    const meanB = pairs.reduce((s, p) => s + p[1], 0) / n;
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (const [a, b] of pairs) {
      sab += (a - meanA) * (b - meanB);
      saa += (a - meanA) ** 2;
      sbb += (b - meanB) ** 2;
    }
    expect(sab / Math.sqrt(saa * sbb)).toBeGreaterThan(0.14);
    expect(sab / Math.sqrt(saa * sbb)).toBeLessThan(0.24);
  });

  it('has heavier tails but the same SD with Student-t(4) errors', () => {
    const model = resolveModel({ error: { errors: 'student-t4' } });
    const tRng = Random.fromSeed('heavy');
    const ct: number[] = [];
    const inv: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const patient = simulateReferencePatient(tRng.fork(i), model);
      ct.push(...patient.ctFfr);
      inv.push(...patient.invasiveFfr);
    }
    const heavy = vesselAgreement(ct, inv);
    expect(Math.abs(heavy.sdOfDifferences - agreement.sdOfDifferences)).toBeLessThan(0.01);
    const extremes = (c: number[], i: number[]) =>
      c.filter((v, k) => Math.abs(v - i[k] + 0.025) > 0.25).length / c.length;
    expect(extremes(ct, inv)).toBeGreaterThan(extremes(ctFfr, invasiveFfr));
  });
});

describe('effect modifiers (ctffr-evidence §4.4)', () => {
  const modifiers = DEFAULT_MODEL.modifiers;
  const base = {
    heartRateBpm: 60,
    agatstonScore: 100,
    bmi: 24,
    nitrates: true,
    measurementPoint: 'distal_20mm' as const,
  };

  it('inflate the error above 65 bpm and with CAC > 400, and bias down with calcium, BMI, no nitrates, tip reading', () => {
    const reference = rawEffectModifiers(base, modifiers);
    expect(reference).toEqual({ bias: 0, sdFactor: 1 });
    expect(rawEffectModifiers({ ...base, heartRateBpm: 65 }, modifiers).sdFactor).toBe(1);
    expect(rawEffectModifiers({ ...base, heartRateBpm: 80 }, modifiers).sdFactor).toBeCloseTo(1.225, 6);
    const calcium = rawEffectModifiers({ ...base, agatstonScore: 800 }, modifiers);
    expect(calcium.sdFactor).toBeCloseTo(1.4, 6);
    expect(calcium.bias).toBeCloseTo(-0.02, 6);
    expect(rawEffectModifiers({ ...base, bmi: 35 }, modifiers).bias).toBeCloseTo(-0.02, 6);
    expect(rawEffectModifiers({ ...base, nitrates: false }, modifiers).bias).toBeCloseTo(-0.015, 6);
    expect(rawEffectModifiers({ ...base, measurementPoint: 'vessel_tip' }, modifiers).bias).toBeCloseTo(
      -0.02,
      6,
    );
  });

  it('are centred on the reference population, so its average scan keeps the §4.3 bias and SD', () => {
    const rng = Random.fromSeed('centring');
    let bias = 0;
    let variance = 0;
    const n = 30_000;
    for (let i = 0; i < n; i++) {
      const patient = samplePatientCovariates(rng, REFERENCE_POPULATION);
      const context = scanErrorContext(
        {
          heartRateBpm: sampleHeartRate(
            rng,
            REFERENCE_POPULATION.heartRateMeanBpm,
            REFERENCE_POPULATION.heartRateSdBpm,
          ),
          agatstonScore: patient.agatstonScore,
          bmi: patient.bmi,
          nitrates: rng.bernoulli(REFERENCE_POPULATION.nitrateShare),
          measurementPoint: (['distal_20mm', 'distal_10mm', 'vessel_tip'] as const)[
            rng.categorical([0.7, 0.2, 0.1])
          ],
        },
        modifiers,
      );
      bias += context.biasShift;
      variance += context.sdFactor ** 2;
    }
    expect(Math.abs(bias / n)).toBeLessThan(0.001);
    expect(Math.sqrt(variance / n)).toBeCloseTo(1, 1);
    const moments = referenceModifierMoments(modifiers);
    expect(moments.meanBias).toBeLessThan(0);
    expect(moments.rmsSdFactor).toBeGreaterThan(1);
  });

  it('shift CT-FFR by the scan context bias', () => {
    const trueFfr = Array.from({ length: 5000 }, (_, i) => 0.5 + (i % 50) / 100);
    const plain = sampleCtFfr(Random.fromSeed('shift'), trueFfr, DEFAULT_MODEL);
    const shifted = sampleCtFfr(Random.fromSeed('shift'), trueFfr, DEFAULT_MODEL, {
      biasShift: -0.05,
      sdFactor: 1,
    });
    const meanDifference = shifted.reduce((s, v, i) => s + v - plain[i], 0) / plain.length;
    expect(meanDifference).toBeCloseTo(-0.05, 2);
  });
});

describe('rejections, referral, lag and clinical events', () => {
  it('rejects ≈ 5% of reference scans, more with higher heart rate and thicker slices (§3)', () => {
    const rng = Random.fromSeed('rejection');
    let sum = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const heartRateBpm = sampleHeartRate(
        rng,
        REFERENCE_POPULATION.heartRateMeanBpm,
        REFERENCE_POPULATION.heartRateSdBpm,
      );
      sum += rejectionProbability(
        { heartRateBpm, sliceThicknessMm: 0.625, siteLogitOffset: 0, oddsFactor: 1 },
        DEFAULT_MODEL.rejection,
      );
    }
    expect(sum / n).toBeGreaterThan(0.03);
    expect(sum / n).toBeLessThan(0.08);
    const at = (heartRateBpm: number, sliceThicknessMm: number) =>
      rejectionProbability(
        { heartRateBpm, sliceThicknessMm, siteLogitOffset: 0, oddsFactor: 1 },
        DEFAULT_MODEL.rejection,
      );
    // OR 1.055 per bpm.
    const odds = (p: number) => p / (1 - p);
    expect(odds(at(65, 0.625)) / odds(at(64, 0.625))).toBeCloseTo(1.055, 6);
    expect(at(64, 1.0)).toBeGreaterThan(at(64, 0.625));
  });

  it('refers 60% of CT-FFR-positive and 8% of negative patients (§4.7)', () => {
    expect(referralProbability(0.8, DEFAULT_MODEL.referral)).toBe(0.6);
    expect(referralProbability(0.81, DEFAULT_MODEL.referral)).toBe(0.08);
    expect(referralProbability(null, DEFAULT_MODEL.referral)).toBe(0.35);
  });

  it('draws the CTA → invasive lag with median 14 days and 90th percentile ≈ 60 days (§4.6)', () => {
    const rng = Random.fromSeed('lag');
    const lags = Array.from({ length: 40_000 }, () =>
      sampleReferralLagDays(rng, DEFAULT_MODEL.referral),
    ).sort((a, b) => a - b);
    expect(Math.abs(quantile(lags, 0.5) - 14)).toBeLessThan(0.7);
    expect(Math.abs(quantile(lags, 0.9) - 60)).toBeLessThan(4);
    expect(referralLagSigma(DEFAULT_MODEL.referral)).toBeCloseTo(1.1356, 3);
  });

  it('makes cardiac events a few % a year, more likely when ischaemia is left untreated', () => {
    const rng = Random.fromSeed('clinical');
    const rate = (ischaemic: boolean, revascularizedAtDay: number | null, event: string) => {
      let count = 0;
      const n = 40_000;
      for (let i = 0; i < n; i++) {
        const events = sampleClinicalEvents(
          rng,
          { ageYears: 62, ischaemic, revascularizedAtDay, horizonDays: 365.25 },
          DEFAULT_MODEL.clinical,
        );
        if (events.some((e) => e.event === event)) count++;
      }
      return count / n;
    };
    const untreatedMi = rate(true, null, 'myocardial_infarction');
    const treatedMi = rate(true, 10, 'myocardial_infarction');
    const noIschaemiaMi = rate(false, null, 'myocardial_infarction');
    expect(untreatedMi).toBeGreaterThan(0.015);
    expect(untreatedMi).toBeLessThan(0.04);
    expect(untreatedMi).toBeGreaterThan(1.8 * treatedMi);
    expect(treatedMi).toBeGreaterThan(noIschaemiaMi);
    expect(noIschaemiaMi).toBeLessThan(0.01);
    expect(rate(true, null, 'urgent_revascularization')).toBeGreaterThan(
      rate(false, null, 'urgent_revascularization') * 3,
    );
  });

  it('draws territories without replacement in the §4.5 proportions', () => {
    const rng = Random.fromSeed('territory');
    const counts: Record<string, number> = { LM: 0, LAD: 0, LCX: 0, RCA: 0 };
    for (let i = 0; i < 40_000; i++) counts[sampleTerritories(rng, 1, DEFAULT_MODEL.territoryShares)[0]]++;
    expect(counts.LAD / 40_000).toBeCloseTo(0.6, 1);
    expect(counts.LCX / 40_000).toBeCloseTo(0.18, 1);
    expect(counts.RCA / 40_000).toBeCloseTo(0.22, 1);
    expect(counts.LM / 40_000).toBeLessThan(0.02);
    const three = sampleTerritories(rng, 3, DEFAULT_MODEL.territoryShares);
    expect(new Set(three).size).toBe(3);
  });
});
