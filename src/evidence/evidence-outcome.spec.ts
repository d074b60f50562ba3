import {
  bandKeys,
  AGATSTON_BANDS,
  AGE_BANDS,
  BMI_BANDS,
  normaliseDefinition,
  SEXES,
  STATUSES,
  VESSELS,
} from './cohort';
import { AGAINST_AUDIT_LIMIT, EarlierRelease, EvidenceOutcome } from './evidence-result';
import {
  auditedEvidenceOutcome,
  computeEvidenceOutcome,
  EvidenceOutcomeRequest,
} from './evidence-outcome.task';
import { AuditCoverage, ProductRecords } from './release-records';

/** Deterministic generator (Park–Miller). */
function lcg(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48_271) % 2_147_483_647) / 2_147_483_647;
}

/*
 * The audit's work limit (AuditBudget in release-audit.ts) as a researcher meets it: past the limit the audit fails
 * closed — the cohort refused, or the tables it had not decided withheld — named `audit-limit`, never as a
 * differencing finding; the same limit gives the same outcome every time (a re-run reproduces it).
 */
describe('evidence outcome under the audit work limit', () => {
  const random = lcg(20_261_128);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
  const sites = ['S1', 'S2', 'S3', 'S4'];
  const months = ['2026-01', '2026-02', '2026-03'];
  const highWaterMark = '2026-08-01T00:00:00.000000Z';
  // Four attributes vary. With all nine drawn at random, nearly every one of 250 analyses is an atom of its own and
  // the complete audit (every table together) of the setup below runs for minutes without a work limit.
  const analyses = Array.from({ length: 250 }, (_, i) => ({
    patientId: `p${Math.floor(i / 1.2)}`,
    site: pick(sites),
    modelVersion: 'v1',
    scannerVendor: 'Canon',
    ageBand: pick(bandKeys(AGE_BANDS)),
    sex: pick(['F', 'M']),
    bmiBand: '25-29.9',
    agatstonBand: '1-99',
    status: 'completed',
    month: pick(months),
    receivedAt: '2026-07-01T00:00:00.000000Z',
    vesselNames: ['LAD'],
  }));
  const vessels = analyses.map((_, analysis) => ({ analysis, vessel: 'LAD', ctFfr: 0.6 + random() * 0.4 }));
  const invasiveFfr = Float64Array.from(vessels, (vessel) => (random() < 0.5 ? vessel.ctFfr : Number.NaN));
  const records: ProductRecords = {
    analyses,
    vessels,
    invasiveFfrAt: new Map([[highWaterMark, invasiveFfr]]),
  };
  const universe = {
    sex: [...SEXES],
    ageBand: bandKeys(AGE_BANDS),
    bmiBand: bandKeys(BMI_BANDS),
    agatstonBand: bandKeys(AGATSTON_BANDS),
    scannerVendor: ['Canon', 'GE'],
    modelVersion: ['v1', 'v2'],
    site: sites,
    status: [...STATUSES],
    month: months,
    vessel: [...VESSELS],
  };

  const request = (
    input: Parameters<typeof normaliseDefinition>[0],
    earlier: EarlierRelease[],
    auditOperationLimit: number | null,
    auditCoverage: AuditCoverage = 'complete-bases',
  ): EvidenceOutcomeRequest => {
    const definition = normaliseDefinition(input);
    const inCohort = analyses.map(
      (analysis) => !definition.sites || definition.sites.includes(analysis.site),
    );
    const cohortAnalyses = analyses.filter((_, i) => inCohort[i]);
    return {
      definition,
      highWaterMark,
      analyses: cohortAnalyses,
      vessels: vessels.flatMap((vessel, v) =>
        inCohort[vessel.analysis]
          ? [
              {
                analysis: analyses[vessel.analysis],
                vessel: vessel.vessel,
                ctFfr: vessel.ctFfr,
                invasiveFfr: Number.isNaN(invasiveFfr[v]) ? null : invasiveFfr[v],
              },
            ]
          : [],
      ),
      universe,
      threshold: 0.8,
      k: 11,
      earlier,
      records,
      auditOperationLimit,
      auditCoverage,
    };
  };

  // Three earlier releases over overlapping sites give the audit something to do.
  const earlier: EarlierRelease[] = [];
  for (const [i, chosen] of [
    ['S1', 'S2'],
    ['S2', 'S3'],
    ['S1', 'S2', 'S3', 'S4'],
  ].entries()) {
    const outcome = computeEvidenceOutcome(request({ productId: 'p', sites: chosen }, earlier, null));
    if (outcome.status !== 'released') throw new Error(`setup release ${i} was refused`);
    earlier.push({
      id: `q${i}`,
      definition: normaliseDefinition({ productId: 'p', sites: chosen }),
      highWaterMark,
      result: outcome.result,
    });
  }
  const next = { productId: 'p', sites: ['S1', 'S3', 'S4'], stratifyBy: 'sex' as const };
  const released = (outcome: EvidenceOutcome) => {
    if (outcome.status !== 'released') throw new Error(`refused: ${outcome.refusal.reason}`);
    return outcome.result;
  };

  it('refuses the cohort as audit-limit when the limit runs out before its counts are decided', () => {
    const outcome = computeEvidenceOutcome(request(next, earlier, 1));
    expect(outcome).toMatchObject({
      status: 'refused',
      refusal: { reason: 'audit-limit', against: AGAINST_AUDIT_LIMIT },
    });
  });

  const audited = (limit: number) => auditedEvidenceOutcome(request(next, earlier, limit));

  it('withholds, as audit-limit, the tables it had not decided when the limit ran out, and releases the rest', () => {
    const unlimited = audited(Infinity);
    const whole = released(unlimited.outcome);
    expect(computeEvidenceOutcome(request(next, earlier, null))).toEqual(unlimited.outcome);
    // One operation short: the limit is passed in the last check, a table's (the cohort's comes first).
    const limited = released(audited(unlimited.operations - 1).outcome);
    const cutOff = new Set(
      Object.entries(limited.distributions)
        .filter(([, table]) => table.withheld === 'audit-limit')
        .map(([name]) => name),
    );
    if (limited.accuracy.counts.withheld === 'audit-limit') cutOff.add('accuracy');
    expect(cutOff.size).toBeGreaterThan(0);
    for (const name of cutOff) {
      const table = name === 'accuracy' ? limited.accuracy.counts : limited.distributions[name];
      expect(table.totals).toBeNull();
      expect(table.rows.every((row) => row.values === null && row.suppressed === 'audit-limit')).toBe(true);
      expect(limited.disclosure.differencing).toContainEqual({ table: name, against: AGAINST_AUDIT_LIMIT });
    }
    // What was decided before the limit is what the unlimited audit released; the limit is never reported as a
    // finding of differencing.
    expect(limited.cohort).toEqual(whole.cohort);
    for (const [name, table] of Object.entries(limited.distributions))
      if (!cutOff.has(name)) expect({ name, table }).toEqual({ name, table: whole.distributions[name] });
    const findings = (result: typeof whole) =>
      result.disclosure.differencing.filter((entry) => !cutOff.has(entry.table));
    expect(findings(limited)).toEqual(findings(whole));
    // Counted, not timed: the same limit gives the same outcome again.
    expect(audited(unlimited.operations - 1).outcome).toEqual({ status: 'released', result: limited });
  });

  it('decides alike under complete and complete-bases coverage, but spends different work: a re-run needs the one stored', () => {
    const under = (coverage: AuditCoverage, limit: number) =>
      auditedEvidenceOutcome(request(next, earlier, limit, coverage));
    const complete = under('complete', Infinity);
    const bases = under('complete-bases', Infinity);
    // The certificate is a proof: every check decided without it is decided alike.
    expect(bases.outcome).toEqual(complete.outcome);
    expect(bases.operations).not.toBe(complete.operations);
    // At a limit between the two, the query comes out otherwise, so each stored query re-runs under its own coverage.
    const [cheaper, dearer]: AuditCoverage[] =
      bases.operations < complete.operations
        ? ['complete-bases', 'complete']
        : ['complete', 'complete-bases'];
    const limit = Math.min(bases.operations, complete.operations);
    expect(under(cheaper, limit).outcome).toEqual(complete.outcome);
    expect(under(dearer, limit).outcome).not.toEqual(complete.outcome);
  });
});
