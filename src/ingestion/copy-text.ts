/**
 * PostgreSQL COPY text format (https://www.postgresql.org/docs/15/sql-copy.html, "Text Format"):
 * tab-separated, `\N` for NULL, backslash escapes for backslash, newline, carriage return and tab.
 * Hand-written because it is a dozen lines and sits on the ingestion hot path.
 */
export type CopyValue = string | number | boolean | Buffer | null | undefined;

const NEEDS_ESCAPE = /[\\\n\r\t]/;

function escapeText(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

export function copyField(value: CopyValue): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'string') return escapeText(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('COPY field is not a finite number');
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 't' : 'f';
  // bytea hex format; the backslash itself is escaped for the text format.
  return '\\\\x' + value.toString('hex');
}

export function copyLine(values: readonly CopyValue[]): string {
  let line = '';
  for (let index = 0; index < values.length; index++) {
    if (index > 0) line += '\t';
    line += copyField(values[index]);
  }
  return line + '\n';
}
