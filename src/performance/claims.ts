import { PremarketClaims } from '../registry/registry.entities';
import { Interval } from '../stats/roc';
import { InsufficientData, PerformanceFigures, ProportionFigure } from './performance-report';

export interface ClaimComparison {
  metric: 'sensitivity' | 'specificity' | 'auc';
  claimed: number;
  claimedCi95: [number, number];
  claimedN: number;
  margin: number;
  observed: number | null;
  observedLowerBound: number | null;
  /** true: holds; false: the field's lower bound is below claimed − margin; null: not enough data. */
  holds: boolean | null;
  test: string;
}

const lower = (interval: Interval | null): number | null => (interval ? interval[0] : null);

/**
 * Non-inferiority against the premarket claim: the claim holds while the lower 95% confidence bound
 * of the field estimate is at least `claimed − margin` (one-sided α = 0.025). The bound is the
 * cluster-adjusted one for proportions and Obuchowski's for the AUC, because vessels of one
 * patient are not independent (21 CFR 870.1415); a naive bound would flatter the device.
 */
export function compareWithClaims(
  figures: PerformanceFigures,
  claims: PremarketClaims,
  margin: number,
): ClaimComparison[] {
  const proportionLowerBound = (figure: ProportionFigure | InsufficientData) =>
    figure.estimate === null ? null : lower(figure.ci95.cluster);
  const observed = {
    sensitivity: {
      value: figures.sensitivity.estimate,
      bound: proportionLowerBound(figures.sensitivity),
      test: 'lower bound of the cluster-adjusted (patient) Wilson 95% CI ≥ claimed − margin',
    },
    specificity: {
      value: figures.specificity.estimate,
      bound: proportionLowerBound(figures.specificity),
      test: 'lower bound of the cluster-adjusted (patient) Wilson 95% CI ≥ claimed − margin',
    },
    auc: {
      value: figures.auc.estimate,
      bound: figures.auc.estimate === null ? null : lower(figures.auc.ci95.obuchowski),
      test: "lower bound of Obuchowski's clustered 95% CI ≥ claimed − margin",
    },
  };
  return (['sensitivity', 'specificity', 'auc'] as const).map((metric) => {
    const claim = claims[metric];
    const { value, bound, test } = observed[metric];
    return {
      metric,
      claimed: claim.estimate,
      claimedCi95: claim.ci95,
      claimedN: claim.n,
      margin,
      observed: value,
      observedLowerBound: bound,
      holds: bound === null ? null : bound >= claim.estimate - margin,
      test,
    };
  });
}
