/**
 * IMDRF adverse-event terminology (IMDRF/AE WG/N43): loading the code table and validating an incident's coding.
 *
 * The table is loaded from a file whose path comes from configuration (tests use reference/imdrf/), because IMDRF
 * adds, modifies and retires terms every March (reference/imdrf-codes.md): the code must not embed a release. Two
 * formats are read:
 *  - JSON as in reference/imdrf/imdrf_aet_2023.json: `{ "a": [term…], …, "g": [...] }`, each term with `code`,
 *    `term`, `definition`, `status`, `Status Description`, `codehierarchy` (imdrf-codes.md §4);
 *  - CSV with a header holding at least `annex`, `code`, `term`, optionally `definition`, `status` or `status_<year>`,
 *    `status_description`, `codehierarchy` (as reference/imdrf/imdrf_software_relevant_codes.csv, §5).
 * The official release is an Excel workbook; reading .xlsx needs a dependency this module cannot add (see the
 * hand-over): convert it to CSV or JSON, or add a reader.
 *
 * Validation rules (imdrf-codes.md §1 and §4 "loader advice"):
 *  - a code must exist in the table, under the annex it is listed under (`F13` is not an Annex A code);
 *  - `Retired` terms and `Not selectable` terms (e.g. all Annex E level-1 body systems such as `E06`, `G02`) are
 *    refused for new events — code the more specific child — and accepted for historical events;
 *  - an annex the table does not contain (the CSV subset has no E or G) cannot be validated, which is an error,
 *    not a pass.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseCsvTable } from './csv';

export const IMDRF_ANNEXES = ['A', 'B', 'C', 'D', 'E', 'F', 'G'] as const;
export type ImdrfAnnex = (typeof IMDRF_ANNEXES)[number];

export const IMDRF_ANNEX_TITLES: Readonly<Record<ImdrfAnnex, string>> = {
  A: 'Medical Device Problem',
  B: 'Cause Investigation – Type of Investigation',
  C: 'Cause Investigation – Investigation Findings',
  D: 'Cause Investigation – Investigation Conclusion',
  E: 'Health Effects – Clinical Signs, Symptoms and Conditions',
  F: 'Health Effects – Health Impact',
  G: 'Medical Device Component',
};

/** Status flags a term can carry (the 2023 file combines some, e.g. "Not selectable / Modified (editorial)"). */
export type ImdrfStatusFlag =
  'new' | 'modified_technical' | 'modified_editorial' | 'not_selectable' | 'retired';

const STATUS_TOKENS: Readonly<Record<string, ImdrfStatusFlag>> = {
  new: 'new',
  'modified (technical)': 'modified_technical',
  'modified (editorial)': 'modified_editorial',
  'not selectable': 'not_selectable',
  retired: 'retired',
};

export interface ImdrfTerm {
  readonly annex: ImdrfAnnex;
  readonly code: string;
  readonly term: string;
  readonly definition: string;
  /** Ancestors and the code itself, e.g. ['A09', 'A0908', 'A090803'] (the first path when there are several). */
  readonly hierarchy: readonly string[];
  /** Every path to the term: Annex E lists some terms under several body systems (E0104 under E01 and E05). */
  readonly hierarchies: readonly (readonly string[])[];
  /** Depth of `hierarchy`: 1 for a top-level term. */
  readonly level: number;
  /** The status as written in the table (blank = unchanged); the flags merge all rows of a repeated code. */
  readonly status: string;
  readonly statusFlags: readonly ImdrfStatusFlag[];
  /** When and why the status was set; for a retired term, what replaces it. */
  readonly statusDescription: string;
  readonly selectable: boolean;
  readonly retired: boolean;
}

export interface ImdrfCodeTable {
  /** The file it was loaded from. */
  readonly source: string;
  /** The release, e.g. "2023" — store it with every coded event (imdrf-codes.md, production rule). */
  readonly release: string | null;
  readonly format: 'json' | 'csv';
  /** Annexes present in the table; codes of other annexes cannot be validated against it. */
  readonly annexes: readonly ImdrfAnnex[];
  readonly terms: ReadonlyMap<string, ImdrfTerm>;
}

