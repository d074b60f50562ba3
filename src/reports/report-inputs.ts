import type { PerformanceResponse } from '../performance/performance.service';
import type { PairCell } from '../stats/pair-histogram';
import type { ReportType } from './report-rules';

/**
 * Everything a periodic report is built from, gathered by ReportDataService from the other modules' services (and
 * read-only aggregates of the stored events). The builders are pure functions of this object and the configuration,
 * so the same data and configuration always give the same report.
 */
export interface ReportInputs {
  type: ReportType;
  reference: string;
  /** Data collection period, calendar dates, both inclusive (UTC). */
  period: { from: string; to: string };
  manufacturer: { name: string };
  product: {
    id: string;
    name: string;
    udiDi: string;
    riskClass: string;
    jurisdictions: string[];
    ffrThreshold: number;
    premarketClaims: unknown;
  };
  modelVersions: Array<{ version: string; releasedAt: string; notes: string | null }>;
  /** The latest final report of the same type for the product whose period ended before this one began. */
  previousReport: { reference: string; from: string; to: string; finalizedAt: string } | null;
  /** First analysis the platform holds for the product (software: "date first made available" is the manufacturer's). */
  firstAnalysisAt: string | null;
  volume: VolumeWindow[];
  installedBase: {
    devicesRegistered: number;
    devicesRevoked: number;
    byCountry: Array<{ country: string; sites: number; devices: number }>;
  };
  population: PopulationInputs;
  incidents: IncidentInput[];
  trend: TrendInputs | null;
  performance: PerformanceInputs;
  drift: DriftInputs;
  dataMarks: DataMarks;
}

export interface VolumeWindow {
  /** 'N' ends on the reporting day, then 'N-1'… (MDCG 2022-21 Annex II). */
  label: string;
  from: string;
  to: string;
  regions: VolumeRow[];
}

export interface VolumeRow {
  region: string;
  analyses: number;
  completed: number;
  rejected: number;
  failed: number;
  activeDevices: number;
  activeSites: number;
}

export interface PopulationInputs {
  analyses: number;
  patients: number;
  byRegion: Array<{ region: string; patients: number; analyses: number }>;
  ageBands: Array<{ band: string; analyses: number }>;
  sex: Array<{ sex: string; analyses: number }>;
  scannerVendors: Array<{ vendor: string; analyses: number }>;
  analysesPerPatient: { mean: number | null; max: number | null };
}

export interface IncidentInput {
  id: string;
  awarenessDate: string;
  seriousness: string;
  state: string;
  causality: string;
  source: string;
  countries: string[];
  imdrf: Record<string, string[]>;
}

export interface TrendInputs {
  method: unknown;
  falseAlarm: string;
  months: string[];
  cellsTested: number;
  signals: Array<{
    month: string;
    unit: string;
    group: string;
    count: number;
    exposure: number;
    ratePer1000: number | null;
    baselineRatePer1000: number | null;
    rateRatio: number | null;
    pValue: number | null;
  }>;
}

export interface PerformanceInputs {
  /** Which path of the performance module answered ('full' vessel by vessel, or 'summary' from roll-ups). */
  detail: string;
  overall: Omit<PerformanceResponse, 'groups' | 'groupBy' | 'rollups'>;
  bySite: NonNullable<PerformanceResponse['groups']>;
  byModelVersion: NonNullable<PerformanceResponse['groups']>;
  byScannerVendor: NonNullable<PerformanceResponse['groups']>;
  /** (CT-FFR, invasive FFR) histogram of the linked vessels: Bland–Altman and ROC charts. */
  pairCells: PairCell[];
}

export interface DriftSeries {
  monitor: string;
  points: Array<{ at: string; value: number; threshold: number | null; alarm: boolean }>;
}

export type DriftInputs =
  | { available: false; statement: string }
  | {
      available: true;
      alerts: Array<{
        id: string;
        monitor: string;
        family: string;
        segment: string;
        openedAt: string;
        /** As at the end of the data collection period (a later resolution belongs to the next report). */
        statusAtPeriodEnd: 'open' | 'acknowledged' | 'resolved';
        resolvedAt: string | null;
        resolution: string | null;
      }>;
      series: DriftSeries[];
    };

/** What the report was built on: counts and latest arrival times of the period's data. */
export interface DataMarks {
  analysesInPeriod: number;
  analysesLatestReceivedAt: string | null;
  incidentsInWindows: number;
  incidentsLatestUpdatedAt: string | null;
  linkedVesselsInPeriod: number;
}
