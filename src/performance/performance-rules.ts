/**
 * Reporting rules of the performance module: when a figure is too thin to print, where the gray
 * zone lies, how a premarket claim is tested. Data, not branches; every rule states its source.
 */
export const PERFORMANCE_RULES = {
  /** DESIGN.md §5: a vessel is positive when its value is ≤ threshold; 0.80 is the clinical cut-off. */
  defaultThreshold: 0.8,
  /**
   * Below this many units in a proportion's denominator the API prints no estimate
   * (`insufficient_data`). With n < 10 even the exact 95% interval spans more than 0.3 at p̂ = 0.5,
   * which reads as a result but says almost nothing (statistics.md, reporting rule).
   */
  minimumProportionN: 10,
  /** AUC needs both classes; with fewer than 5 of either the DeLong variance is unstable. */
  minimumAucPerClass: 5,
  /** Bland–Altman and correlation need pairs to estimate a spread. */
  minimumPairs: 10,
  /**
   * Invasive FFR's own gray zone 0.75–0.80 (DEFER era) and the consensus rule that FFRct 0.76–0.80
   * needs more information (ctffr-evidence.md §2).
   */
  grayZone: { low: 0.75, high: 0.8 },
  /** Cook 2017 JAMA Cardiol band edges (ctffr-evidence.md §2), upper bounds inclusive. */
  ctFfrBands: [0.6, 0.7, 0.8, 0.9],
  /**
   * Non-inferiority margin for a premarket claim: the claim holds while the lower 95% confidence
   * bound of the field estimate (cluster-adjusted for proportions, Obuchowski for the AUC) is at
   * least claimed − margin. 0.05 is a common margin for diagnostic accuracy (e.g. FDA guidance on
   * diagnostic test performance leaves it to the sponsor; configurable per request).
   */
  defaultNonInferiorityMargin: 0.05,
  /**
   * `detail=auto` answers from every vessel up to this many linked vessels and from the roll-ups above it.
   * The full path's time grows with the vessels of the period and their analyses (one week of the
   * bench:performance data set, ~1,100 linked vessels among ~55,000 analysed, takes 1–2 s on the project's
   * 2-core machine), while the roll-ups answer in about the same time at any size.
   */
  fullDetailMaxLinkedVessels: 10_000,
} as const;
