/**
 * The rank of integer vectors over the rationals, in exact BigInt fraction arithmetic: the disclosure-audit specs'
 * oracle (src/evidence/release-audit.spec.ts, release-records.spec.ts). Independent of the audit it checks, which
 * works over GF(p) on atoms.
 */
interface Fraction {
  n: bigint;
  d: bigint;
}
const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
};
const fraction = (n: bigint, d = 1n): Fraction => {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
};
const sub = (a: Fraction, b: Fraction) => fraction(a.n * b.d - b.n * a.d, a.d * b.d);
const mul = (a: Fraction, b: Fraction) => fraction(a.n * b.n, a.d * b.d);
const div = (a: Fraction, b: Fraction) => fraction(a.n * b.d, a.d * b.n);

export function exactRank(vectors: number[][]): number {
  const rows = vectors.map((vector) => vector.map((value) => fraction(BigInt(value))));
  let rank = 0;
  const width = rows[0]?.length ?? 0;
  for (let column = 0; column < width && rank < rows.length; column++) {
    const pivot = rows.findIndex((row, r) => r >= rank && row[column].n !== 0n);
    if (pivot < 0) continue;
    [rows[rank], rows[pivot]] = [rows[pivot], rows[rank]];
    for (let r = 0; r < rows.length; r++) {
      if (r === rank || rows[r][column].n === 0n) continue;
      const factor = div(rows[r][column], rows[rank][column]);
      rows[r] = rows[r].map((value, c) => sub(value, mul(factor, rows[rank][c])));
    }
    rank++;
  }
  return rank;
}
