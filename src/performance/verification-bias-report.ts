import { Interval } from '../stats/roc';
import {
  AnalysisWithOptionalReference,
  analysedUnitsFromCtFfr,
  beggGreenes,
  beggGreenesFromCounts,
  VerificationBiasResult,
  VerificationCounts,
} from '../stats/verification-bias';
import { InsufficientData } from './performance-report';

interface CorrectedFigure {
  estimate: number;
  ci95: { bootstrap: Interval | null; deltaLogit: Interval | null };
}

export interface VerificationBiasFigures {
  method: string;
  analysedVessels: number;
  verifiedVessels: number;
  /** Share of analysed vessels that got an invasive FFR (DESIGN.md §5). */
  verifiedFraction: number | null;
  sensitivity: CorrectedFigure | InsufficientData;
  specificity: CorrectedFigure | InsufficientData;
  /** Verified-only (naive) estimates beside the corrected ones: biased when referral follows CT-FFR. */
  naive: { sensitivity: number | null; specificity: number | null };
  assumption: string | null;
}

const interval = (value: Interval | { estimable: false } | undefined): Interval | null =>
  value && !('estimable' in value) ? value : null;

/**
 * Begg–Greenes correction for partial verification (statistics.md §9; reference/ctffr-evidence.md §5):
 * invasive FFR is measured mostly where CT-FFR was low, so accuracy on linked vessels alone is biased.
 * Every analysed vessel is a unit (clustered by patient for the bootstrap); verified when linked.
 */
export function verificationBiasFigures(
  analyses: readonly AnalysisWithOptionalReference[],
  threshold: number,
): VerificationBiasFigures {
  const verified = analyses.filter((analysis) => analysis.invasiveFfr !== null).length;
  return figuresOf(
    beggGreenes(analysedUnitsFromCtFfr(analyses, threshold)),
    analyses.length,
    verified,
    'patients',
  );
}

/**
 * The same correction from the six Begg–Greenes counts (the performance roll-ups keep them per slice). Without
 * patients a bootstrap could only resample vessels as if independent, which adds nothing to the delta-method
 * interval and costs ~80 ms per group; so none is run (`ci95.bootstrap` null), and `detail=full` gives the
 * patient bootstrap.
 */
export function verificationBiasFromCounts(counts: VerificationCounts): VerificationBiasFigures {
  const analysed = counts.testPositive + counts.testNegative;
  const verified =
    counts.verifiedTestPositiveDiseased +
    counts.verifiedTestPositiveNonDiseased +
    counts.verifiedTestNegativeDiseased +
    counts.verifiedTestNegativeNonDiseased;
  return figuresOf(beggGreenesFromCounts(counts, { bootstrap: { replicates: 0 } }), analysed, verified, null);
}

function figuresOf(
  result: VerificationBiasResult,
  analysedVessels: number,
  verified: number,
  resampled: string | null,
): VerificationBiasFigures {
  if (!result.estimable) {
    const insufficient: InsufficientData = {
      estimate: null,
      reason: 'insufficient_data',
      n: verified,
      detail: result.detail,
    };
    return {
      method: 'Begg–Greenes',
      analysedVessels,
      verifiedVessels: verified,
      verifiedFraction: analysedVessels > 0 ? verified / analysedVessels : null,
      sensitivity: insufficient,
      specificity: insufficient,
      naive: { sensitivity: null, specificity: null },
      assumption: null,
    };
  }
  const corrected = (value: (typeof result)['sensitivity']): CorrectedFigure | InsufficientData =>
    'estimate' in value
      ? {
          estimate: value.estimate,
          ci95: { bootstrap: interval(value.ci95.bootstrap), deltaLogit: interval(value.ci95.deltaLogit) },
        }
      : { estimate: null, reason: 'insufficient_data', n: verified, detail: value.detail };
  return {
    method:
      resampled === null
        ? 'Begg–Greenes; 95% CI: delta method on the logit scale (vessels as units; the patient bootstrap is in detail=full)'
        : `Begg–Greenes; 95% CI: percentile bootstrap over ${resampled} (${result.bootstrap.replicates} replicates, seed ${result.bootstrap.seed}) and delta method on the logit scale`,
    analysedVessels: result.analysed,
    verifiedVessels: result.verified,
    verifiedFraction: result.verifiedFraction.estimate,
    sensitivity: corrected(result.sensitivity),
    specificity: corrected(result.specificity),
    naive: { sensitivity: result.naive.sensitivity.estimate, specificity: result.naive.specificity.estimate },
    assumption: result.assumption,
  };
}
