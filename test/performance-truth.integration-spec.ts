import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { LINKAGE_RULES } from '../src/outcomes/linkage-rules';
import {
  AccuracyTruthCollector,
  beggGreenesLimit,
  buildSimulation,
  parseSimulatorArgs,
  runSimulator,
  sensitivityOf,
  specificityOf,
  twoByTwo,
  type AnalysedVesselTruth,
  type TwoByTwo,
} from '../src/simulator';
import { ingestionStatsByTopic, startApp } from './helpers/app';
import { pollUntil } from './helpers/poll';
import {
  isolatedEnvironment,
  TEST_ADMIN_TOKEN,
  TEST_DATABASE_URL,
  TEST_KAFKA_BROKERS,
} from './helpers/test-environment';

/**
 * Issue 3, "done when": the simulator's known truth is recovered within the 95% CIs that GET /api/v1/performance
 * reports, and the naive (verified-only) estimate is biased where referral depends on CT-FFR while the Begg–Greenes
 * corrected one is not.
 *
 * Six simulated months of a 10-site fleet (≈ 10,000 patients, ≈ 11,500 analysed vessels, ≈ 27% of them wired) go
 * through the simulator's own registration, real Kafka, ingestion and linkage. The truth is what only the simulator
 * knows (src/simulator/truth.ts): for EVERY analysed vessel, the invasive FFR the site's wire reads or would read — the
 * value it publishes when the vessel is wired, planned for all vessels with the same measurement model. The run is
 * rebuilt from its seed with that truth attached (the output is a pure function of seed and options).
 *
 * What Begg–Greenes can and cannot promise here. The platform applies it per vessel, stratified by the vessel's own
 * CT-FFR result (src/stats/verification-bias.ts `analysedUnitsFromCtFfr`), which is unbiased if verification depends
 * on that result only (MAR given T). The simulator refers the PATIENT by the lowest CT-FFR of the analysis, then wires
 * vessels (engine.ts `planOutcomes`). For the 88% single-vessel patients the two coincide; in multi-vessel patients a
 * test-negative vessel with a test-positive sibling is verified far more often, and is more often diseased (shared
 * anatomy and CT error). So the assumption does not hold exactly, and the per-vessel estimate converges slightly below
 * the true sensitivity. The test computes that limit (`beggGreenesLimit`, from the planned verification
 * probabilities) and asserts the residual bias is small against the reported uncertainty — it is stated, not hidden.
 * Unbiased stratification would need the patient-level result and which vessel is the patient's lowest: a change to
 * src/performance, reported to its owners rather than made here.
 *
 * Other losses of verification — catheterisation after the simulated period, lag beyond the 90-day linkage window —
 * are independent of disease and test result and do not bias the correction; an intervening urgent revascularisation
 * or death before the catheterisation does depend on ischaemia, but is rare within the referral lag.
 */
const SEED = 'performance-truth';
const THRESHOLD = 0.8;
const DAY_MS = 86_400_000;

/** What the platform's linkage (DESIGN.md §4, src/outcomes/linkage-rules.ts) makes of a published measurement. */
function linksToItsAnalysis(vessel: AnalysedVesselTruth, truth: AccuracyTruthCollector): boolean {
  if (!vessel.invasiveMeasurement) return false;
  const analysedAt = Date.parse(vessel.analysedAt);
  const measuredAt = Date.parse(vessel.invasiveMeasurement.measuredAt);
  if (measuredAt < analysedAt || measuredAt - analysedAt > LINKAGE_RULES.defaultWindowDays * DAY_MS)
    return false;
  const measurementDay = Math.floor(measuredAt / DAY_MS) * DAY_MS;
  const intervening: readonly string[] = LINKAGE_RULES.interveningRevascularizationEvents;
  return !truth
    .clinicalEventsOf(vessel.siteId, vessel.patientRef)
    .some(
      (e) =>
        intervening.includes(e.event) &&
        Date.parse(e.occurredAt) > analysedAt &&
        Date.parse(e.occurredAt) < measurementDay,
    );
}

