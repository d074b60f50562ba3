import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical';
import { PERFORMANCE_RULES } from '../performance/performance-rules';
import { PSUR_PERIOD_MONTHS, REPORT_SCHEMA_VERSION, ReportType, ROLLING_WINDOWS } from './report-rules';

/**
 * Everything besides the data that decides a report's content. Stored with each version and hashed: a verify
 * recomputes with the stored configuration, so a later change of defaults cannot make a final report "not match".
 */
export interface ReportConfiguration {
  schemaVersion: number;
  type: ReportType;
  /** FFR cut-off (the product's): a vessel is positive when its value is ≤ threshold. */
  threshold: number;
  nonInferiorityMargin: number;
  /** The performance module's path, fixed at the first generation so regenerations and verification use the same. */
  performanceDetail: 'full' | 'summary';
  /** Length of the rolling windows of the tables (12 months; 24 for class IIa, MDCG 2022-21 Annex III). */
  windowMonths: number;
  rollingWindows: number;
  reportingMinimums: { minimumProportionN: number; minimumAucPerClass: number; minimumPairs: number };
}

export function defaultConfiguration(
  type: ReportType,
  product: { riskClass: string; ffrThreshold: number },
  performanceDetail: 'full' | 'summary',
): ReportConfiguration {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    type,
    threshold: product.ffrThreshold,
    nonInferiorityMargin: PERFORMANCE_RULES.defaultNonInferiorityMargin,
    performanceDetail,
    windowMonths: type === 'psur' ? (PSUR_PERIOD_MONTHS[product.riskClass] ?? 12) : 12,
    rollingWindows: ROLLING_WINDOWS,
    reportingMinimums: {
      minimumProportionN: PERFORMANCE_RULES.minimumProportionN,
      minimumAucPerClass: PERFORMANCE_RULES.minimumAucPerClass,
      minimumPairs: PERFORMANCE_RULES.minimumPairs,
    },
  };
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function configurationHash(configuration: ReportConfiguration): string {
  return sha256Hex(canonicalJson(configuration));
}
