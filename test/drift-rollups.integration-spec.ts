import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { seedDriftData } from '../scripts/drift-seed';
import { runAsSystem } from '../src/database/tenant-context';
import { DriftEvaluationService } from '../src/drift/drift-evaluation.service';
import type { ReferenceSummary } from '../src/drift/drift-evaluator';
import { dailyCtFfrCells, windowCells, type CellAggregates, type Edges } from '../src/drift/drift-queries';
import {
  rolledUpDailyCtFfrCells,
  rolledUpLabelledStream,
  rolledUpWindowCells,
} from '../src/drift/drift-rollups';
import { ReferenceWindowsService } from '../src/drift/reference-windows.service';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { isolatedEnvironment, TEST_DATABASE_URL } from './helpers/test-environment';

/*
 * Drift day roll-ups (issue 4 §6; src/drift/drift-rollups.ts) against real PostgreSQL: a window summed from
 * drift_daily_cells plus its live partial days must equal the same window binned at once from the base tables —
 * after the first build, after analyses are added, corrected and deleted (the triggers' marks), per model version,
 * for the location chart's daily CT-FFR counts — and a replaced reference's roll-up is dropped. The labelled stream
 * read from drift_labelled_days equals it read from performance_linked_vessels one row per vessel, also after a
 * label changes.
 */
const DAY = 86_400_000;

/** Cells in a canonical order, counts only (the comparison is exact). */
const canonical = (cells: readonly CellAggregates[]) =>
  [...cells]
    .map((c) => ({
      ...c,
      sex: Object.fromEntries(Object.entries(c.sex).filter(([, n]) => n > 0)),
    }))
    .sort((a, b) =>
      `${a.siteId}|${a.scannerVendor}|${a.modelVersion}`.localeCompare(
        `${b.siteId}|${b.scannerVendor}|${b.modelVersion}`,
      ),
    );

