import { LinkedVessel } from '../stats/proportions';
import { chartsBlock, pairCellsOf, performanceCharts } from './performance-charts';
import { performanceFigures } from './performance-report';

/** 100 patients, 2 vessels each, on the 0.01 grid: CT-FFR tracks FFR with a patient-specific offset. */
function vessels(): LinkedVessel[] {
  const list: LinkedVessel[] = [];
  for (let p = 0; p < 100; p++) {
    for (let v = 0; v < 2; v++) {
      const invasiveFfr = Math.round((0.62 + ((p * 7 + v * 13) % 33) / 100) * 100) / 100;
      const ctFfr = Math.round((invasiveFfr + (((p + v) % 7) - 3) / 100) * 100) / 100;
      list.push({ patientId: `P${p}`, ctFfr, invasiveFfr });
    }
  }
  return list;
}

describe('performance charts', () => {
  it('pairCellsOf counts each (CT-FFR, FFR) pair once per vessel', () => {
    const cells = pairCellsOf([
      { patientId: 'a', ctFfr: 0.8, invasiveFfr: 0.75 },
      { patientId: 'b', ctFfr: 0.8, invasiveFfr: 0.75 },
      { patientId: 'b', ctFfr: 0.9, invasiveFfr: 0.75 },
    ]);
    expect(cells).toEqual([
      { ctFfr: 0.8, invasiveFfr: 0.75, vessels: 2 },
      { ctFfr: 0.9, invasiveFfr: 0.75, vessels: 1 },
    ]);
  });

  it('draws the curve whose area is the AUC of the same vessels, and a density that accounts for every pair', () => {
    const linked = vessels();
    const charts = performanceCharts(pairCellsOf(linked), 0.8, 11);
    const figures = performanceFigures(linked, 0.8);
    if (!('area' in charts.rocCurve) || figures.auc.estimate === null) throw new Error('estimable');
    expect(Math.abs(charts.rocCurve.area - figures.auc.estimate)).toBeLessThanOrEqual(1e-12);
    expect(charts.rocCurve.diseasedVessels + charts.rocCurve.nonDiseasedVessels).toBe(200);
    const density = charts.blandAltmanDensity;
    const placed = density.bins.reduce((sum, bin) => sum + bin.vessels, 0);
    expect(placed + density.withheldVessels).toBe(200);
    expect(density.bins.length).toBeGreaterThan(0);
    expect(density.bins.every((bin) => bin.vessels >= 11)).toBe(true);
  });

  it('withholds the curve under the AUC minimum, as the AUC itself', () => {
    const charts = performanceCharts(
      pairCellsOf([
        { patientId: 'a', ctFfr: 0.7, invasiveFfr: 0.7 },
        { patientId: 'b', ctFfr: 0.9, invasiveFfr: 0.9 },
      ]),
      0.8,
      11,
    );
    expect(charts.rocCurve).toMatchObject({ estimate: null, reason: 'insufficient_data', n: 2 });
    // Two pairs: both in bins under k, so nothing is placed.
    expect(charts.blandAltmanDensity).toMatchObject({ vessels: 2, bins: [], withheldVessels: 2 });
  });

  it('gives the groups in the order and with the keys it is given; no groups without groupBy', () => {
    const cells = pairCellsOf(vessels());
    const block = chartsBlock(
      { pairCells: cells },
      [
        { key: 'site-B', pairCells: cells },
        { key: 'site-A', pairCells: [] },
      ],
      0.8,
      11,
    );
    expect(block.groups?.map((group) => group.key)).toEqual(['site-B', 'site-A']);
    expect(block.groups?.[1].rocCurve).toMatchObject({ estimate: null, n: 0 });
    expect(chartsBlock({ pairCells: cells }, null, 0.8, 11).groups).toBeUndefined();
  });
});
