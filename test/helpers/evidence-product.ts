import { INestApplication } from '@nestjs/common';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { ensureTopics } from '../../scripts/kafka-admin';
import { allTopics, topicsFor } from '../../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp } from './app';
import { analysisEvent, connectedProducer, invasiveFfrEvent, signedMessage } from './events';
import { pollUntil } from './poll';
import { TEST_ADMIN_TOKEN, TEST_KAFKA_BROKERS } from './test-environment';

/**
 * A patient of one completed analysis in March 2026 (BMI 23, GE, Agatston 0, model ffrnet-2026.1), CT-FFR 0.9 on each
 * of `vessels`, and an invasive FFR of 0.9 on each ten days later, so that every vessel is linked.
 */
export interface LinkedPatient {
  readonly patientRef: string;
  readonly ageYears: number;
  readonly sex: 'F' | 'M';
  readonly vessels: readonly string[];
}

/**
 * A product for the evidence suites: the app booted on `environment`, one device (`<site>-DEV`) and one cath lab
 * (`<site>-CATH`) per site, a researcher key of the manufacturer, and a producer that signs what each site sends.
 */
export interface EvidenceProduct {
  readonly app: INestApplication;
  readonly fleet: RegisteredFleet;
  readonly producer: Producer;
  readonly researcher: string;
  /** Sends the patients' analyses (signed by the site's device) and invasive FFRs (by its cath lab); their vessels. */
  sendLinkedPatients(siteId: string, patients: readonly LinkedPatient[]): Promise<number>;
  /** Waits until the product has `vessels` linked vessels (every analysis and invasive FFR sent is in). */
  untilLinked(vessels: number): Promise<void>;
  close(): Promise<void>;
}

export async function startEvidenceProduct(
  environment: Record<string, string>,
  name: string,
  siteIds: readonly string[],
): Promise<EvidenceProduct> {
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
  const app = await startApp(environment);
  const fleet = await registerFleet(
    app,
    name,
    siteIds.map((siteId) => ({ siteId, devices: [`${siteId}-DEV`], dataSources: [`${siteId}-CATH`] })),
  );
  const researcher = (
    await request(app.getHttpServer())
      .post('/api/v1/api-keys')
      .set({ Authorization: `Bearer ${TEST_ADMIN_TOKEN}` })
      .send({ manufacturerId: fleet.manufacturerId, role: 'researcher', name: `researcher of ${name}` })
      .expect(201)
  ).body.key as string;
  const { producer } = await connectedProducer(TEST_KAFKA_BROKERS);
  return {
    app,
    fleet,
    producer,
    researcher,
    async sendLinkedPatients(siteId, patients) {
      const device = `${siteId}-DEV`;
      const cathLab = `${siteId}-CATH`;
      const analyses = [];
      const outcomes = [];
      for (const [p, { patientRef, ageYears, sex, vessels }] of patients.entries()) {
        const occurredAt = new Date(Date.UTC(2026, 2, 1 + (p % 27), 9, p % 60)).toISOString();
        analyses.push(
          analysisEvent(device, siteId, {
            patientRef,
            occurredAt,
            modelVersion: 'ffrnet-2026.1',
            patient: { ageYears, sex, bmi: 23 },
            acquisition: { scannerVendor: 'GE', agatstonScore: 0 },
            vessels: vessels.map((vessel) => ({ vessel, ctFfr: 0.9 })),
          }),
        );
        for (const vessel of vessels)
          outcomes.push(
            invasiveFfrEvent(cathLab, siteId, patientRef, {
              measuredAt: new Date(Date.parse(occurredAt) + 10 * 86_400_000).toISOString(),
              vessel,
              segment: null,
              value: 0.9,
            }),
          );
      }
      await producer.send({
        topic: topics.analyses,
        messages: analyses.map((event) => signedMessage(device, event, fleet.devices[device])),
      });
      await producer.send({
        topic: topics.outcomes,
        messages: outcomes.map((event) => signedMessage(siteId, event, fleet.dataSources[cathLab])),
      });
      return outcomes.length;
    },
    async untilLinked(vessels) {
      await pollUntil(
        async () =>
          (
            await request(app.getHttpServer())
              .get('/api/v1/performance')
              .query({ productId: fleet.productId, detail: 'full' })
              .set({ Authorization: `Bearer ${fleet.manufacturerKey}` })
              .expect(200)
          ).body.linkage.linkedVessels as number,
        (linked) => linked === vessels,
        { timeoutMs: 120_000, what: 'every analysis and invasive FFR to be linked' },
      );
    },
    async close() {
      await producer.disconnect();
      await app.close();
    },
  };
}
