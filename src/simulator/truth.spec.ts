import { DAY_MS, FleetSimulation } from './engine';
import { DEFAULT_MODEL, VESSEL_MIXES } from './model';
import {
  AccuracyTruthCollector,
  beggGreenesLimit,
  plannedVerificationProbability,
  sensitivityOf,
  specificityOf,
  twoByTwo,
  type AnalysedVesselTruth,
} from './truth';

const referral = DEFAULT_MODEL.referral;
const END = Date.parse('2026-04-01T00:00:00Z');

describe('plannedVerificationProbability', () => {
  it('is the referral probability for a single vessel (it is always the one wired)', () => {
    expect(plannedVerificationProbability([0.8], 0, referral)).toBe(0.6);
    expect(plannedVerificationProbability([0.81], 0, referral)).toBe(0.08);
  });

  it('refers by the lowest CT-FFR and adds the fallback wire to the lowest vessel (first of equals)', () => {
    const p = referral.vesselMeasuredProbability;
    // A test-negative vessel with a test-positive sibling is referred as a positive patient.
    expect(plannedVerificationProbability([0.9, 0.7], 0, referral)).toBeCloseTo(0.6 * p, 15);
    expect(plannedVerificationProbability([0.9, 0.7], 1, referral)).toBeCloseTo(0.6 * (p + (1 - p) ** 2), 15);
    expect(plannedVerificationProbability([0.85, 0.85, 0.9], 0, referral)).toBeCloseTo(
      0.08 * (p + (1 - p) ** 3),
      15,
    );
    expect(plannedVerificationProbability([0.85, 0.85, 0.9], 1, referral)).toBeCloseTo(0.08 * p, 15);
    expect(() => plannedVerificationProbability([0.85], 1, referral)).toThrow(RangeError);
  });
});

describe('twoByTwo', () => {
  it('counts a value equal to the threshold as positive, for CT-FFR and reference alike', () => {
    const table = twoByTwo(
      [
        { ctFfr: 0.8, reference: 0.8 },
        { ctFfr: 0.8, reference: 0.81 },
        { ctFfr: 0.81, reference: 0.8 },
        { ctFfr: 0.81, reference: 0.81 },
        { ctFfr: 0.5, reference: 0.6 },
      ],
      0.8,
    );
    expect(table).toEqual({ tp: 2, fp: 1, fn: 1, tn: 1 });
    expect(sensitivityOf(table)).toBeCloseTo(2 / 3, 15);
    expect(specificityOf(table)).toBe(0.5);
  });
});

describe('beggGreenesLimit', () => {
  const vessel = (
    ctFfr: number,
    referenceFfr: number,
    verificationProbability: number,
  ): AnalysedVesselTruth => ({
    siteId: 'S',
    patientRef: `p-${ctFfr}-${referenceFfr}`,
    analysisEventId: 'a',
    analysedAt: '2026-01-01T00:00:00Z',
    vessel: 'LAD',
    segment: 7,
    ctFfr,
    referenceFfr,
    trueFfr: referenceFfr,
    verificationProbability,
    invasiveMeasurement: null,
  });

  it('equals the population truth when verification depends on the vessel’s own test result only', () => {
    const vessels: AnalysedVesselTruth[] = [];
    for (let i = 0; i < 400; i++) {
      const ctFfr = 0.55 + ((i * 37) % 45) / 100;
      const referenceFfr = Math.min(1, Math.max(0.4, ctFfr + (((i * 53) % 21) - 10) / 60));
      vessels.push(vessel(ctFfr, referenceFfr, ctFfr <= 0.8 ? 0.6 : 0.08));
    }
    const truth = twoByTwo(
      vessels.map((v) => ({ ctFfr: v.ctFfr, reference: v.referenceFfr })),
      0.8,
    );
    const limit = beggGreenesLimit(vessels, 0.8);
    expect(limit.sensitivity).toBeCloseTo(sensitivityOf(truth), 12);
    expect(limit.specificity).toBeCloseTo(specificityOf(truth), 12);
  });

  it('departs from the truth when verification also depends on the reference value (not MAR given T)', () => {
    // Test negatives are verified more often when diseased: the verified ones over-represent disease.
    const vessels = [
      vessel(0.7, 0.7, 0.6),
      vessel(0.7, 0.9, 0.6),
      vessel(0.9, 0.7, 0.5),
      vessel(0.9, 0.9, 0.1),
      vessel(0.9, 0.95, 0.1),
    ];
    const truth = twoByTwo(
      vessels.map((v) => ({ ctFfr: v.ctFfr, reference: v.referenceFfr })),
      0.8,
    );
    expect(beggGreenesLimit(vessels, 0.8).sensitivity).toBeLessThan(sensitivityOf(truth));
  });
});

