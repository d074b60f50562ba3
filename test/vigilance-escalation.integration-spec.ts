import { randomUUID } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { analysisEvent, connectedProducer, invasiveFfrEvent, signedMessage } from './helpers/events';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_KAFKA_BROKERS } from './helpers/test-environment';

const DAY_MS = 86_400_000;
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/*
 * A false negative found by candidate detection is a non-serious candidate incident; when the patient's myocardial
 * infarction within the window becomes known later, the same incident receives it as new information (MDCG 2023-3
 * Q15, MDR Art. 87(6)): now a serious deterioration with its clocks running from the day the information arrived —
 * never a second incident for the same missed ischaemia.
 */
describe('vigilance: late escalation of a detected false negative', () => {
  const environment = isolatedEnvironment('vigesc');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `VESC-${run}`;
  const device = `VESC-DEV-${run}`;
  const cathLab = `VESC-CATH-${run}`;
  const patientRef = `vesc-${run}`;
  const ctaAt = Date.now() - 40 * DAY_MS;
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let producer: Producer;
  let qualityKey: string;

  const detect = () =>
    request(app.getHttpServer())
      .post('/api/v1/incidents/detections')
      .set(bearer(qualityKey))
      .send({ productId: fleet.productId })
      .expect(200);
  const incidentsOfProduct = async () =>
    (
      await request(app.getHttpServer())
        .get('/api/v1/incidents')
        .query({ productId: fleet.productId })
        .set(bearer(qualityKey))
        .expect(200)
    ).body.items as Array<{ id: string; title: string }>;
  // The device is silent too (its one analysis is weeks old): that rule opens an incident of its own.
  const missedIschaemiaIncidents = async () =>
    (await incidentsOfProduct()).filter((incident) => incident.title.startsWith('Missed ischaemia'));
  type DetectionResult = {
    products: Array<{
      created: Record<string, number>;
      incidentIds: string[];
      escalatedIncidentIds: string[];
    }>;
  };

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    fleet = await registerFleet(app, `VigEsc-${run}`, [
      { siteId: site, devices: [device], dataSources: [cathLab] },
    ]);
    qualityKey = (
      await request(app.getHttpServer())
        .post('/api/v1/api-keys')
        .set(bearer(TEST_ADMIN_TOKEN))
        .send({ manufacturerId: fleet.manufacturerId, role: 'quality', name: 'escalation test' })
        .expect(201)
    ).body.key as string;
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    // CT-FFR 0.86 (negative) in the LAD; the wire 10 days later says 0.72 (ischaemic): a false negative.
    await producer.send({
      topic: topics.analyses,
      messages: [
        signedMessage(
          device,
          analysisEvent(device, site, {
            patientRef,
            occurredAt: new Date(ctaAt).toISOString(),
            vessels: [{ vessel: 'LAD', segment: 7, ctFfr: 0.86 }],
          }),
          fleet.devices[device],
        ),
      ],
    });
    await producer.send({
      topic: topics.outcomes,
      messages: [
        signedMessage(
          site,
          invasiveFfrEvent(cathLab, site, patientRef, {
            measuredAt: new Date(ctaAt + 10 * DAY_MS).toISOString(),
            vessel: 'LAD',
            segment: 7,
            value: 0.72,
          }),
          fleet.dataSources[cathLab],
        ),
      ],
    });
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
  });

  it('records the later myocardial infarction as new information on the same incident, as the system', async () => {
    await pollUntil(
      async () => (await detect()).body as DetectionResult,
      (result) => result.products[0]?.created['ctffr-false-negative'] === 1,
      { timeoutMs: 120_000, what: 'the false negative to be linked and detected' },
    );
    const opened = await missedIschaemiaIncidents();
    expect(opened).toHaveLength(1);
    const [{ id: incidentId }] = opened;
    const before = await request(app.getHttpServer())
      .get(`/api/v1/incidents/${incidentId}`)
      .set(bearer(qualityKey))
      .expect(200);
    expect(before.body.seriousness).toBe('non_serious');
    expect(before.body.newInformation).toEqual([]);

    // The registry reports the MI (day 20 after the CTA, within the window) weeks later.
    await producer.send({
      topic: topics.outcomes,
      messages: [
        signedMessage(
          site,
          {
            schema: 'fieldwatch.outcome/1',
            eventId: randomUUID(),
            sourceId: cathLab,
            siteId: site,
            patientRef,
            type: 'clinical_event',
            event: 'myocardial_infarction',
            occurredAt: new Date(ctaAt + 20 * DAY_MS).toISOString(),
          },
          fleet.dataSources[cathLab],
        ),
      ],
    });
    const second = await pollUntil(
      async () => (await detect()).body as DetectionResult,
      (result) => result.products[0]?.escalatedIncidentIds.length === 1,
      { timeoutMs: 90_000, what: 'the clinical event to be stored and the false negative escalated' },
    );
    expect(second.products[0].escalatedIncidentIds).toEqual([incidentId]);
    expect(second.products[0].incidentIds).toEqual([]);

    const after = await request(app.getHttpServer())
      .get(`/api/v1/incidents/${incidentId}`)
      .set(bearer(qualityKey))
      .expect(200);
    expect(after.body.seriousness).toBe('serious_deterioration');
    expect(after.body.reportableMalfunction).toBe(true);
    expect(after.body.awarenessClassification.seriousness).toBe('non_serious');
    expect(after.body.newInformation).toHaveLength(1);
    expect(after.body.newInformation[0].summary).toMatch(/myocardial_infarction/);
    expect(after.body.newInformation[0].classification.seriousness).toBe('serious_deterioration');
    // EU and CN clocks for a serious deterioration now run, from the day the information was received.
    const receivedDate = after.body.newInformation[0].receivedDate as string;
    expect(receivedDate).toBe(new Date().toISOString().slice(0, 10));
    expect(after.body.deadlines.length).toBeGreaterThan(before.body.deadlines.length);
    // One incident for the one missed ischaemia.
    expect((await missedIschaemiaIncidents()).map((incident) => incident.id)).toEqual([incidentId]);

    // The history names the system as the actor of the new information, and why.
    expect(after.body.version).toBe(2);
    const entry = (after.body.history as Array<Record<string, unknown>>).find((event) => event.version === 2);
    expect(entry).toMatchObject({
      kinds: ['new_information'],
      actor: { type: 'system', apiKeyId: null, role: null },
      newInformation: { receivedDate },
    });
    expect(entry?.reason).toMatch(/rule ctffr-false-negative-serious-outcome/);

    // Detection is idempotent: nothing new on the next run.
    const third = (await detect()).body as DetectionResult;
    expect(third.products[0].incidentIds).toEqual([]);
    expect(third.products[0].escalatedIncidentIds).toEqual([]);
  });

  it('records submissions to the EU and the NMPA separately; the incident closes once both are met', async () => {
    const [{ id }] = await missedIschaemiaIncidents();
    let version = (
      await request(app.getHttpServer()).get(`/api/v1/incidents/${id}`).set(bearer(qualityKey)).expect(200)
    ).body.version as number;
    const patch = async (body: Record<string, unknown>, status = 200) => {
      const response = await request(app.getHttpServer())
        .patch(`/api/v1/incidents/${id}`)
        .set(bearer(qualityKey))
        .send({ version, ...body })
        .expect(status);
      if (status === 200) version = response.body.version as number;
      return response.body as {
        state: string;
        deadlines: Array<{ jurisdiction: string; status: string }>;
        history?: unknown;
        message?: string;
      };
    };
    const statusBy = (deadlines: Array<{ jurisdiction: string; status: string }>) =>
      Object.fromEntries(
        [...new Set(deadlines.map((d) => d.jurisdiction))].map((jurisdiction) => [
          jurisdiction,
          [...new Set(deadlines.filter((d) => d.jurisdiction === jurisdiction).map((d) => d.status))].sort(),
        ]),
      );

    // The patient was treated in Germany as well as at the Chinese site: both authorities' clocks run.
    await patch({
      countries: ['CN', 'DE'],
      reason: 'Follow-up care in Germany (hospital letter of 2026-11-20)',
    });
    await patch({ state: 'under_assessment', reason: 'Assessing the missed ischaemia and the MI' });
    const reportable = await patch({
      state: 'reportable',
      reason: 'Serious deterioration, causal link possible',
    });
    expect(statusBy(reportable.deadlines)).toEqual({ CN: ['open'], EU: ['open'] });

    const toEu = await patch({
      state: 'submitted',
      submittedTo: ['EU'],
      submissionReference: 'MIR-2026-000123',
      reason: 'Initial MIR filed with the competent authority',
    });
    expect(toEu.state).toBe('submitted');
    expect(statusBy(toEu.deadlines)).toEqual({ CN: ['open'], EU: ['met'] });
    const refusedClose = await patch({ state: 'closed', reason: 'Investigation concluded' }, 409);
    expect(refusedClose.message).toMatch(/CN/);
    await patch({ submittedTo: ['US'], reason: 'x'.repeat(5) }, 400);

    const toCn = await patch({ submittedTo: ['CN'], reason: 'NMPA adverse event report filed' });
    expect(statusBy(toCn.deadlines)).toEqual({ CN: ['met'], EU: ['met'] });
    const detail = await request(app.getHttpServer())
      .get(`/api/v1/incidents/${id}`)
      .set(bearer(qualityKey))
      .expect(200);
    expect(
      (detail.body.history as Array<{ kinds: string[] }>).some((event) => event.kinds.includes('submission')),
    ).toBe(true);
    expect((await patch({ state: 'closed', reason: 'Investigation concluded' })).state).toBe('closed');
  });
});
