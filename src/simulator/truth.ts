/**
 * The simulator's known diagnostic truth — what no real deployment can know: the reference value of EVERY analysed
 * vessel, verified or not. End-to-end tests compare the platform's accuracy figures (GET /api/v1/performance) with
 * it; nothing here is ever published.
 *
 * Reference standard. When a patient arrives the engine plans, for every vessel, the invasive FFR the site's pressure
 * wire would read (true FFR + wire noise + the site's hyperaemia-protocol offset, clipped and rounded:
 * model.ts `sampleInvasiveFfr`), and publishes exactly that value as `invasive_ffr.value` if, and only if, the vessel is
 * wired. So the planned value of an unverified vessel is what the platform would have received had it been measured —
 * same measurement model, same draw — and population sensitivity / specificity are taken against it, over the vessels
 * of all completed analyses. The collector checks that every published measurement equals its planned value, so the
 * two cannot silently diverge. (The noise-free true FFR is kept too, for context: it is not what the platform is
 * asked to estimate, since its reference standard is the wire.)
 *
 * Verification. Which vessels get a reference follows the referral model of engine.ts `planOutcomes`
 * (ctffr-evidence.md §4.7): the PATIENT is referred with a probability set by the lowest CT-FFR of the analysis, then
 * each vessel is wired with `vesselMeasuredProbability`, and the lowest-CT-FFR vessel whenever no draw succeeded.
 * `plannedVerificationProbability` restates that as a probability per vessel. It matters for the partial-verification
 * correction: Begg–Greenes, as the platform applies it per vessel, assumes verification depends on the vessel's OWN
 * test result only. For single-vessel patients that holds; in multi-vessel patients a test-negative vessel whose
 * sibling is test-positive is referred far more often (0.60 vs 0.08), and — through the patient's shared anatomy and
 * CT error — it is also more often diseased than a test-negative vessel of an all-negative patient. Verified
 * test-negatives then over-represent disease, so the per-vessel Begg–Greenes estimate converges slightly below the
 * true sensitivity. `beggGreenesLimit` computes the value it converges to on a given population, so a test can state
 * that residual bias instead of hiding it.
 */
import { isPositive } from '../stats/proportions';
import type { AnalysisEvent, ClinicalEventOutcome, InvasiveFfrOutcome, Vessel } from './contracts';
import type { SimulationItem } from './messages';
import { referralProbability, type ReferralParameters } from './model';

export interface InvasiveMeasurementTruth {
  readonly measuredAt: string;
  readonly value: number;
}

/** One vessel of a completed analysis, with what only the simulator knows about it. */
export interface AnalysedVesselTruth {
  readonly siteId: string;
  readonly patientRef: string;
  readonly analysisEventId: string;
  /** `occurredAt` of the completed analysis, as published. */
  readonly analysedAt: string;
  readonly vessel: Vessel;
  readonly segment: number;
  /** CT-FFR as published. */
  readonly ctFfr: number;
  /** The invasive FFR the site's wire reads (or would read) in this vessel: the reference standard. */
  readonly referenceFfr: number;
  /** Noise-free true FFR (context only; not the platform's reference standard). */
  readonly trueFfr: number;
  /** P(this vessel is wired), as the referral model plans it; see `plannedVerificationProbability`. */
  readonly verificationProbability: number;
  /** The invasive FFR published for this vessel, or null (not wired, or wired after the simulated period). */
  readonly invasiveMeasurement: InvasiveMeasurementTruth | null;
}

