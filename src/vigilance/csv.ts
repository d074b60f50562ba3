/**
 * A strict RFC 4180 CSV reader, for code tables such as reference/imdrf/imdrf_software_relevant_codes.csv.
 *
 * Why not a library: the project has no CSV parser among its dependencies, and a new dependency needs a package.json
 * change outside this module (suggested in the hand-over: `csv-parse`). The format needed is small and fully
 * specified, so this reader implements exactly RFC 4180 and refuses anything else with a line and column, rather
 * than guessing:
 *  - fields separated by `,`, records by CRLF or LF (a lone CR is also accepted as a line break);
 *  - a field may be enclosed in double quotes; inside, `""` is one quote, and commas and line breaks are data;
 *  - a quote inside an unquoted field, text after a closing quote, or a missing closing quote is an error;
 *  - a UTF-8 byte-order mark at the start is dropped; a final line break does not start an empty record.
 */

export class CsvParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} (line ${line}, column ${column})`);
    this.name = 'CsvParseError';
  }
}

export interface CsvRecord {
  /** 1-based line on which the record starts (records may span lines). */
  readonly line: number;
  readonly fields: readonly string[];
}

/** Every record of a CSV text, header included. */
export function parseCsv(text: string): CsvRecord[] {
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let column = 1;
  let recordLine = 1;
  let index = 0;
  // 'start': at the start of a field; 'unquoted': inside an unquoted field; 'quoted': inside quotes;
  // 'closed': just after the closing quote of a quoted field.
  let state: 'start' | 'unquoted' | 'quoted' | 'closed' = 'start';
  let quoteLine = 0;
  let quoteColumn = 0;

  const endRecord = (): void => {
    fields.push(field);
    records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    state = 'start';
  };

  while (index < input.length) {
    const char = input[index];
    if (state === 'quoted') {
      if (char === '"') {
        if (input[index + 1] === '"') {
          field += '"';
          index += 2;
          column += 2;
          continue;
        }
        state = 'closed';
      } else {
        field += char;
        if (char === '\n' || (char === '\r' && input[index + 1] !== '\n')) {
          line++;
          column = 0;
        }
      }
      index++;
      column++;
      continue;
    }
    if (char === ',') {
      fields.push(field);
      field = '';
      state = 'start';
      index++;
      column++;
      continue;
    }
    if (char === '\r' || char === '\n') {
      endRecord();
      index += char === '\r' && input[index + 1] === '\n' ? 2 : 1;
      line++;
      column = 1;
      recordLine = line;
      continue;
    }
    if (char === '"') {
      if (state !== 'start') {
        throw new CsvParseError(
          state === 'closed'
            ? 'A quoted field must be followed by a comma or a line break'
            : 'A double quote inside an unquoted field (enclose the field in quotes and double the quote)',
          line,
          column,
        );
      }
      state = 'quoted';
      quoteLine = line;
      quoteColumn = column;
      index++;
      column++;
      continue;
    }
    if (state === 'closed') {
      throw new CsvParseError('A quoted field must be followed by a comma or a line break', line, column);
    }
    state = 'unquoted';
    field += char;
    index++;
    column++;
  }
  if (state === 'quoted') throw new CsvParseError('A quoted field is never closed', quoteLine, quoteColumn);
  // Text after the last line break, or a record ended by end of input without a line break.
  if (state !== 'start' || field !== '' || fields.length > 0) endRecord();
  return records;
}

export interface CsvTable {
  readonly header: readonly string[];
  /** One object per data row, keyed by header name, with the row's starting line. */
  readonly rows: readonly { readonly line: number; readonly values: Readonly<Record<string, string>> }[];
}

/**
 * A CSV with a header row: every row must have as many fields as the header, header names must be distinct and
 * non-empty. Blank lines are skipped.
 */
export function parseCsvTable(text: string): CsvTable {
  const records = parseCsv(text).filter((record) => !(record.fields.length === 1 && record.fields[0] === ''));
  if (records.length === 0) throw new CsvParseError('The file has no header row', 1, 1);
  const [headerRecord, ...dataRecords] = records;
  const header = headerRecord.fields.map((name) => name.trim());
  header.forEach((name, position) => {
    if (name === '')
      throw new CsvParseError(`Header column ${position + 1} has no name`, headerRecord.line, 1);
    if (header.indexOf(name) !== position) {
      throw new CsvParseError(`Header column "${name}" appears twice`, headerRecord.line, 1);
    }
  });
  const rows = dataRecords.map((record) => {
    if (record.fields.length !== header.length) {
      throw new CsvParseError(
        `Expected ${header.length} fields as in the header, found ${record.fields.length}`,
        record.line,
        1,
      );
    }
    const values: Record<string, string> = {};
    header.forEach((name, position) => {
      values[name] = record.fields[position];
    });
    return { line: record.line, values };
  });
  return { header, rows };
}
