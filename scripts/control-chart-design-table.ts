/**
 * Prints the control-chart design tables of src/stats/control-charts.ts (issue 4 §3) as Markdown, and how far they are
 * from R spc 0.6.7 (fixtures/control-charts-oracle-r.json, produced by
 * `Rscript src/stats/fixtures/oracle/control-charts-oracle.R src/stats/fixtures`).
 *
 *   node -r ts-node/register/transpile-only scripts/control-chart-design-table.ts
 *
 * Units: ARL in observations (labelled vessels for residual charts), shifts δ in in-control SDs; CUSUM h and k in SDs;
 * EWMA L in SDs of the EWMA's asymptotic distribution. Two-sided CUSUM ARL by the Lucas–Crosier combination of the two
 * one-sided ARLs (spc's `sided = "two"`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bernoulliCusumArl,
  bernoulliCusumDesign,
  cusumArl,
  cusumDesign,
  ewmaArl,
  ewmaDesign,
} from '../src/stats/control-charts';

const SHIFTS = [0.25, 0.375, 0.5, 0.75, 1, 2];
const ARL0S = [370, 500, 1000];

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function cusumTable(sided: 'two' | 'upper'): string[] {
  const lines = [
    `### CUSUM, ${sided === 'two' ? 'two-sided' : 'one-sided (upper)'}: h for a target ARL0, ARL1 at shift δ`,
    '',
    `| ARL0 | k | h | ${SHIFTS.map((d) => `δ=${d}`).join(' | ')} |`,
    `|---|---|---|${SHIFTS.map(() => '---').join('|')}|`,
  ];
  for (const arl0 of ARL0S) {
    for (const k of [0.125, 0.1875, 0.25, 0.5, 0.75, 1]) {
      const design = cusumDesign({ k, arl0, sided });
      lines.push(
        `| ${arl0} | ${k} | ${design.h.toFixed(3)} | ${SHIFTS.map((d) => fmt(cusumArl(design, d))).join(' | ')} |`,
      );
    }
  }
  return lines;
}

function ewmaTable(): string[] {
  const lines = [
    '### EWMA, two-sided, asymptotic limits: L for a target ARL0, ARL1 at shift δ',
    '',
    `| ARL0 | λ | L | ${SHIFTS.map((d) => `δ=${d}`).join(' | ')} |`,
    `|---|---|---|${SHIFTS.map(() => '---').join('|')}|`,
  ];
  for (const arl0 of ARL0S) {
    for (const lambda of [0.05, 0.1, 0.2, 0.25, 0.4]) {
      const design = ewmaDesign({ lambda, arl0 });
      lines.push(
        `| ${arl0} | ${lambda} | ${design.L.toFixed(3)} | ${SHIFTS.map((d) => fmt(ewmaArl(design, d))).join(' | ')} |`,
      );
    }
  }
  return lines;
}

function bernoulliTable(): string[] {
  const lines = [
    '### Bernoulli CUSUM (integer lattice, resolution 20): smallest limit with ARL0 ≥ target',
    '',
    '| p0 → p1 | target ARL0 | lattice steps (event / non-event) | H | h | achieved ARL0 | ARL1 at p1 | ARL1 at (p0+p1)/2 |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [p0, p1] of [
    [0.15, 0.25],
    [0.02, 0.04],
  ] as const) {
    for (const arl0 of ARL0S) {
      const d = bernoulliCusumDesign({ p0, p1, arl0 });
      lines.push(
        `| ${p0} → ${p1} | ${arl0} | ${d.stepEvent} / ${d.stepNonEvent} | ${d.limit} | ${d.h.toFixed(4)} | ` +
          `${d.arl0.toFixed(1)} | ${fmt(bernoulliCusumArl(d, p1))} | ${fmt(bernoulliCusumArl(d, (p0 + p1) / 2))} |`,
      );
    }
  }
  return lines;
}

interface Oracle {
  shifts: number[];
  cusumDesign: { sided: 'one' | 'two'; arl0: number; k: number; h: number; arl1: number[] }[];
  ewmaDesign: { arl0: number; lambda: number; L: number; arl1: number[] }[];
  cusumArl: { sided: 'one' | 'two'; k: number; h: number; mu: number; hs: number; arl: number }[];
  ewmaArl: { lambda: number; L: number; mu: number; arl: number }[];
}

function oracleComparison(): string[] {
  const oracle = JSON.parse(
    readFileSync(join(__dirname, '..', 'src', 'stats', 'fixtures', 'control-charts-oracle-r.json'), 'utf8'),
  ) as Oracle;
  let maxH = 0;
  let maxL = 0;
  let maxArl = 0;
  let maxArlRealistic = 0;
  for (const e of oracle.cusumDesign) {
    const d = cusumDesign({ k: e.k, arl0: e.arl0, sided: e.sided === 'one' ? 'upper' : 'two' });
    maxH = Math.max(maxH, Math.abs(d.h - e.h));
    e.arl1.forEach((v, i) => (maxArl = Math.max(maxArl, Math.abs(cusumArl(d, oracle.shifts[i]) / v - 1))));
  }
  for (const e of oracle.ewmaDesign) {
    const d = ewmaDesign({ lambda: e.lambda, arl0: e.arl0 });
    maxL = Math.max(maxL, Math.abs(d.L - e.L));
    e.arl1.forEach((v, i) => (maxArl = Math.max(maxArl, Math.abs(ewmaArl(d, oracle.shifts[i]) / v - 1))));
  }
  for (const e of oracle.cusumArl) {
    const rel = Math.abs(
      cusumArl({ k: e.k, h: e.h, sided: e.sided === 'one' ? 'upper' : 'two', headStart: e.hs }, e.mu) /
        e.arl -
        1,
    );
    if (e.arl < 1e5) maxArlRealistic = Math.max(maxArlRealistic, rel);
  }
  for (const e of oracle.ewmaArl) {
    maxArlRealistic = Math.max(
      maxArlRealistic,
      Math.abs(ewmaArl({ lambda: e.lambda, L: e.L }, e.mu) / e.arl - 1),
    );
  }
  return [
    '### Agreement with R spc 0.6.7',
    '',
    `- max |h − xcusum.crit| = ${maxH.toExponential(2)}; max |L − xewma.crit| = ${maxL.toExponential(2)}`,
    `- ARL1 of the designs, max relative difference = ${maxArl.toExponential(2)}`,
    `- ARL grids (xcusum.arl, xewma.arl; ARL < 1e5), max relative difference = ${maxArlRealistic.toExponential(2)}`,
  ];
}

const out = [
  ...cusumTable('two'),
  '',
  ...cusumTable('upper'),
  '',
  ...ewmaTable(),
  '',
  ...bernoulliTable(),
  '',
  ...oracleComparison(),
];
process.stdout.write(`${out.join('\n')}\n`);
