/**
 * Gray-zone analysis of CT-FFR: diagnostic accuracy where the device output is close to the 0.80 cut-off, and accuracy
 * by CT-FFR band (ctffr-evidence.md §2: Cook 2017 per-vessel accuracy 86.4% below 0.60, 74.7% 0.60–0.70, 46.1%
 * 0.70–0.80, 87.3% 0.80–0.90, 97.9% above 0.90; invasive FFR and consensus reading rules put the gray zone at
 * 0.75–0.80 — "0.76–0.80 needs additional information").
 *
 * Conventions pinned here:
 *  - bands are right-closed, (low, high] — a vessel belongs to a band when low < CT-FFR ≤ high — so the band edge at
 *    the threshold goes with the inclusive "≤ 0.80 is positive" rule: CT-FFR 0.80 falls in (0.70, 0.80] and in the
 *    gray zone (0.75, 0.80]; on two-decimal values that zone is exactly the consensus 0.76–0.80. The first and last
 *    default bands are open-ended: (−∞, 0.60] and (0.90, ∞) (R `cut(x, breaks, right = TRUE)`).
 *  - "accuracy" in a band = share of its vessels whose CT-FFR class (≤ threshold) equals the invasive-FFR class
 *    (≤ threshold); each band also reports its share of all vessels. Both are proportions with Wilson,
 *    Clopper–Pearson and patient-cluster 95% intervals (proportions.ts conventions), each with its n.
 *  - an empty band is "not estimable" (n = 0), never NaN.
 */
import type { LinkedVessel, ProportionOptions, ProportionResult } from './proportions';
import { isPositive, proportion } from './proportions';

/** Accuracy of CT-FFR among vessels whose CT-FFR lies in (low, high]. null bounds are open (−∞ / +∞). */
export interface BandAccuracy {
  readonly label: string;
  readonly low: number | null;
  readonly high: number | null;
  /** Vessels with CT-FFR in the band. */
  readonly vessels: number;
  /** Patients with at least one vessel in the band. */
  readonly patients: number;
  /** Concordance of CT-FFR and invasive FFR at the threshold, among the band's vessels. */
  readonly accuracy: ProportionResult;
  /** Band's vessels / all vessels. */
  readonly share: ProportionResult;
}

export interface GrayZoneOptions extends ProportionOptions {
  /** Lower (exclusive) edge on CT-FFR. Default 0.75. */
  readonly low?: number;
  /** Upper (inclusive) edge on CT-FFR. Default 0.80. */
  readonly high?: number;
  /** Positivity threshold for both CT-FFR and invasive FFR. Default 0.80. */
  readonly threshold?: number;
}

export interface BandOptions extends ProportionOptions {
  /** Inner band edges, strictly increasing. Default [0.60, 0.70, 0.80, 0.90] (Cook 2017). */
  readonly edges?: readonly number[];
  /** Positivity threshold for both CT-FFR and invasive FFR. Default 0.80. */
  readonly threshold?: number;
}

/** Cook 2017 band edges (ctffr-evidence.md §2). */
export const COOK_2017_BAND_EDGES: readonly number[] = [0.6, 0.7, 0.8, 0.9];

function formatEdge(value: number | null, open: string): string {
  return value === null ? open : String(value);
}

export function bandLabel(low: number | null, high: number | null): string {
  return `(${formatEdge(low, '−∞')}, ${formatEdge(high, '∞')}${high === null ? ')' : ']'}`;
}

function assertVessels(vessels: readonly LinkedVessel[], threshold: number): void {
  if (!Number.isFinite(threshold)) throw new RangeError(`threshold must be finite, got ${threshold}`);
  for (const v of vessels) {
    if (!Number.isFinite(v.ctFfr) || !Number.isFinite(v.invasiveFfr)) {
      throw new RangeError(`non-finite FFR value for patient ${v.patientId}`);
    }
  }
}

function band(
  vessels: readonly LinkedVessel[],
  low: number | null,
  high: number | null,
  threshold: number,
  options: ProportionOptions,
): BandAccuracy {
  const inBand = (v: LinkedVessel): boolean =>
    (low === null || v.ctFfr > low) && (high === null || v.ctFfr <= high);
  const members = vessels.filter(inBand);
  return {
    label: bandLabel(low, high),
    low,
    high,
    vessels: members.length,
    patients: new Set(members.map((v) => v.patientId)).size,
    accuracy: proportion(
      members.map((v) => ({
        clusterId: v.patientId,
        success: isPositive(v.ctFfr, threshold) === isPositive(v.invasiveFfr, threshold),
      })),
      options,
    ),
    share: proportion(
      vessels.map((v) => ({ clusterId: v.patientId, success: inBand(v) })),
      options,
    ),
  };
}

/**
 * Accuracy of CT-FFR in its gray zone (low, high] — default (0.75, 0.80] — with n and 95% intervals
 * (DESIGN.md §5 `grayZone: { low, high, vessels, accuracy }`).
 */
export function grayZoneAccuracy(
  vessels: readonly LinkedVessel[],
  options: GrayZoneOptions = {},
): BandAccuracy {
  const low = options.low ?? 0.75;
  const high = options.high ?? 0.8;
  const threshold = options.threshold ?? 0.8;
  if (!(Number.isFinite(low) && Number.isFinite(high) && low < high)) {
    throw new RangeError(`gray zone needs finite low < high, got (${low}, ${high}]`);
  }
  assertVessels(vessels, threshold);
  return band(vessels, low, high, threshold, options);
}

/**
 * Accuracy of CT-FFR by band of its value (default (−∞, 0.60], (0.60, 0.70], (0.70, 0.80], (0.80, 0.90],
 * (0.90, ∞), Cook 2017), each with its n, patients, share of vessels and 95% intervals.
 */
export function accuracyByCtFfrBand(
  vessels: readonly LinkedVessel[],
  options: BandOptions = {},
): { readonly threshold: number; readonly bands: readonly BandAccuracy[] } {
  const edges = options.edges ?? COOK_2017_BAND_EDGES;
  const threshold = options.threshold ?? 0.8;
  if (edges.length === 0) throw new RangeError('at least one band edge is needed');
  for (let i = 0; i < edges.length; i++) {
    if (!Number.isFinite(edges[i]) || (i > 0 && !(edges[i] > edges[i - 1]))) {
      throw new RangeError(`band edges must be finite and strictly increasing, got ${edges.join(', ')}`);
    }
  }
  assertVessels(vessels, threshold);
  const bounds: (number | null)[] = [null, ...edges, null];
  const bands: BandAccuracy[] = [];
  for (let i = 0; i + 1 < bounds.length; i++)
    bands.push(band(vessels, bounds[i], bounds[i + 1], threshold, options));
  return { threshold, bands };
}
