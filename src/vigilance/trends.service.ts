import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { evaluateTrends, monthsBetween, type TrendCell, type TrendMethod, trendMethod } from './trends';

export interface TrendProduct {
  id: string;
  manufacturerId: string;
  trend: unknown;
}

export interface TrendSignalView extends TrendCell {
  /** The stored signal's id (null until stored) and when it was first raised. */
  signalId: string | null;
  detectedAt: string | null;
}

export interface TrendReport {
  productId: string;
  method: TrendMethod;
  /** The false-alarm level in words, as the method states it. */
  falseAlarm: string;
  months: string[];
  cells: TrendCell[];
  signals: TrendSignalView[];
}

const ALL = 'all';

/**
 * Trend reporting (MDR Art. 88; src/vigilance/trends.ts holds the method): counts of non-serious detection incidents
 * and analyses per month and group from the database, evaluated with the product's pre-specified method; significant
 * cells are stored once in vigilance_trend_signals (unique per product, month, unit, group).
 */
@Injectable()
export class TrendsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async compute(product: TrendProduct, toMonth: string, fromMonth?: string): Promise<TrendReport> {
    const { method } = trendMethod(product.trend);
    const site = method.groupBy === 'site' ? 's.site_code' : `'${ALL}'`;
    const counts =
      method.unit === 'rule'
        ? await this.dataSource.query<Array<{ month: string; unit: string; grp: string; count: number }>>(
            `SELECT to_char(d.subject_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, d.rule_id AS unit, ${site} AS grp,
                    count(*)::int AS count
               FROM incident_detections d JOIN incidents i ON i.id = d.incident_id
               LEFT JOIN sites s ON s.id = d.site_id
              WHERE d.product_id = $1 AND i.seriousness = 'non_serious' AND d.rule_id = ANY($2::text[])
                AND NOT EXISTS (SELECT 1 FROM incident_detections x
                                 WHERE x.product_id = d.product_id AND x.subject_key = d.subject_key
                                   AND x.rule_id = 'ctffr-false-negative-serious-outcome')
              GROUP BY 1, 2, 3`,
            [product.id, method.rules],
          )
        : await this.dataSource.query<Array<{ month: string; unit: string; grp: string; count: number }>>(
            `SELECT to_char(d.subject_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, c.code AS unit, ${site} AS grp,
                    count(DISTINCT d.id)::int AS count
               FROM incident_detections d JOIN incidents i ON i.id = d.incident_id
               LEFT JOIN sites s ON s.id = d.site_id
               CROSS JOIN LATERAL jsonb_each(CASE WHEN i.imdrf = '{}'::jsonb THEN d.imdrf ELSE i.imdrf END) AS a(annex, codes)
               CROSS JOIN LATERAL jsonb_array_elements_text(a.codes) AS c(code)
              WHERE d.product_id = $1 AND i.seriousness = 'non_serious' AND d.rule_id = ANY($2::text[])
                AND NOT EXISTS (SELECT 1 FROM incident_detections x
                                 WHERE x.product_id = d.product_id AND x.subject_key = d.subject_key
                                   AND x.rule_id = 'ctffr-false-negative-serious-outcome')
              GROUP BY 1, 2, 3`,
            [product.id, method.rules],
          );
    const exposures = await this.dataSource.query<Array<{ month: string; grp: string; analyses: number }>>(
      `SELECT to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, ${site} AS grp, count(*)::int AS analyses
         FROM analyses a JOIN sites s ON s.id = a.site_id
        WHERE a.product_id = $1 GROUP BY 1, 2`,
      [product.id],
    );
    const first = [...exposures.map((e) => e.month), ...counts.map((c) => c.month)].sort()[0];
    const months = first ? monthsBetween(fromMonth && fromMonth > first ? fromMonth : first, toMonth) : [];
    const cells = evaluateTrends(
      method,
      counts.map((c) => ({ month: c.month, unit: c.unit, group: c.grp, count: c.count })),
      exposures.map((e) => ({ month: e.month, group: e.grp, analyses: e.analyses })),
      months,
    );
    const stored = await this.dataSource.query<
      Array<{ id: string; month: string; unit: string; group_key: string; detected_at: string }>
    >(
      `SELECT id::text AS id, to_char(month, 'YYYY-MM') AS month, unit, group_key,
              to_char(detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS detected_at
         FROM vigilance_trend_signals WHERE product_id = $1`,
      [product.id],
    );
    const storedOf = new Map(stored.map((s) => [`${s.month}|${s.unit}|${s.group_key}`, s]));
    return {
      productId: product.id,
      method,
      falseAlarm:
        `At most ${method.alpha} per product and month (family-wise, Bonferroni over the cells tested that month; ` +
        `exact ${method.test} test, one-sided)`,
      months,
      cells,
      signals: cells
        .filter((cell) => cell.signal)
        .map((cell) => {
          const found = storedOf.get(`${cell.month}|${cell.unit}|${cell.group}`);
          return { ...cell, signalId: found?.id ?? null, detectedAt: found?.detected_at ?? null };
        }),
    };
  }

  /** Stores the report's signals not stored yet; returns how many were new. */
  async store(product: TrendProduct, report: TrendReport, now: Date): Promise<number> {
    let created = 0;
    for (const signal of report.signals) {
      if (signal.signalId) continue;
      const inserted = await this.dataSource.query<unknown[]>(
        `INSERT INTO vigilance_trend_signals (manufacturer_id, product_id, month, unit, site_id, group_key, evidence,
                                              detected_at)
         VALUES ($1, $2, ($3 || '-01')::date, $4,
                 (SELECT id FROM sites WHERE manufacturer_id = $1 AND site_code = $5), $5, $6::jsonb, $7::timestamptz)
         ON CONFLICT (product_id, month, unit, group_key) DO NOTHING RETURNING id`,
        [
          product.manufacturerId,
          product.id,
          signal.month,
          signal.unit,
          signal.group,
          JSON.stringify({ ...signal, signalId: undefined, detectedAt: undefined, method: report.method }),
          now.toISOString(),
        ],
      );
      created += inserted.length;
    }
    return created;
  }

  async listStored(productId: string): Promise<Array<Record<string, unknown>>> {
    return this.dataSource.query(
      `SELECT id::text AS id, product_id::text AS "productId", to_char(month, 'YYYY-MM') AS month, unit,
              group_key AS "group", evidence,
              to_char(detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "detectedAt"
         FROM vigilance_trend_signals WHERE product_id = $1 ORDER BY month, unit, group_key`,
      [productId],
    );
  }
}