/** Linked measurements of a tenant whose analysis lies in [start, end). */
async function linkedVesselCount(
  database: Client,
  manufacturerId: string,
  start: number,
  end: number,
): Promise<number> {
  const result = await database.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM ffr_links
      WHERE manufacturer_id = $1 AND status = 'linked' AND analysis_occurred_at >= $2 AND analysis_occurred_at < $3`,
    [manufacturerId, new Date(start), new Date(end)],
  );
  return result.rows[0].count;
}

type Interval = [number, number];
const contains = ([low, high]: Interval, value: number): boolean => low <= value && value <= high;
const fixed = (value: number): string => value.toFixed(4);
const range = ([low, high]: Interval): string => `[${fixed(low)}, ${fixed(high)}]`;

describe('GET /api/v1/performance against the simulator’s known truth', () => {
  const environment = isolatedEnvironment('truth');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const stateDirectory = mkdtempSync(join(tmpdir(), 'fw-truth-'));
  let app: INestApplication;
  let apiUrl: string;
  let database: Client;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    app = await startApp(environment);
    await app.listen(0, '127.0.0.1');
    apiUrl = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
    await database?.end();
    rmSync(stateDirectory, { recursive: true, force: true });
  });

  it('recovers the truth within the corrected 95% CIs, while the naive estimate misses it', async () => {
    const options = parseSimulatorArgs(
      [
        '--api-url',
        apiUrl,
        '--brokers',
        TEST_KAFKA_BROKERS,
        '--topic-prefix',
        environment.KAFKA_TOPIC_PREFIX,
        '--state-file',
        join(stateDirectory, 'state.json'),
        '--seed',
        SEED,
        // A fixed period, so the run (and so the truth) does not depend on the day the test runs.
        '--start',
        '2025-01-01',
        '--months',
        '6',
        '--sites',
        '10',
        // Accuracy needs analyses and outcomes only; device events would add traffic and nothing to check.
        '--streams',
        'analyses,outcomes',
        '--as-fast-as-possible',
        '--quiet',
      ],
      { FW_BOOTSTRAP_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      Date.now(),
    );
    const { summary } = (await runSimulator(options, {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stderrIsTty: false,
      stop: new AbortController().signal,
    })) as unknown as {
      summary: {
        topics: Record<string, { messages: number; genuine: number }>;
        counts: { completed: number; vessels: number; invasiveFfr: number };
        registration: { productId: string; manufacturerId: string };
      };
    };

    // The same run again, in memory, with the latent truth attached.
    const simulation = buildSimulation(options, { withTruth: true });
    const truth = AccuracyTruthCollector.collect(simulation.items(), simulation.model.referral);
    const vessels = truth.vessels();
    expect(new Set(vessels.map((v) => v.analysisEventId)).size).toBe(summary.counts.completed);
    expect(
      vessels.filter((v) => v.invasiveMeasurement !== null).length + truth.measurementsWithoutAnalysis(),
    ).toBe(summary.counts.invasiveFfr);
    expect(THRESHOLD).toBe(simulation.model.referral.threshold);

    const population = twoByTwo(
      vessels.map((v) => ({ ctFfr: v.ctFfr, reference: v.referenceFfr })),
      THRESHOLD,
    );
    const truthSensitivity = sensitivityOf(population);
    const truthSpecificity = specificityOf(population);
    const linked = vessels.filter((v) => linksToItsAnalysis(v, truth));
    const linkedTwoByTwo: TwoByTwo = twoByTwo(
      linked.map((v) => ({ ctFfr: v.ctFfr, reference: v.invasiveMeasurement!.value })),
      THRESHOLD,
    );
    const limit = beggGreenesLimit(vessels, THRESHOLD);

    // Wait for ingestion (exact counts), then for the linker to empty its inbox.
    await pollUntil(
      () => ingestionStatsByTopic(app.getHttpServer()),
      (stats) =>
        Object.entries(summary.topics).every(([topic, sent]) => (stats[topic]?.stored ?? 0) >= sent.genuine),
      { timeoutMs: 120_000, intervalMs: 500, what: 'the platform to store every simulated event' },
    );
    const pendingLinkage = async () =>
      (await database.query<{ count: number }>('SELECT count(*)::int AS count FROM linkage_pending')).rows[0]
        .count;
    await pollUntil(pendingLinkage, (count) => count === 0, { what: 'the linkage inbox to empty' });
    const linkedFirstPass = await linkedVesselCount(
      database,
      summary.registration.manufacturerId,
      options.start,
      options.end,
    );
    // Workaround for a race in the linkage inbox (reported; src/ingestion/ingestion-tables.ts is not this test's to
    // change): a batch that touches a (site, patient) key already queued adds nothing (ON CONFLICT DO NOTHING, no row
    // lock), so a linker pass that takes the key before that batch commits evaluates it without the batch's rows, and
    // nothing queues it again. Under the simulator's interleaved traffic a few % of measurements stay unlinked or
    // unevaluated. Re-queuing this tenant's patients once everything is stored is what "linkage is re-evaluated when
    // either side arrives" (DESIGN.md §4) promises; the first-pass count is printed below so the race stays visible.
    await database.query(
      `INSERT INTO linkage_pending (site_id, patient_key)
       SELECT DISTINCT site_id, patient_key FROM outcomes WHERE manufacturer_id = $1 AND type = 'invasive_ffr'
       ON CONFLICT DO NOTHING`,
      [summary.registration.manufacturerId],
    );
    await pollUntil(pendingLinkage, (count) => count === 0, { what: 'the re-queued linkage to finish' });

    const key = await request(app.getHttpServer())
      .post('/api/v1/api-keys')
      .set({ Authorization: `Bearer ${TEST_ADMIN_TOKEN}` })
      .send({ manufacturerId: summary.registration.manufacturerId, role: 'quality', name: 'truth check' })
      .expect(201);
    // The run's period only: the simulated manufacturer and product are shared with simulator.integration-spec.ts
    // when both run against one database, and its traffic lies months later (default period ending now).
    const response = (
      await request(app.getHttpServer())
        .get('/api/v1/performance')
        .query({
          productId: summary.registration.productId,
          threshold: String(THRESHOLD),
          from: new Date(options.start).toISOString(),
          to: new Date(options.end).toISOString(),
        })
        .set({ Authorization: `Bearer ${key.body.key}` })
        .expect(200)
    ).body;
    const { overall, verificationBias: bias } = response;
    const corrected = {
      sensitivity: bias.sensitivity.ci95 as { bootstrap: Interval; deltaLogit: Interval },
      specificity: bias.specificity.ci95 as { bootstrap: Interval; deltaLogit: Interval },
    };
    const naive = {
      sensitivity: overall.sensitivity.ci95 as { wilson: Interval; cluster: Interval },
      specificity: overall.specificity.ci95 as { wilson: Interval; cluster: Interval },
    };

    // The table first, so a failing run still shows what it found.
    const ctFfrVsTrueFfr = twoByTwo(
      vessels.map((v) => ({ ctFfr: v.ctFfr, reference: v.trueFfr })),
      THRESHOLD,
    );
    const rows = [
      ['truth: all analysed vessels vs the wire reference', truthSensitivity, truthSpecificity, '', ''],
      [
        'naive (verified only), Wilson CI',
        bias.naive.sensitivity,
        bias.naive.specificity,
        range(naive.sensitivity.wilson),
        range(naive.specificity.wilson),
      ],
      [
        'Begg–Greenes (API), bootstrap CI',
        bias.sensitivity.estimate,
        bias.specificity.estimate,
        range(corrected.sensitivity.bootstrap),
        range(corrected.specificity.bootstrap),
      ],
      [
        'Begg–Greenes (API), delta-logit CI',
        bias.sensitivity.estimate,
        bias.specificity.estimate,
        range(corrected.sensitivity.deltaLogit),
        range(corrected.specificity.deltaLogit),
      ],
      ['Begg–Greenes limit under the simulated referral', limit.sensitivity, limit.specificity, '', ''],
      [
        'context: vs noise-free true FFR',
        sensitivityOf(ctFfrVsTrueFfr),
        specificityOf(ctFfrVsTrueFfr),
        '',
        '',
      ],
    ] as const;
    console.log(
      [
        `seed ${SEED}: ${new Set(vessels.map((v) => `${v.siteId}|${v.patientRef}`)).size} patients, ` +
          `${vessels.length} analysed vessels, ${linked.length} verified (verifiedFraction ${fixed(bias.verifiedFraction)}; ` +
          `${linkedFirstPass} linked before the re-queue); ` +
          `reference prevalence ${fixed((population.tp + population.fn) / vessels.length)}`,
        '',
        '| estimate | sensitivity | 95% CI | specificity | 95% CI |',
        '|---|---|---|---|---|',
        ...rows.map(
          ([name, se, sp, seCi, spCi]) => `| ${name} | ${fixed(se)} | ${seCi} | ${fixed(sp)} | ${spCi} |`,
        ),
      ].join('\n'),
    );

    // 1. The denominators and the linked 2×2 are exactly what the simulator sent.
    expect(bias.analysedVessels).toBe(vessels.length);
    // Only completed analyses report vessels, so the run's vessel count is the denominator.
    expect(bias.analysedVessels).toBe(summary.counts.vessels);
    expect(response.linkage.linkedVessels).toBe(linked.length);
    expect(bias.verifiedVessels).toBe(linked.length);
    expect(bias.verifiedFraction).toBeCloseTo(linked.length / vessels.length, 12);
    expect({ tp: overall.tp, fp: overall.fp, tn: overall.tn, fn: overall.fn }).toEqual(linkedTwoByTwo);
    expect(bias.naive.sensitivity).toBeCloseTo(sensitivityOf(linkedTwoByTwo), 12);
    expect(bias.naive.specificity).toBeCloseTo(specificityOf(linkedTwoByTwo), 12);
    expect(overall.sensitivity.estimate).toBeCloseTo(bias.naive.sensitivity, 12);

    // 2. Begg–Greenes from the simulator's counts, by the formula of statistics.md §9, equals the platform's.
    const pPositive = (population.tp + population.fp) / vessels.length;
    const ppv = linkedTwoByTwo.tp / (linkedTwoByTwo.tp + linkedTwoByTwo.fp);
    const falseOmission = linkedTwoByTwo.fn / (linkedTwoByTwo.fn + linkedTwoByTwo.tn);
    const expectedSensitivity = (pPositive * ppv) / (pPositive * ppv + (1 - pPositive) * falseOmission);
    const expectedSpecificity =
      ((1 - pPositive) * (1 - falseOmission)) /
      ((1 - pPositive) * (1 - falseOmission) + pPositive * (1 - ppv));
    expect(bias.sensitivity.estimate).toBeCloseTo(expectedSensitivity, 12);
    expect(bias.specificity.estimate).toBeCloseTo(expectedSpecificity, 12);

    // 3. The truth lies inside both reported corrected 95% intervals, for sensitivity and specificity, and the
    //    corrected estimate is far closer to it than the naive one.
    expect(contains(corrected.sensitivity.bootstrap, truthSensitivity)).toBe(true);
    expect(contains(corrected.sensitivity.deltaLogit, truthSensitivity)).toBe(true);
    expect(contains(corrected.specificity.bootstrap, truthSpecificity)).toBe(true);
    expect(contains(corrected.specificity.deltaLogit, truthSpecificity)).toBe(true);
    expect(Math.abs(bias.sensitivity.estimate - truthSensitivity)).toBeLessThan(
      Math.abs(bias.naive.sensitivity - truthSensitivity) / 3,
    );
    expect(Math.abs(bias.specificity.estimate - truthSpecificity)).toBeLessThan(
      Math.abs(bias.naive.specificity - truthSpecificity) / 10,
    );

    // 4. The naive estimate is far off, in the direction referral predicts: wiring follows low CT-FFR, so verified
    //    vessels are enriched in test positives — sensitivity inflated, specificity deflated — and its own
    //    intervals (Wilson and patient-cluster) exclude the truth.
    expect(naive.sensitivity.wilson[0]).toBeGreaterThan(truthSensitivity);
    expect(naive.sensitivity.cluster[0]).toBeGreaterThan(truthSensitivity);
    expect(naive.specificity.wilson[1]).toBeLessThan(truthSpecificity);
    expect(naive.specificity.cluster[1]).toBeLessThan(truthSpecificity);
    expect(bias.naive.sensitivity - truthSensitivity).toBeGreaterThan(0.1);
    expect(truthSpecificity - bias.naive.specificity).toBeGreaterThan(0.25);

    // 5. The residual bias of per-vessel Begg–Greenes under this referral model (see above) is real but small: the
    //    value it converges to lies below the true sensitivity by far less than the reported half-width.
    const halfWidth = (ci: Interval) => (ci[1] - ci[0]) / 2;
    const residual = {
      sensitivity: limit.sensitivity - truthSensitivity,
      specificity: limit.specificity - truthSpecificity,
    };
    expect(residual.sensitivity).toBeLessThan(0);
    expect(Math.abs(residual.sensitivity)).toBeLessThan(halfWidth(corrected.sensitivity.bootstrap) / 3);
    expect(Math.abs(residual.specificity)).toBeLessThan(halfWidth(corrected.specificity.bootstrap) / 3);
  });
});