describe('AccuracyTruthCollector on a simulated fleet', () => {
  // Trial-like vessel mix (38% multi-vessel patients), so the multi-vessel referral rule is exercised; 210 days, of
  // which only analyses of the first 30 are compared with the planned probabilities: their catheterisation falls
  // inside the period unless the lag exceeds 180 days (P < 1%, lognormal median 14 d, 90th percentile 60 d).
  const simulation = new FleetSimulation({
    seed: 'truth-spec',
    start: END - 210 * DAY_MS,
    end: END,
    volumeScale: 3,
    heartbeatMinutes: 0,
    withTruth: true,
    model: { vesselsPerPatient: VESSEL_MIXES.trial },
    streams: { deviceEvents: false },
  });
  const collector = AccuracyTruthCollector.collect(simulation.items(), simulation.model.referral);
  const vessels = collector.vessels();

  it('matches every published measurement to its planned reference value', () => {
    const measured = vessels.filter((v) => v.invasiveMeasurement !== null);
    expect(measured.length).toBeGreaterThan(5_000);
    for (const v of measured) expect(v.invasiveMeasurement?.value).toBe(v.referenceFfr);
    // Referred patients whose CT-FFR was not evaluable have measurements but no analysed vessel.
    expect(collector.measurementsWithoutAnalysis()).toBeGreaterThan(0);
  });

  it('plans verification probabilities the engine follows, per referral situation', () => {
    const early = vessels.filter((v) => Date.parse(v.analysedAt) < simulation.start + 30 * DAY_MS);
    const byPatient = new Map<string, AnalysedVesselTruth[]>();
    for (const v of early) {
      const key = `${v.siteId}|${v.patientRef}`;
      byPatient.set(key, [...(byPatient.get(key) ?? []), v]);
    }
    const situations = new Map<string, { expected: number; variance: number; observed: number }>();
    for (const patient of byPatient.values()) {
      const lowest = Math.min(...patient.map((v) => v.ctFfr));
      patient.forEach((v, j) => {
        const role =
          patient.length === 1
            ? 'single'
            : patient.findIndex((w) => w.ctFfr === lowest) === j
              ? 'lowest of several'
              : 'other of several';
        const key = `${lowest <= referral.threshold ? 'positive' : 'negative'} patient, ${role}`;
        const s = situations.get(key) ?? { expected: 0, variance: 0, observed: 0 };
        const pi = v.verificationProbability;
        s.expected += pi;
        s.variance += pi * (1 - pi);
        if (v.invasiveMeasurement) s.observed++;
        situations.set(key, s);
      });
    }
    expect(situations.size).toBe(6);
    for (const [situation, { expected, variance, observed }] of situations) {
      expect(expected).toBeGreaterThan(20);
      // 4 SD of the binomial count (vessels of one patient are dependent: the SD is a little wider than this, which
      // 4 rather than 3 absorbs), plus 2% for the few catheterisations lost to the period end or to death.
      const tolerance = 4 * Math.sqrt(variance) + 0.02 * expected;
      if (Math.abs(observed - expected) > tolerance) {
        throw new Error(
          `${situation}: ${observed} wired, ${expected.toFixed(1)} planned (± ${tolerance.toFixed(1)})`,
        );
      }
    }
  });

  it('shows the per-vessel Begg–Greenes limit below the true sensitivity under patient-level referral', () => {
    const truth = twoByTwo(
      vessels.map((v) => ({ ctFfr: v.ctFfr, reference: v.referenceFfr })),
      referral.threshold,
    );
    const limit = beggGreenesLimit(vessels, referral.threshold);
    expect(limit.sensitivity).toBeLessThan(sensitivityOf(truth));
    expect(sensitivityOf(truth) - limit.sensitivity).toBeLessThan(0.05);
    expect(Math.abs(limit.specificity - specificityOf(truth))).toBeLessThan(0.02);
  });

  it('refuses analyses without the latent truth', () => {
    const blind = new FleetSimulation({
      seed: 'truth-spec',
      start: END - 5 * DAY_MS,
      end: END,
      heartbeatMinutes: 0,
    });
    expect(() => AccuracyTruthCollector.collect(blind.items(), blind.model.referral)).toThrow(/withTruth/);
  });
});