/** The code table file is unreadable or not what it claims to be. */
export class ImdrfTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImdrfTableError';
  }
}

/** An IMDRF code: annex letter, then 2 to 7 digits (G has a 3-digit level 2, e.g. G02008). */
const CODE_SHAPE = /^[A-G]\d{2,7}$/;

function isAnnex(value: string): value is ImdrfAnnex {
  return (IMDRF_ANNEXES as readonly string[]).includes(value);
}

function parseStatus(raw: string, where: string): ImdrfStatusFlag[] {
  const tokens = raw
    .split('/')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
  return tokens.map((token) => {
    const flag = STATUS_TOKENS[token];
    // An unknown status could mean "retired" in new words; validating codes against a status we cannot read would
    // be guessing, so the table is refused until the loader learns the new value.
    if (!flag)
      throw new ImdrfTableError(
        `${where}: unknown status "${raw}" (known: ${Object.keys(STATUS_TOKENS).join(', ')})`,
      );
    return flag;
  });
}

interface RawTerm {
  readonly annex: ImdrfAnnex;
  readonly code: string;
  readonly term: string;
  readonly definition: string;
  readonly status: string;
  readonly statusDescription: string;
  readonly codehierarchy: string;
  readonly where: string;
}

/** Terms compare equal when they differ only in spacing or case (the 2023 file has "Elevated ketones/ Diabetic…"). */
function sameTerm(a: string, b: string): boolean {
  const squash = (text: string): string => text.replace(/\s+/g, '').toLowerCase();
  return squash(a) === squash(b);
}

function hierarchyOf(raw: RawTerm, codes: ReadonlySet<string>): string[] {
  if (raw.codehierarchy.trim() === '') {
    // No hierarchy column (the CSV subset): ancestors are the table's codes that are prefixes of this one.
    return [...codes].filter((code) => raw.code.startsWith(code)).sort((a, b) => a.length - b.length);
  }
  const hierarchy = raw.codehierarchy.split('|').map((code) => code.trim());
  if (hierarchy[hierarchy.length - 1] !== raw.code) {
    throw new ImdrfTableError(
      `${raw.where}: codehierarchy "${raw.codehierarchy}" does not end in ${raw.code}`,
    );
  }
  return hierarchy;
}

function buildTable(
  rawTerms: readonly RawTerm[],
  source: string,
  format: 'json' | 'csv',
  release: string | null,
): ImdrfCodeTable {
  const codes = new Set(rawTerms.map((raw) => raw.code));
  const merged = new Map<string, { first: RawTerm; hierarchies: string[][]; flags: Set<ImdrfStatusFlag> }>();
  for (const raw of rawTerms) {
    if (!CODE_SHAPE.test(raw.code)) throw new ImdrfTableError(`${raw.where}: malformed code "${raw.code}"`);
    if (raw.code[0] !== raw.annex) {
      throw new ImdrfTableError(`${raw.where}: code ${raw.code} is listed under Annex ${raw.annex}`);
    }
    if (raw.term.trim() === '') throw new ImdrfTableError(`${raw.where}: code ${raw.code} has no term`);
    const hierarchy = hierarchyOf(raw, codes);
    const flags = parseStatus(raw.status, raw.where);
    const existing = merged.get(raw.code);
    if (!existing) {
      merged.set(raw.code, { first: raw, hierarchies: [hierarchy], flags: new Set(flags) });
      continue;
    }
    // Annex E is polyhierarchical: one term is listed under several body systems (E0104 under E01 and E05). The
    // rows must then describe the same term; the term keeps every path and the union of the rows' status flags.
    if (!sameTerm(existing.first.term, raw.term)) {
      throw new ImdrfTableError(
        `${raw.where}: code ${raw.code} appears twice with different terms ("${existing.first.term}", "${raw.term}")`,
      );
    }
    if (!existing.hierarchies.some((path) => path.join('|') === hierarchy.join('|'))) {
      existing.hierarchies.push(hierarchy);
    }
    flags.forEach((flag) => existing.flags.add(flag));
  }
  const terms = new Map<string, ImdrfTerm>();
  for (const [code, { first, hierarchies, flags }] of merged) {
    const statusFlags = [...flags];
    terms.set(code, {
      annex: first.annex,
      code,
      term: first.term.trim(),
      definition: first.definition.trim(),
      hierarchy: hierarchies[0],
      hierarchies,
      level: hierarchies[0].length,
      status: first.status.trim(),
      statusFlags,
      statusDescription: first.statusDescription.trim(),
      selectable: !statusFlags.includes('not_selectable'),
      retired: statusFlags.includes('retired'),
    });
  }
  const annexes = IMDRF_ANNEXES.filter((annex) => rawTerms.some((raw) => raw.annex === annex));
  return { source, release, format, annexes, terms };
}

