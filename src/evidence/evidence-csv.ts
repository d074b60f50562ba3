import { stringify } from 'csv-stringify/sync';
import { EvidenceQueryView } from './evidence.service';
import { StratumAccuracy } from './evidence-result';

const PROPORTIONS = ['sensitivity', 'specificity', 'ppv', 'npv', 'accuracy'] as const;

/**
 * A stored evidence query as one long CSV (one figure per line), for spreadsheets and R: the provenance lines first
 * (id, high-water mark, k, sha256 of the JSON result), then cohort counts, distributions, and accuracy. A suppressed
 * figure has an empty value and the reason in `suppressed`; nothing else leaves than what the JSON holds.
 */
export function evidenceCsv(query: EvidenceQueryView): string {
  const header = [
    'section',
    'table',
    'row',
    'column',
    'value',
    'n',
    'ci95_low',
    'ci95_high',
    'ci_method',
    'suppressed',
  ];
  const lines: Array<Array<string | number | null>> = [
    ['query', 'id', '', '', query.id, null, null, null, null, null],
    ['query', 'status', '', '', query.status, null, null, null, null, null],
    ['query', 'highWaterMark', '', '', query.highWaterMark, null, null, null, null, null],
    ['query', 'minCell', '', '', query.minCell, null, null, null, null, null],
    ['query', 'auditOperationLimit', '', '', query.auditOperationLimit, null, null, null, null, null],
    ['query', 'auditCoverage', '', '', query.auditCoverage, null, null, null, null, null],
    ['query', 'definition', '', '', JSON.stringify(query.definition), null, null, null, null, null],
    ['query', 'resultSha256', '', '', query.resultSha256, null, null, null, null, null],
  ];
  if (query.refusal)
    lines.push([
      'query',
      'refusal',
      query.refusal.reason,
      '',
      query.refusal.message,
      null,
      null,
      null,
      null,
      null,
    ]);
  const result = query.result;
  if (result) {
    for (const [key, value] of Object.entries(result.cohort)) {
      lines.push(['cohort', key, '', '', value, null, null, null, null, null]);
    }
    const tables = { ...result.distributions, accuracyCounts: result.accuracy.counts };
    for (const [name, table] of Object.entries(tables)) {
      const section = name === 'accuracyCounts' ? 'accuracy' : 'distribution';
      for (const row of table.rows) {
        table.columns.forEach((column, c) =>
          lines.push([
            section,
            name,
            row.key,
            column,
            row.values ? row.values[c] : null,
            null,
            null,
            null,
            null,
            row.suppressed,
          ]),
        );
      }
      table.columns.forEach((column, c) =>
        lines.push([
          section,
          name,
          'total',
          column,
          table.totals ? table.totals[c] : null,
          null,
          null,
          null,
          null,
          table.withheld,
        ]),
      );
    }
    const strata: StratumAccuracy[] = [
      ...(result.accuracy.overall ? [result.accuracy.overall] : []),
      ...result.accuracy.strata,
    ];
    for (const stratum of strata) {
      for (const metric of PROPORTIONS) {
        const figure = stratum[metric];
        if (figure.estimate === null) {
          lines.push([
            'accuracy',
            metric,
            stratum.key,
            'estimate',
            null,
            figure.n,
            null,
            null,
            null,
            'insufficient_data',
          ]);
          continue;
        }
        for (const [method, interval] of Object.entries(figure.ci95)) {
          lines.push([
            'accuracy',
            metric,
            stratum.key,
            'estimate',
            figure.estimate,
            figure.n,
            interval ? interval[0] : null,
            interval ? interval[1] : null,
            method,
            null,
          ]);
        }
      }
      const auc = stratum.auc;
      if (auc.estimate !== null) {
        for (const [method, interval] of Object.entries(auc.ci95)) {
          lines.push([
            'accuracy',
            'auc',
            stratum.key,
            'estimate',
            auc.estimate,
            auc.n,
            interval?.[0] ?? null,
            interval?.[1] ?? null,
            method,
            null,
          ]);
        }
      }
    }
  }
  return stringify([header, ...lines]);
}
