import type { ReportConfiguration } from './report-configuration';
import type { DataMarks } from './report-inputs';
import type { ReportType } from './report-rules';

/**
 * The report as data: the canonical artefact (its canonical JSON is hashed, signed and verified). Sections are an
 * array, so their regulatory order survives canonicalisation (which sorts object keys). Every section has the same
 * shape — prose statements, tables, figures (chart data), and the structured values they were written from — so one
 * HTML and one PDF renderer serve both report types and nothing is shown that is not in the JSON.
 */
export interface ReportDocument {
  documentType: ReportType;
  schemaVersion: number;
  title: { en: string; zh?: string };
  reference: string;
  period: { from: string; to: string };
  manufacturer: string;
  product: { name: string; udiDi: string; riskClass: string };
  configuration: ReportConfiguration;
  dataBasis: DataMarks;
  sections: ReportSection[];
}

export interface ReportSection {
  key: string;
  number: string;
  title: string;
  titleZh?: string;
  source: string;
  /** Plain sentences; `emphasis` ones (the benefit–risk statement) are printed in bold. */
  statements: Statement[];
  tables: ReportTable[];
  figures: ReportFigure[];
  /** The structured values behind the statements and tables (machine-readable copy). */
  data: Record<string, unknown>;
}

export interface Statement {
  text: string;
  emphasis?: boolean;
}

export type Cell = string | number | null;

export interface ReportTable {
  id: string;
  title: string;
  columns: string[];
  rows: Cell[][];
  note?: string;
}

export type ReportFigure =
  | {
      id: string;
      kind: 'bland-altman';
      title: string;
      data: {
        n: number;
        bias: number | null;
        loa: [number, number] | null;
        points: Array<{ mean: number; difference: number; vessels: number }>;
      };
    }
  | {
      id: string;
      kind: 'roc';
      title: string;
      data: {
        auc: number | null;
        ci95: [number, number] | null;
        diseased: number;
        nonDiseased: number;
        points: Array<{ fpr: number; tpr: number }>;
      };
    }
  | {
      id: string;
      kind: 'forest';
      title: string;
      data: {
        rows: Array<{
          key: string;
          sensitivity: ForestEstimate | null;
          specificity: ForestEstimate | null;
        }>;
      };
    }
  | {
      id: string;
      kind: 'incidents-per-month';
      title: string;
      data: { months: string[]; serious: number[]; nonSerious: number[] };
    }
  | {
      id: string;
      kind: 'drift-control';
      title: string;
      data: {
        monitor: string;
        points: Array<{ at: string; value: number; threshold: number | null; alarm: boolean }>;
      };
    };

export interface ForestEstimate {
  estimate: number;
  n: number;
  ci95: [number, number];
}
