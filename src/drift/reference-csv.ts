import { parse } from 'csv-parse/sync';
import type { ReferenceRow } from './drift-evaluator';

/**
 * Import of a premarket / pivotal reference dataset (issue 4 §1): CSV (RFC 4180, parsed by csv-parse), one row per
 * vessel — or one row for an analysis without vessels (rejected, failed) — with a header naming the columns below
 * (any order; unknown columns are refused so that a misspelt column is not silently ignored). Every problem is
 * reported with its line number (the header is line 1), up to MAX_REPORTED_PROBLEMS at a time.
 *
 * Analysis-level columns (everything but vessel, ctFfr, invasiveFfr) describe the case and must agree across the
 * case's rows. Ranges are those of the analysis event contract (src/ingestion/schemas/analysis.v1.schema.json), so a
 * reference and the field data are measured on the same scale. Numbers in `real` columns are rounded to float32 as
 * the database stores the field data (Math.fround), so reference bins and field values compare exactly.
 */

export const MAX_REFERENCE_ROWS = 200_000;
export const MAX_REPORTED_PROBLEMS = 20;

interface NumberColumn {
  readonly kind: 'number';
  readonly field: keyof ReferenceRow;
  readonly min: number;
  readonly max: number;
  readonly exclusiveMin?: boolean;
  readonly integer?: boolean;
  readonly level: 'case' | 'vessel';
}
interface TextColumn {
  readonly kind: 'text';
  readonly field: keyof ReferenceRow | 'procedureDate';
  readonly values?: readonly string[];
  readonly maxLength: number;
  readonly level: 'case' | 'vessel';
}

export const REFERENCE_COLUMNS: Readonly<Record<string, NumberColumn | TextColumn>> = {
  caseId: { kind: 'text', field: 'caseId', maxLength: 128, level: 'case' },
  status: {
    kind: 'text',
    field: 'status',
    values: ['completed', 'rejected', 'failed'],
    maxLength: 16,
    level: 'case',
  },
  procedureDate: { kind: 'text', field: 'procedureDate', maxLength: 10, level: 'case' },
  vessel: {
    kind: 'text',
    field: 'vessel',
    values: ['LM', 'LAD', 'LCX', 'RCA'],
    maxLength: 3,
    level: 'vessel',
  },
  ctFfr: { kind: 'number', field: 'ctFfr', min: 0, max: 1, level: 'vessel' },
  invasiveFfr: { kind: 'number', field: 'invasiveFfr', min: 0, max: 1, level: 'vessel' },
  ageYears: { kind: 'number', field: 'age', min: 0, max: 120, integer: true, level: 'case' },
  sex: { kind: 'text', field: 'sex', values: ['F', 'M', 'X'], maxLength: 1, level: 'case' },
  bmi: { kind: 'number', field: 'bmi', min: 10, max: 80, level: 'case' },
  scannerVendor: { kind: 'text', field: 'scannerVendor', maxLength: 64, level: 'case' },
  sliceThicknessMm: {
    kind: 'number',
    field: 'sliceThickness',
    min: 0,
    max: 10,
    exclusiveMin: true,
    level: 'case',
  },
  tubeVoltageKv: { kind: 'number', field: 'tubeVoltage', min: 60, max: 150, level: 'case' },
  heartRateBpm: { kind: 'number', field: 'heartRate', min: 20, max: 250, level: 'case' },
  agatstonScore: { kind: 'number', field: 'agatston', min: 0, max: 20000, level: 'case' },
  imageQualityScore: { kind: 'number', field: 'imageQuality', min: 0, max: 1, level: 'case' },
  processingSeconds: { kind: 'number', field: 'processingTime', min: 0, max: 86400, level: 'case' },
};

export interface ImportedReferenceRow extends ReferenceRow {
  /** Line of the CSV text the row starts on (header = 1). */
  readonly line: number;
  readonly procedureDate: string | null;
}

