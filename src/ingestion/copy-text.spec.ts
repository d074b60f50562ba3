import { copyField, copyLine } from './copy-text';

describe('COPY text encoding', () => {
  it('writes NULL as \\N and escapes the characters the text format reserves', () => {
    expect(copyField(null)).toBe('\\N');
    expect(copyField(undefined)).toBe('\\N');
    expect(copyField('a\tb\nc\\d\re')).toBe('a\\tb\\nc\\\\d\\re');
    expect(copyField('plain')).toBe('plain');
  });

  it('writes booleans, numbers and bytea', () => {
    expect(copyField(true)).toBe('t');
    expect(copyField(false)).toBe('f');
    expect(copyField(0.74)).toBe('0.74');
    expect(copyField(Buffer.from([0xde, 0xad]))).toBe('\\\\xdead');
    expect(() => copyField(Number.NaN)).toThrow('finite');
  });

  it('joins fields with tabs and ends the line', () => {
    expect(copyLine(['x', null, 3])).toBe('x\t\\N\t3\n');
  });
});
