/**
 * CSV reader and IMDRF code validation. The real tables are read from reference/imdrf/ (shared/ beside the repo, as on
 * development machines and in CI); expected facts about them come from reference/imdrf-codes.md, which was written
 * from the files independently of this code. They are not copied into the repo: the JSON's origin repository is
 * GPL-3.0 (imdrf-codes.md, "Origin").
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CsvParseError, parseCsv, parseCsvTable } from './csv';
import {
  type ImdrfCodeTable,
  ImdrfTableError,
  loadImdrfCodeTable,
  parseImdrfCsv,
  parseImdrfJson,
  validateImdrfCoding,
} from './imdrf-codes';

const REFERENCE_DIR = resolve(__dirname, '../../../shared/reference/imdrf');
const FULL_TABLE = join(REFERENCE_DIR, 'imdrf_aet_2023.json');
const SOFTWARE_SUBSET = join(REFERENCE_DIR, 'imdrf_software_relevant_codes.csv');

describe('parseCsv (RFC 4180)', () => {
  const fields = (text: string): string[][] => parseCsv(text).map((record) => [...record.fields]);

  it('reads plain, quoted, empty and escaped fields', () => {
    expect(fields('a,b,c\n1,,"x, y"\n')).toEqual([
      ['a', 'b', 'c'],
      ['1', '', 'x, y'],
    ]);
    expect(fields('"He said ""no"""')).toEqual([['He said "no"']]);
    expect(fields('"",x')).toEqual([['', 'x']]);
    expect(fields('a,')).toEqual([['a', '']]);
  });

  it('keeps line breaks inside quotes and reports where each record starts', () => {
    const records = parseCsv('id,text\r\n1,"line one\r\nline two"\r\n2,last');
    expect(records.map((record) => [record.line, ...record.fields])).toEqual([
      [1, 'id', 'text'],
      [2, '1', 'line one\r\nline two'],
      [4, '2', 'last'],
    ]);
  });

  it('drops a byte-order mark and does not invent a record after the final line break', () => {
    expect(fields('\uFEFFannex,code\nA,A09\n')).toEqual([
      ['annex', 'code'],
      ['A', 'A09'],
    ]);
    expect(fields('')).toEqual([]);
  });

  it.each([
    ['an unclosed quote', 'a,"open\nstill open', /never closed \(line 1, column 3\)/],
    [
      'a quote inside an unquoted field',
      'a,b"c',
      /double quote inside an unquoted field .* \(line 1, column 4\)$/,
    ],
    [
      'text after a closing quote',
      '"a"b,c',
      /must be followed by a comma or a line break \(line 1, column 4\)/,
    ],
  ])('refuses %s with its position', (_name, text, message) => {
    expect(() => parseCsv(text)).toThrow(CsvParseError);
    expect(() => parseCsv(text)).toThrow(message);
  });

  it('parseCsvTable keys rows by header, skips blank lines and checks the field count', () => {
    expect(parseCsvTable('annex,code\nA,A09\n\nF,F13\n').rows).toEqual([
      { line: 2, values: { annex: 'A', code: 'A09' } },
      { line: 4, values: { annex: 'F', code: 'F13' } },
    ]);
    expect(() => parseCsvTable('annex,code\nA,A09,extra\n')).toThrow(
      /Expected 2 fields as in the header, found 3 \(line 2/,
    );
    expect(() => parseCsvTable('code,code\n')).toThrow(/"code" appears twice/);
    expect(() => parseCsvTable('\n\n')).toThrow(/no header row/);
  });
});

describe('IMDRF code table: the 2023 release (reference/imdrf/imdrf_aet_2023.json)', () => {
  let table: ImdrfCodeTable;
  beforeAll(() => {
    table = loadImdrfCodeTable(FULL_TABLE);
  });

  it('loads all seven annexes and takes the release from the file name', () => {
    expect(table.format).toBe('json');
    expect(table.release).toBe('2023');
    expect(table.annexes).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G']);
    // 1,983 rows (imdrf-codes.md); Annex E lists 182 of its codes under two body systems and 4 under three, so its
    // 909 rows hold 909 − 182 − 2·4 = 719 distinct codes (counted independently with Python on the same file).
    const byAnnex = (annex: string): number =>
      [...table.terms.values()].filter((term) => term.annex === annex).length;
    expect([byAnnex('A'), byAnnex('B'), byAnnex('C'), byAnnex('D'), byAnnex('F'), byAnnex('G')]).toEqual([
      482, 25, 157, 43, 67, 300,
    ]);
    expect(byAnnex('E')).toBe(719);
    expect(table.terms.size).toBe(1983 - 182 - 2 * 4);
  });

  it('reads terms, levels and the software-relevant codes of imdrf-codes.md §2', () => {
    expect(table.terms.get('A090803')).toMatchObject({
      annex: 'A',
      term: 'False Negative Result',
      hierarchy: ['A09', 'A0908', 'A090803'],
      level: 3,
      selectable: true,
      retired: false,
    });
    expect(table.terms.get('C1010')).toMatchObject({
      term: 'Artificial Intelligence Training/Validation Problem Identified',
      statusFlags: ['new'],
    });
    expect(table.terms.get('F13')?.term).toBe('Misdiagnosis/ Misclassification');
    expect(table.terms.get('D21')?.term).toBe('Cause Traced to Health Disparity');
    expect(table.terms.get('G02008')?.level).toBe(2);
  });

  it('keeps every path of a polyhierarchical Annex E term', () => {
    expect(table.terms.get('E0104')?.hierarchies).toEqual([
      ['E01', 'E0104'],
      ['E05', 'E0104'],
    ]);
  });

  it('knows retired and not-selectable terms', () => {
    expect(table.terms.get('A071205')).toMatchObject({ retired: true, selectable: true });
    expect(table.terms.get('E06')).toMatchObject({ term: 'Heart', selectable: false });
    // "Not selectable / Modified (editorial)" in Annex G is read as both flags.
    expect(table.terms.get('G07')).toMatchObject({
      status: 'Not selectable / Modified (editorial)',
      statusFlags: ['not_selectable', 'modified_editorial'],
      selectable: false,
    });
  });

  it('accepts a correct CT-FFR coding (imdrf-codes.md §3, missed ischaemia)', () => {
    const result = validateImdrfCoding(table, {
      A: ['A090803'],
      C: ['C100202', 'C1010'],
      D: ['D19'],
      E: ['E061202'],
      F: ['F04', 'F13'],
    });
    expect(result.problems).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.release).toBe('2023');
    expect(result.terms.map((term) => term.code)).toEqual([
      'A090803',
      'C100202',
      'C1010',
      'D19',
      'E061202',
      'F04',
      'F13',
    ]);
  });

  it('says what is wrong with each bad code', () => {
    const result = validateImdrfCoding(table, {
      A: ['A090803', 'F13', 'A099999', 'Z12', 'a0908', 'A071205', 'A090803', 'F99'],
      E: ['E06'],
      a: ['A09'],
    });
    expect(result.valid).toBe(false);
    expect(result.problems.map((problem) => [problem.kind, problem.annex, problem.code])).toEqual([
      ['wrong_annex', 'A', 'F13'],
      ['unknown_code', 'A', 'A099999'],
      ['malformed_code', 'A', 'Z12'],
      ['malformed_code', 'A', 'a0908'],
      ['retired', 'A', 'A071205'],
      ['duplicate', 'A', 'A090803'],
      ['wrong_annex', 'A', 'F99'],
      ['not_selectable', 'E', 'E06'],
      ['unknown_annex', 'a', null],
    ]);
    const messages = result.problems.map((problem) => problem.message);
    expect(messages[0]).toBe(
      'F13 "Misdiagnosis/ Misclassification" is an Annex F (Health Effects – Health Impact) code, listed under Annex A',
    );
    expect(messages[1]).toBe('A099999 is not in the IMDRF 2023 table under Annex A (Medical Device Problem)');
    expect(messages[4]).toMatch(
      /^A071205 "Pacemaker Found in Back-Up Mode" is retired in the IMDRF 2023 table: Term was inactivated on 31 January 2023, with the addition of term A0723/,
    );
    expect(messages[7]).toMatch(
      /^E06 "Heart" is not selectable in the IMDRF 2023 table: code a more specific term below it/,
    );
    expect(messages[8]).toMatch(/"a" is not an IMDRF annex: use A, B, C, D, E, F, G \(upper case\)/);
    // Only the valid code's term is returned.
    expect(result.terms.map((term) => term.code)).toEqual(['A090803']);
  });

  it('accepts retired and not-selectable terms for historical events', () => {
    const result = validateImdrfCoding(table, { A: ['A071205'], E: ['E06'] }, { purpose: 'historical' });
    expect(result.valid).toBe(true);
  });

  it('restricts annexes when asked, and refuses a list that is not a list', () => {
    const restricted = validateImdrfCoding(
      table,
      { G: ['G02008'] },
      { allowedAnnexes: ['A', 'C', 'D', 'E', 'F'] },
    );
    expect(restricted.problems.map((problem) => problem.kind)).toEqual(['annex_not_allowed']);
    const notAList = validateImdrfCoding(table, { A: 'A090803' as unknown as string[] });
    expect(notAList.problems.map((problem) => problem.kind)).toEqual(['not_a_list']);
  });
});

describe('IMDRF code table: the CSV subset (reference/imdrf/imdrf_software_relevant_codes.csv)', () => {
  let subset: ImdrfCodeTable;
  let full: ImdrfCodeTable;
  beforeAll(() => {
    subset = loadImdrfCodeTable(SOFTWARE_SUBSET);
    full = loadImdrfCodeTable(FULL_TABLE);
  });

  it('loads 269 rows of annexes A, B, C, D, F with the release of its status column', () => {
    expect(subset.format).toBe('csv');
    expect(subset.release).toBe('2023'); // from the `status_2023` column
    expect(subset.terms.size).toBe(269);
    expect(subset.annexes).toEqual(['A', 'B', 'C', 'D', 'F']);
    // No hierarchy column: ancestry is rebuilt from the codes present.
    expect(subset.terms.get('A090803')?.hierarchy).toEqual(['A09', 'A0908', 'A090803']);
  });

  it('agrees with the full table on every code and term', () => {
    for (const term of subset.terms.values()) {
      expect(full.terms.get(term.code)?.term).toBe(term.term);
      expect(full.terms.get(term.code)?.annex).toBe(term.annex);
    }
  });

  it('cannot validate an annex it does not hold, and says so', () => {
    const result = validateImdrfCoding(subset, { A: ['A090803'], E: ['E061202'] });
    expect(result.problems).toEqual([
      expect.objectContaining({ kind: 'annex_not_in_table', annex: 'E', code: null }),
    ]);
    expect(result.problems[0].message).toMatch(
      /has no Annex E \(Health Effects – Clinical Signs, Symptoms and Conditions\)/,
    );
  });
});

describe('IMDRF code table: loading errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-imdrf-'));
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads a CSV with quoted definitions, a plain status column and a given release', () => {
    const path = write(
      'codes.csv',
      'annex,code,term,status,definition\r\n' +
        'A,A09,Output Problem,,"Problem with the output, e.g. ""no result"""\r\n' +
        'A,A0908,"Incorrect, Inadequate or Imprecise Result or Readings",Modified (editorial),x\r\n' +
        'A,A071205,Pacemaker Found in Back-Up Mode,Retired,\r\n',
    );
    const table = loadImdrfCodeTable(path, { release: '2025' });
    expect(table.release).toBe('2025');
    expect(table.terms.get('A09')?.definition).toBe('Problem with the output, e.g. "no result"');
    expect(table.terms.get('A0908')?.term).toBe('Incorrect, Inadequate or Imprecise Result or Readings');
    expect(table.terms.get('A0908')?.hierarchy).toEqual(['A09', 'A0908']);
    expect(table.terms.get('A071205')?.retired).toBe(true);
  });

  it.each([
    [
      'a missing file',
      () => loadImdrfCodeTable(join(dir, 'absent.json')),
      /Cannot read the IMDRF code table .*absent\.json/,
    ],
    ['a directory', () => loadImdrfCodeTable(dir), /is a directory: configure the table file itself/],
    [
      'an Excel workbook',
      () => loadImdrfCodeTable(write('annexes.xlsx', 'PK')),
      /unsupported format "\.xlsx".*converted/,
    ],
    ['broken JSON', () => parseImdrfJson('{', 'x.json'), /x\.json: not valid JSON/],
    ['a JSON array', () => parseImdrfJson('[]', 'x.json'), /expected an object keyed by annex letter/],
    ['an unknown annex key', () => parseImdrfJson('{"h":[]}', 'x.json'), /unknown annex key "h"/],
    [
      'a code under the wrong annex',
      () => parseImdrfJson('{"a":[{"code":"F13","term":"Misdiagnosis"}]}', 'x.json'),
      /code F13 is listed under Annex A/,
    ],
    [
      'an unknown status',
      () => parseImdrfJson('{"a":[{"code":"A09","term":"Output Problem","status":"Deprecated"}]}', 'x.json'),
      /unknown status "Deprecated"/,
    ],
    [
      'one code with two different terms',
      () => parseImdrfJson('{"e":[{"code":"E0104","term":"One"},{"code":"E0104","term":"Two"}]}', 'x.json'),
      /E0104 appears twice with different terms/,
    ],
    ['a CSV without a code column', () => parseImdrfCsv('annex,term\nA,x\n', 'x.csv'), /no "code" column/],
    [
      'a CSV row of an unknown annex',
      () => parseImdrfCsv('annex,code,term\nH,H01,x\n', 'x.csv'),
      /x\.csv line 2: unknown annex "H"/,
    ],
  ])('refuses %s with a clear message', (_name, load, message) => {
    expect(load).toThrow(message);
    try {
      load();
    } catch (error) {
      expect(error instanceof ImdrfTableError || error instanceof CsvParseError).toBe(true);
    }
  });
});