export class ReferenceCsvError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`reference dataset rejected: ${problems.join('; ')}`);
    this.name = 'ReferenceCsvError';
  }
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Parses and validates the dataset; throws ReferenceCsvError with line-numbered problems. */
export function parseReferenceCsv(text: string): ImportedReferenceRow[] {
  let records: string[][];
  let lines: number[];
  try {
    const parsed = parse(text, {
      bom: true,
      relax_column_count: false,
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
    records = parsed.map((p) => p.record);
    // info.lines is the line the record ends on; records in this format never span lines unless quoted.
    lines = parsed.map((p) => p.info.lines);
  } catch (error) {
    const e = error as { message?: string; lines?: number };
    throw new ReferenceCsvError([
      `line ${e.lines ?? '?'}: ${String(e.message ?? 'unreadable CSV').split('\n')[0]}`,
    ]);
  }
  if (records.length === 0)
    throw new ReferenceCsvError(['line 1: the CSV is empty; a header row is required']);
  const header = records[0];
  const problems: string[] = [];
  const unknown = header.filter((name) => !(name in REFERENCE_COLUMNS));
  if (unknown.length) {
    problems.push(
      `line ${lines[0]}: unknown column(s) ${unknown.join(', ')}; expected ${Object.keys(REFERENCE_COLUMNS).join(', ')}`,
    );
  }
  const duplicated = header.filter((name, i) => header.indexOf(name) !== i);
  if (duplicated.length) problems.push(`line ${lines[0]}: duplicate column(s) ${duplicated.join(', ')}`);
  if (!header.includes('caseId')) problems.push(`line ${lines[0]}: the column caseId is required`);
  if (!header.includes('ctFfr')) problems.push(`line ${lines[0]}: the column ctFfr is required`);
  if (problems.length) throw new ReferenceCsvError(problems);
  if (records.length - 1 > MAX_REFERENCE_ROWS) {
    throw new ReferenceCsvError([
      `the dataset has ${records.length - 1} rows; at most ${MAX_REFERENCE_ROWS} are accepted`,
    ]);
  }
  if (records.length === 1) throw new ReferenceCsvError([`line ${lines[0]}: the dataset has no rows`]);

  const rows: ImportedReferenceRow[] = [];
  const cases = new Map<string, ImportedReferenceRow>();
  const report = (line: number, message: string): void => {
    if (problems.length < MAX_REPORTED_PROBLEMS) problems.push(`line ${line}: ${message}`);
    else if (problems.length === MAX_REPORTED_PROBLEMS) problems.push('… further problems not listed');
  };
  for (let r = 1; r < records.length; r++) {
    const line = lines[r];
    const values: Record<string, unknown> = {
      status: 'completed',
      vessel: null,
      ctFfr: null,
      invasiveFfr: null,
      procedureDate: null,
    };
    for (const column of Object.values(REFERENCE_COLUMNS))
      if (!(column.field in values)) values[column.field] = null;
    let ok = true;
    header.forEach((name, c) => {
      const column = REFERENCE_COLUMNS[name];
      const raw = records[r][c];
      if (raw === '') return;
      if (column.kind === 'number') {
        const v = NUMBER.test(raw) ? Number(raw) : Number.NaN;
        const below = column.exclusiveMin ? v <= column.min : v < column.min;
        if (!Number.isFinite(v) || below || v > column.max || (column.integer && !Number.isInteger(v))) {
          report(
            line,
            `${name} "${raw.slice(0, 40)}" must be ${column.integer ? 'an integer' : 'a number'} in ` +
              `${column.exclusiveMin ? '(' : '['}${column.min}, ${column.max}]`,
          );
          ok = false;
          return;
        }
        // The database holds age as smallint and everything else as real (float32).
        values[column.field] = column.integer ? v : Math.fround(v);
        return;
      }
      if (raw.length > column.maxLength || (column.values && !column.values.includes(raw))) {
        report(
          line,
          column.values
            ? `${name} "${raw.slice(0, 40)}" must be one of ${column.values.join(', ')}`
            : `${name} is longer than ${column.maxLength} characters`,
        );
        ok = false;
        return;
      }
      if (name === 'procedureDate' && !(DATE.test(raw) && !Number.isNaN(Date.parse(`${raw}T00:00:00Z`)))) {
        report(line, `procedureDate "${raw.slice(0, 40)}" must be a date YYYY-MM-DD`);
        ok = false;
        return;
      }
      values[column.field] = raw;
    });
    if (!ok) continue;
    const row = { ...values, line } as unknown as ImportedReferenceRow;
    if (!row.caseId) {
      report(line, 'caseId is empty');
      continue;
    }
    if (row.status === 'completed' && (row.ctFfr === null || row.vessel === null)) {
      report(line, 'a completed analysis needs vessel and ctFfr (one row per vessel)');
      continue;
    }
    if (row.status !== 'completed' && (row.ctFfr !== null || row.invasiveFfr !== null)) {
      report(line, `a ${row.status} analysis has no CT-FFR: leave vessel, ctFfr and invasiveFfr empty`);
      continue;
    }
    const first = cases.get(row.caseId);
    if (first) {
      const differing = Object.entries(REFERENCE_COLUMNS)
        .filter(([, column]) => column.level === 'case' && column.field !== 'caseId')
        .filter(([, column]) => {
          const a = (first as unknown as Record<string, unknown>)[column.field];
          const b = (row as unknown as Record<string, unknown>)[column.field];
          return a !== b;
        })
        .map(([name]) => name);
      if (differing.length) {
        report(
          line,
          `case ${row.caseId} differs from its first row (line ${first.line}) in ${differing.join(', ')}`,
        );
        continue;
      }
      if (first.status !== 'completed') {
        report(line, `case ${row.caseId} is ${first.status}: it has one row only`);
        continue;
      }
    } else {
      cases.set(row.caseId, row);
    }
    rows.push(row);
  }
  if (problems.length) throw new ReferenceCsvError(problems);
  return rows;
}