function stringField(
  record: Readonly<Record<string, unknown>>,
  names: readonly string[],
  where: string,
): string {
  for (const name of names) {
    const value = record[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new ImdrfTableError(`${where}: field "${name}" is not a string`);
    return value;
  }
  return '';
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses the JSON form (imdrf-codes.md §4). The three spellings of the non-IMDRF cross-reference field and the empty
 * key of Annex E are ignored: validation does not need them.
 */
export function parseImdrfJson(text: string, source: string, release: string | null = null): ImdrfCodeTable {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ImdrfTableError(
      `${source}: not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (!isRecord(document)) throw new ImdrfTableError(`${source}: expected an object keyed by annex letter`);
  const rawTerms: RawTerm[] = [];
  for (const [key, rows] of Object.entries(document)) {
    const annex = key.toUpperCase();
    if (!isAnnex(annex)) throw new ImdrfTableError(`${source}: unknown annex key "${key}" (expected a–g)`);
    if (!Array.isArray(rows)) throw new ImdrfTableError(`${source}: annex "${key}" is not an array`);
    rows.forEach((row: unknown, position) => {
      const where = `${source} annex ${key}[${position}]`;
      if (!isRecord(row)) throw new ImdrfTableError(`${where}: not an object`);
      rawTerms.push({
        annex,
        code: stringField(row, ['code'], where).trim(),
        term: stringField(row, ['term'], where),
        definition: stringField(row, ['definition'], where),
        status: stringField(row, ['status'], where),
        statusDescription: stringField(row, ['Status Description', 'statusDescription'], where),
        codehierarchy: stringField(row, ['codehierarchy'], where),
        where,
      });
    });
  }
  if (rawTerms.length === 0) throw new ImdrfTableError(`${source}: no terms`);
  return buildTable(rawTerms, source, 'json', release);
}

/** Parses the CSV form (imdrf-codes.md §5). A `status_<year>` column names the release when none is given. */
export function parseImdrfCsv(text: string, source: string, release: string | null = null): ImdrfCodeTable {
  const table = parseCsvTable(text);
  for (const required of ['annex', 'code', 'term']) {
    if (!table.header.includes(required)) {
      throw new ImdrfTableError(
        `${source}: the header has no "${required}" column (found: ${table.header.join(', ')})`,
      );
    }
  }
  const statusColumns = table.header.filter((name) => /^status(_\d{4})?$/.test(name));
  if (statusColumns.length > 1) {
    throw new ImdrfTableError(`${source}: several status columns (${statusColumns.join(', ')}); keep one`);
  }
  const statusColumn = statusColumns[0];
  const releaseFromHeader = statusColumn?.match(/_(\d{4})$/)?.[1] ?? null;
  const rawTerms = table.rows.map((row): RawTerm => {
    const where = `${source} line ${row.line}`;
    const annex = row.values.annex.trim().toUpperCase();
    if (!isAnnex(annex)) throw new ImdrfTableError(`${where}: unknown annex "${row.values.annex}"`);
    return {
      annex,
      code: row.values.code.trim(),
      term: row.values.term,
      definition: row.values.definition ?? '',
      status: statusColumn ? row.values[statusColumn] : '',
      statusDescription: row.values.status_description ?? '',
      codehierarchy: row.values.codehierarchy ?? '',
      where,
    };
  });
  if (rawTerms.length === 0) throw new ImdrfTableError(`${source}: no terms`);
  return buildTable(rawTerms, source, 'csv', release ?? releaseFromHeader);
}

export interface LoadImdrfOptions {
  /** The IMDRF release of the file, e.g. "2023"; otherwise taken from the CSV status column or the file name. */
  readonly release?: string;
}

/**
 * Loads the code table from a `.json` or `.csv` file (the path comes from configuration). Throws `ImdrfTableError`
 * with the path and the reason when the file is missing, is a directory, has another format or is malformed.
 */
export function loadImdrfCodeTable(path: string, options: LoadImdrfOptions = {}): ImdrfCodeTable {
  let text: string;
  try {
    if (statSync(path).isDirectory()) {
      throw new ImdrfTableError(
        `IMDRF code table ${path} is a directory: configure the table file itself, e.g. ${path.replace(/\/?$/, '/')}imdrf_aet_2023.json`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ImdrfTableError) throw error;
    throw new ImdrfTableError(
      `Cannot read the IMDRF code table ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const releaseInName = basename(path).match(/(?:^|\D)((?:19|20)\d{2})(?:\D|$)/)?.[1] ?? null;
  const extension = extname(path).toLowerCase();
  if (extension === '.json') return parseImdrfJson(text, path, options.release ?? releaseInName);
  if (extension === '.csv') {
    const table = parseImdrfCsv(text, path, options.release ?? null);
    return table.release === null ? { ...table, release: releaseInName } : table;
  }
  throw new ImdrfTableError(
    `IMDRF code table ${path}: unsupported format "${extension || '(none)'}" — give a .json or .csv file ` +
      '(the official .xlsx release must be converted first)',
  );
}

/** An incident's coding, as in DESIGN.md §5: `{ "A": ["A090803"], "F": ["F13"] }`. */
export type ImdrfCoding = Readonly<Record<string, readonly string[]>>;

export type ImdrfProblemKind =
  | 'unknown_annex'
  | 'annex_not_allowed'
  | 'annex_not_in_table'
  | 'not_a_list'
  | 'malformed_code'
  | 'wrong_annex'
  | 'unknown_code'
  | 'retired'
  | 'not_selectable'
  | 'duplicate';

export interface ImdrfCodeProblem {
  readonly kind: ImdrfProblemKind;
  /** The annex key as given. */
  readonly annex: string;
  /** The code as given, or null for a problem with the annex key itself. */
  readonly code: string | null;
  readonly message: string;
}

export interface ImdrfValidationOptions {
  /** Annex keys an incident may use; default all of A–G. */
  readonly allowedAnnexes?: readonly ImdrfAnnex[];
  /**
   * 'new_event' (default) refuses retired and not-selectable terms; 'historical' accepts them, for events coded
   * under an earlier release (imdrf-codes.md: keep them valid for historical events).
   */
  readonly purpose?: 'new_event' | 'historical';
}

export interface ImdrfValidationResult {
  readonly valid: boolean;
  readonly problems: readonly ImdrfCodeProblem[];
  /** The terms of the accepted codes, in input order. */
  readonly terms: readonly ImdrfTerm[];
  /** The table release the coding was checked against. */
  readonly release: string | null;
}

function describe(term: ImdrfTerm): string {
  return `${term.code} "${term.term}"`;
}

/** Checks every code of an incident's IMDRF coding against the table and says what is wrong with each. */
export function validateImdrfCoding(
  table: ImdrfCodeTable,
  coding: ImdrfCoding,
  options: ImdrfValidationOptions = {},
): ImdrfValidationResult {
  const allowed = options.allowedAnnexes ?? IMDRF_ANNEXES;
  const purpose = options.purpose ?? 'new_event';
  const problems: ImdrfCodeProblem[] = [];
  const terms: ImdrfTerm[] = [];
  const releaseNote = table.release ? `the IMDRF ${table.release} table` : 'the IMDRF table';
  const problem = (kind: ImdrfProblemKind, annex: string, code: string | null, message: string): void => {
    problems.push({ kind, annex, code, message });
  };

  for (const [annexKey, codes] of Object.entries(coding)) {
    if (!isAnnex(annexKey)) {
      problem(
        'unknown_annex',
        annexKey,
        null,
        `"${annexKey}" is not an IMDRF annex: use ${IMDRF_ANNEXES.join(', ')} (upper case)`,
      );
      continue;
    }
    if (!allowed.includes(annexKey)) {
      problem(
        'annex_not_allowed',
        annexKey,
        null,
        `Annex ${annexKey} codes are not accepted here (allowed: ${allowed.join(', ')})`,
      );
      continue;
    }
    if (!Array.isArray(codes)) {
      problem('not_a_list', annexKey, null, `Annex ${annexKey} must be a list of codes`);
      continue;
    }
    if (!table.annexes.includes(annexKey)) {
      problem(
        'annex_not_in_table',
        annexKey,
        null,
        `${releaseNote} (${table.source}) has no Annex ${annexKey} (${IMDRF_ANNEX_TITLES[annexKey]}): these codes cannot be checked — configure the full table`,
      );
      continue;
    }
    const seen = new Set<string>();
    for (const code of codes as readonly unknown[]) {
      if (typeof code !== 'string' || !CODE_SHAPE.test(code)) {
        problem(
          'malformed_code',
          annexKey,
          typeof code === 'string' ? code : null,
          `${JSON.stringify(code)} under Annex ${annexKey} is not an IMDRF code (a capital annex letter and digits, e.g. ${annexKey}09)`,
        );
        continue;
      }
      if (seen.has(code)) {
        problem('duplicate', annexKey, code, `${code} is listed twice under Annex ${annexKey}`);
        continue;
      }
      seen.add(code);
      const term = table.terms.get(code);
      if (!term) {
        const codeAnnex = code[0];
        problem(
          codeAnnex !== annexKey && isAnnex(codeAnnex) ? 'wrong_annex' : 'unknown_code',
          annexKey,
          code,
          codeAnnex !== annexKey
            ? `${code} is not an Annex ${annexKey} (${IMDRF_ANNEX_TITLES[annexKey]}) code — Annex ${annexKey} codes ` +
                `start with ${annexKey} — and is not in ${releaseNote} under any annex either`
            : `${code} is not in ${releaseNote} under Annex ${annexKey} (${IMDRF_ANNEX_TITLES[annexKey]})`,
        );
        continue;
      }
      if (term.annex !== annexKey) {
        problem(
          'wrong_annex',
          annexKey,
          code,
          `${describe(term)} is an Annex ${term.annex} (${IMDRF_ANNEX_TITLES[term.annex]}) code, listed under Annex ${annexKey}`,
        );
        continue;
      }
      if (purpose === 'new_event' && term.retired) {
        problem(
          'retired',
          annexKey,
          code,
          `${describe(term)} is retired in ${releaseNote}${term.statusDescription ? `: ${term.statusDescription}` : ''}`,
        );
        continue;
      }
      if (purpose === 'new_event' && !term.selectable) {
        problem(
          'not_selectable',
          annexKey,
          code,
          `${describe(term)} is not selectable in ${releaseNote}: code a more specific term below it` +
            `${term.statusDescription ? ` (${term.statusDescription})` : ''}`,
        );
        continue;
      }
      terms.push(term);
    }
  }
  return { valid: problems.length === 0, problems, terms, release: table.release };
}