export interface TwoByTwo {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

/**
 * P(vessel `index` of an analysis is wired), from the analysis's CT-FFR values, as engine.ts `planOutcomes` draws it:
 * referral by the lowest CT-FFR, then each vessel with probability p, plus the lowest-CT-FFR vessel (the first of equal
 * values) when no vessel's draw succeeded — probability (1 − p)^n for n vessels. Losses independent of the vessel's
 * disease and test result (the catheterisation falls after the simulated period) are left out; death before the
 * catheterisation (rare within the lag, and more likely with ischaemia) is too.
 */
export function plannedVerificationProbability(
  ctFfr: readonly number[],
  index: number,
  referral: ReferralParameters,
): number {
  if (!(index >= 0 && index < ctFfr.length)) throw new RangeError(`no vessel ${index} in the analysis`);
  const lowest = Math.min(...ctFfr);
  const p = referral.vesselMeasuredProbability;
  const wiredByDefault = ctFfr.indexOf(lowest) === index ? Math.pow(1 - p, ctFfr.length) : 0;
  return referralProbability(lowest, referral) * (p + wiredByDefault);
}

/**
 * Collects the truth from the simulation's items (the engine must run with `withTruth`): every vessel of every
 * completed genuine analysis, the published invasive FFR of each wired vessel, and the patients' clinical events.
 * Items may be fed in any order; injected (deliberately bad) messages are ignored.
 */
export class AccuracyTruthCollector {
  private readonly analyses = new Map<
    string,
    { event: AnalysisEvent; referenceFfr: number[]; trueFfr: number[] }
  >();
  private readonly measurements = new Map<string, InvasiveFfrOutcome>();
  private readonly clinical = new Map<string, ClinicalEventOutcome[]>();

  constructor(private readonly referral: ReferralParameters) {}

  static collect(items: Iterable<SimulationItem>, referral: ReferralParameters): AccuracyTruthCollector {
    const collector = new AccuracyTruthCollector(referral);
    for (const item of items) collector.observe(item);
    return collector;
  }

  observe(item: SimulationItem): void {
    if (item.type !== 'message') return;
    const { message } = item;
    if (message.injected !== null || message.body.kind !== 'event') return;
    const event = message.body.event;
    if (event.schema === 'fieldwatch.analysis/1') {
      if (event.status !== 'completed') return;
      if (!message.truth) throw new Error('the simulation must run with withTruth to collect accuracy truth');
      const patient = patientKey(event.siteId, event.patientRef);
      // The engine plans one completed analysis per patient at most (it stops scanning once one completes); a second
      // would make "the" analysis of a measurement ambiguous, so it is refused rather than guessed.
      if (this.analyses.has(patient)) throw new Error(`a second completed analysis for patient ${patient}`);
      this.analyses.set(patient, {
        event,
        referenceFfr: message.truth.invasiveFfr,
        trueFfr: message.truth.trueFfr,
      });
    } else if (event.schema === 'fieldwatch.outcome/1') {
      if (event.type === 'clinical_event') {
        const patient = patientKey(event.siteId, event.patientRef);
        this.clinical.set(patient, [...(this.clinical.get(patient) ?? []), event]);
        return;
      }
      const key = vesselKey(event.siteId, event.patientRef, event.vessel);
      if (this.measurements.has(key)) throw new Error(`vessel ${key} measured twice`);
      this.measurements.set(key, event);
    }
  }

  /** Every vessel of every completed analysis, in order of arrival. */
  vessels(): AnalysedVesselTruth[] {
    const vessels: AnalysedVesselTruth[] = [];
    for (const { event, referenceFfr, trueFfr } of this.analyses.values()) {
      const ctFfr = event.vessels.map((v) => v.ctFfr);
      event.vessels.forEach((v, j) => {
        const measurement =
          this.measurements.get(vesselKey(event.siteId, event.patientRef, v.vessel)) ?? null;
        if (measurement) {
          if (measurement.value !== referenceFfr[j]) {
            throw new Error(
              `published invasive FFR ${measurement.value} differs from the planned reference ${referenceFfr[j]}`,
            );
          }
        }
        vessels.push({
          siteId: event.siteId,
          patientRef: event.patientRef,
          analysisEventId: event.eventId,
          analysedAt: event.occurredAt,
          vessel: v.vessel,
          segment: v.segment,
          ctFfr: v.ctFfr,
          referenceFfr: referenceFfr[j],
          trueFfr: trueFfr[j],
          verificationProbability: plannedVerificationProbability(ctFfr, j, this.referral),
          invasiveMeasurement: measurement
            ? { measuredAt: measurement.measuredAt, value: measurement.value }
            : null,
        });
      });
    }
    return vessels;
  }