describe('drift day roll-ups equal the window binned at once', () => {
  const environment = { ...isolatedEnvironment('drift-rollups'), FW_PROCESS_ROLE: 'api' };
  const run = randomUUID().slice(0, 6);
  let app: INestApplication;
  let database: Client;
  let fleet: RegisteredFleet;
  let dataSource: DataSource;
  const now = new Date(Date.UTC(2026, 10, 20, 15, 37, 12));
  let apiKeyId = '';
  const principal = () => ({ apiKeyId, role: 'quality' as const, manufacturerId: fleet.manufacturerId });
  let referenceId = '';
  let edges: Edges = {};
  let threshold = '';

  const edgesOf = (summary: ReferenceSummary): Edges =>
    Object.fromEntries(Object.entries(summary.numeric).map(([f, r]) => [f, r?.edges]));

  const compare = async (from: Date, to: Date, modelVersion?: string) => {
    const filter = {
      manufacturerId: fleet.manufacturerId,
      productId: fleet.productId,
      from,
      to,
      modelVersion,
    };
    const [live, rolled] = await runAsSystem(() =>
      Promise.all([
        windowCells(dataSource, filter, edges, threshold),
        rolledUpWindowCells(dataSource, { id: referenceId, edges }, filter, threshold),
      ]),
    );
    expect(live.length).toBeGreaterThan(0);
    expect(canonical(rolled)).toEqual(canonical(live));
    const dayFrom = new Date(Math.floor(from.getTime() / DAY) * DAY);
    const dayFilter = { ...filter, from: dayFrom };
    const [liveDays, rolledDays] = await runAsSystem(() =>
      Promise.all([
        dailyCtFfrCells(dataSource, dayFilter, edges.ctFfr as number[]),
        rolledUpDailyCtFfrCells(dataSource, { id: referenceId, edges }, dayFilter),
      ]),
    );
    expect(liveDays.length).toBeGreaterThan(0);
    expect(rolledDays).toEqual(liveDays);
    return live;
  };

  const compareStream = async (from: Date) => {
    const rowWise = await database.query<{
      day: string;
      site_code: string;
      scanner_vendor: string;
      model_version: string;
      residual: number;
      discordant: boolean;
    }>(
      `SELECT to_char(l.day, 'YYYY-MM-DD') AS day, s.site_code, l.scanner_vendor, l.model_version,
              (l.ct_ffr - l.invasive_ffr) AS residual,
              ((l.ct_ffr <= $4::float8) <> (l.invasive_ffr <= $4::float8)) AS discordant
         FROM performance_linked_vessels l JOIN sites s ON s.id = l.site_id
        WHERE l.product_id = $1 AND l.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
          AND l.day < ($3::timestamptz AT TIME ZONE 'UTC')::date + 1
        ORDER BY l.day, l.analysis_event_id, l.vessel_index`,
      [fleet.productId, from.toISOString(), now.toISOString(), threshold],
    );
    expect(rowWise.rows.length).toBeGreaterThan(500);
    const stream = await runAsSystem(() =>
      rolledUpLabelledStream(dataSource, fleet.productId, from, now, threshold),
    );
    expect(stream).toEqual(
      rowWise.rows.map((r) => ({
        day: r.day,
        siteCode: r.site_code,
        scannerVendor: r.scanner_vendor,
        modelVersion: r.model_version,
        residual: r.residual,
        discordant: r.discordant,
      })),
    );
    expect(stream.some((v) => v.discordant)).toBe(true);
  };

  const evaluate = () =>
    runAsSystem(() =>
      app.get(DriftEvaluationService).evaluateProduct(fleet.productId, now, { trigger: 'on_demand' }),
    );

  beforeAll(async () => {
    app = await startApp(environment);
    dataSource = app.get(DataSource);
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    fleet = await registerFleet(
      app,
      `Rollup-${run}`,
      [0, 1, 2].map((i) => ({ siteId: `RU${i}-${run}`, devices: [`RUD${i}-${run}`], dataSources: [] })),
    );
    apiKeyId = (await database.query<{ id: string }>(`SELECT id::text AS id FROM api_keys LIMIT 1`)).rows[0]
      .id;
    const devices = await database.query<{ id: string; site_id: string }>(
      `SELECT id::text AS id, site_id::text AS site_id FROM devices WHERE product_id = $1 ORDER BY device_code`,
      [fleet.productId],
    );
    const sites = devices.rows.map((d, i) => ({
      siteId: d.site_id,
      deviceId: d.id,
      scannerVendor: i ? 'GE' : 'Canon',
    }));
    const seed = { manufacturerId: fleet.manufacturerId, productId: fleet.productId, sites, seed: 11 };
    // Two model versions one after the other (the seed writes the vessels of every analysis in its span).
    await seedDriftData(database, {
      ...seed,
      modelVersion: 'ffrnet-2025.1',
      from: new Date(now.getTime() - 90 * DAY),
      to: new Date(now.getTime() - 20 * DAY),
      analyses: 3_500,
      offsetBase: 2_100_000_000,
    });
    await seedDriftData(database, {
      ...seed,
      modelVersion: 'ffrnet-2026.1',
      from: new Date(now.getTime() - 20 * DAY),
      to: new Date(now.getTime() + 2 * DAY),
      analyses: 1_500,
      offsetBase: 2_110_000_000,
    });
    const references = app.get(ReferenceWindowsService);
    const product = await runAsSystem(() => references.productRef(fleet.productId));
    threshold = product.threshold;
    const reference = await runAsSystem(() =>
      references.createPeriod(principal(), product, {
        label: 'first 30 days',
        from: new Date(now.getTime() - 90 * DAY).toISOString(),
        to: new Date(now.getTime() - 60 * DAY).toISOString(),
      }),
    );
    referenceId = reference.id;
    edges = edgesOf(reference.summary);
  });

  afterAll(async () => {
    await database?.end();
    await app?.close();
  });

  it('builds on the first evaluation and then equals the live window, whole and per model version', async () => {
    await evaluate();
    const state = await database.query(`SELECT threshold FROM drift_rollup_state WHERE reference_id = $1`, [
      referenceId,
    ]);
    expect(state.rowCount).toBe(1);
    const marks = await database.query(`SELECT 1 FROM drift_rollup_dirty WHERE product_id = $1`, [
      fleet.productId,
    ]);
    expect(marks.rowCount).toBe(0);
    // Partial days at both ends (15:37 UTC), whole days between; analyses after `now` exist and must not count.
    const live = await compare(new Date(now.getTime() - 30 * DAY), now);
    expect(live.reduce((n, c) => n + c.analyses, 0)).toBeGreaterThan(1_000);
    await compare(new Date(now.getTime() - 30 * DAY), now, 'ffrnet-2026.1');
    await compare(new Date(now.getTime() - 89.5 * DAY), new Date(now.getTime() - 10.25 * DAY));
    // A window inside one day: live only.
    await compare(new Date(now.getTime() - 3 * 3_600_000), now);
  });

  it('reads the labelled stream from labelled days exactly as one row per vessel, in the same order', async () => {
    await compareStream(new Date(now.getTime() - 80 * DAY));
  });

  it('follows added, corrected and deleted analyses through the trigger marks', async () => {
    const day = new Date(now.getTime() - 5 * DAY);
    await database.query(
      `UPDATE analyses SET heart_rate_bpm = heart_rate_bpm + 30
        WHERE product_id = $1 AND occurred_at >= $2 AND occurred_at < $3`,
      [fleet.productId, day.toISOString(), new Date(day.getTime() + DAY).toISOString()],
    );
    const deleted = await database.query(
      `WITH gone AS (
         SELECT event_id, occurred_at FROM analyses
          WHERE product_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND status <> 'completed' LIMIT 5)
       DELETE FROM analyses a USING gone WHERE a.event_id = gone.event_id AND a.occurred_at = gone.occurred_at`,
      [
        fleet.productId,
        new Date(now.getTime() - 12 * DAY).toISOString(),
        new Date(now.getTime() - 11 * DAY).toISOString(),
      ],
    );
    expect(deleted.rowCount).toBeGreaterThan(0);
    // New analyses (with their vessels) an hour after those of day −39, from a new scanner vendor.
    await database.query(
      `CREATE TEMP TABLE rollup_copies AS
         SELECT event_id AS old_id, gen_random_uuid() AS new_id, occurred_at + interval '1 hour' AS new_time
           FROM analyses WHERE product_id = $1 AND occurred_at >= $2 AND occurred_at < $3`,
      [
        fleet.productId,
        new Date(now.getTime() - 39 * DAY).toISOString(),
        new Date(now.getTime() - 38 * DAY).toISOString(),
      ],
    );
    await database.query(
      `INSERT INTO analyses
       SELECT (jsonb_populate_record(null::analyses, to_jsonb(a) || jsonb_build_object(
                 'event_id', c.new_id, 'occurred_at', c.new_time, 'kafka_offset', a.kafka_offset + 50000000,
                 'scanner_vendor', 'Philips'))).*
         FROM analyses a JOIN rollup_copies c ON c.old_id = a.event_id`,
    );
    await database.query(
      `INSERT INTO analysis_vessels
       SELECT (jsonb_populate_record(null::analysis_vessels, to_jsonb(v) || jsonb_build_object(
                 'analysis_event_id', c.new_id, 'analysis_occurred_at', c.new_time))).*
         FROM analysis_vessels v JOIN rollup_copies c ON c.old_id = v.analysis_event_id`,
    );
    await database.query(`DROP TABLE rollup_copies`);
    // A label replaced and a linked pair gone (as the performance roll-up worker rewrites a day).
    await database.query(
      `UPDATE performance_linked_vessels SET invasive_ffr = invasive_ffr + 0.05
        WHERE product_id = $1 AND day = ($2::timestamptz AT TIME ZONE 'UTC')::date`,
      [fleet.productId, new Date(now.getTime() - 7 * DAY).toISOString()],
    );
    await database.query(
      `DELETE FROM performance_linked_vessels
        WHERE product_id = $1 AND day = ($2::timestamptz AT TIME ZONE 'UTC')::date AND vessel_index = 0`,
      [fleet.productId, new Date(now.getTime() - 9 * DAY).toISOString()],
    );
    const marked = await database.query<{ days: number }>(
      `SELECT count(DISTINCT day)::int AS days FROM drift_rollup_dirty WHERE product_id = $1`,
      [fleet.productId],
    );
    expect(marked.rows[0].days).toBeGreaterThanOrEqual(4);
    const before = await compare(new Date(now.getTime() - 30 * DAY), now).catch((error: unknown) => error);
    // Before a refresh the roll-up is behind (the live window moved): the evaluation refreshes it.
    expect(before).toBeInstanceOf(Error);
    await evaluate();
    expect(
      (await database.query(`SELECT 1 FROM drift_rollup_dirty WHERE product_id = $1`, [fleet.productId]))
        .rowCount,
    ).toBe(0);
    await compare(new Date(now.getTime() - 60 * DAY), now);
    await compare(new Date(now.getTime() - 60 * DAY), now, 'ffrnet-2025.1');
    await compareStream(new Date(now.getTime() - 80 * DAY));
  });

  it('drops the roll-up of a replaced reference and builds the new one', async () => {
    const references = app.get(ReferenceWindowsService);
    const product = await runAsSystem(() => references.productRef(fleet.productId));
    const replacement = await runAsSystem(() =>
      references.createPeriod(principal(), product, {
        label: 'first 45 days',
        from: new Date(now.getTime() - 90 * DAY).toISOString(),
        to: new Date(now.getTime() - 45 * DAY).toISOString(),
      }),
    );
    await evaluate();
    const kept = await database.query<{ reference_id: string; n: number }>(
      `SELECT reference_id::text AS reference_id, count(*)::int AS n FROM drift_daily_cells
        WHERE product_id = $1 GROUP BY 1`,
      [fleet.productId],
    );
    expect(kept.rows.map((r) => r.reference_id)).toEqual([replacement.id]);
    referenceId = replacement.id;
    edges = edgesOf(replacement.summary);
    await compare(new Date(now.getTime() - 30 * DAY), now);
  });
});