  /**
   * Invasive FFR outcomes that belong to no vessel of a completed analysis: patients whose CT-FFR was not evaluable
   * and who were referred all the same (`probabilityIfNotEvaluable`). They are outside the accuracy denominator.
   */
  measurementsWithoutAnalysis(): number {
    let count = 0;
    for (const m of this.measurements.values()) {
      const analysis = this.analyses.get(patientKey(m.siteId, m.patientRef));
      if (!analysis?.event.vessels.some((v) => v.vessel === m.vessel)) count++;
    }
    return count;
  }

  /** Clinical events of one patient (for linkage rules that look at what happened between CTA and wire). */
  clinicalEventsOf(siteId: string, patientRef: string): readonly ClinicalEventOutcome[] {
    return this.clinical.get(patientKey(siteId, patientRef)) ?? [];
  }
}

/** CT-FFR against a reference value; positive means ≤ threshold for both (DESIGN.md §5). */
export function twoByTwo(
  pairs: Iterable<{ readonly ctFfr: number; readonly reference: number }>,
  threshold: number,
): TwoByTwo {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (const { ctFfr, reference } of pairs) {
    const testPositive = isPositive(ctFfr, threshold);
    const diseased = isPositive(reference, threshold);
    if (testPositive && diseased) tp++;
    else if (testPositive) fp++;
    else if (diseased) fn++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

export const sensitivityOf = (t: TwoByTwo): number => t.tp / (t.tp + t.fn);
export const specificityOf = (t: TwoByTwo): number => t.tn / (t.tn + t.fp);

/**
 * What the per-vessel Begg–Greenes estimate converges to on this population if verification is redrawn with the
 * planned probabilities π: P(T+) from all vessels, PPV and FOR as π-weighted shares (the expected verified counts).
 * Equal to the population truth exactly when π depends on the vessel's own test result only (Begg–Greenes' MAR
 * assumption); the difference is the bias no sample size removes.
 */
export function beggGreenesLimit(
  vessels: readonly AnalysedVesselTruth[],
  threshold: number,
): { sensitivity: number; specificity: number } {
  let positives = 0;
  const expected = { positive: 0, positiveDiseased: 0, negative: 0, negativeDiseased: 0 };
  for (const v of vessels) {
    const testPositive = isPositive(v.ctFfr, threshold);
    const diseased = isPositive(v.referenceFfr, threshold);
    const pi = v.verificationProbability;
    if (testPositive) {
      positives++;
      expected.positive += pi;
      if (diseased) expected.positiveDiseased += pi;
    } else {
      expected.negative += pi;
      if (diseased) expected.negativeDiseased += pi;
    }
  }
  const pPositive = positives / vessels.length;
  const ppv = expected.positiveDiseased / expected.positive;
  const falseOmission = expected.negativeDiseased / expected.negative;
  const diseasedPositive = pPositive * ppv;
  const diseasedNegative = (1 - pPositive) * falseOmission;
  const healthyNegative = (1 - pPositive) * (1 - falseOmission);
  const healthyPositive = pPositive * (1 - ppv);
  return {
    sensitivity: diseasedPositive / (diseasedPositive + diseasedNegative),
    specificity: healthyNegative / (healthyNegative + healthyPositive),
  };
}

const patientKey = (siteId: string, patientRef: string): string => `${siteId}\u0000${patientRef}`;
const vesselKey = (siteId: string, patientRef: string, vessel: Vessel): string =>
  `${patientKey(siteId, patientRef)}\u0000${vessel}`;
