import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { applyEnvironment, TEST_ADMIN_TOKEN } from './test-environment';

/** Boots the real application (API and, unless FW_PROCESS_ROLE says otherwise, the consumers). */
export async function startApp(environment: Record<string, string>): Promise<INestApplication> {
  applyEnvironment(environment);
  // Imported after the environment is in place: configuration is read when the module graph builds.
  const { createApp } = await import('../../src/app.factory');
  const app = await createApp();
  await app.init();
  return app;
}

export interface RegisteredFleet {
  manufacturerId: string;
  manufacturerKey: string;
  productId: string;
  devices: Record<string, string>;
  dataSources: Record<string, string>;
}

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/**
 * Registers a tenant through the API, as a manufacturer would: manufacturer + key (with the
 * bootstrap admin), product, sites, devices and data sources. Returns the one-time secrets.
 */
export async function registerFleet(
  app: INestApplication,
  label: string,
  layout: Array<{ siteId: string; devices: string[]; dataSources: string[] }>,
): Promise<RegisteredFleet> {
  const server = app.getHttpServer();
  const manufacturer = await request(server)
    .post('/api/v1/manufacturers')
    .set(bearer(TEST_ADMIN_TOKEN))
    .send({ name: `${label} Medical` })
    .expect(201);
  const key = await request(server)
    .post('/api/v1/api-keys')
    .set(bearer(TEST_ADMIN_TOKEN))
    .send({ manufacturerId: manufacturer.body.id, role: 'manufacturer', name: `${label} automation` })
    .expect(201);
  const manufacturerKey: string = key.body.key;
  const product = await request(server)
    .post('/api/v1/products')
    .set(bearer(manufacturerKey))
    .send({
      name: `${label} CT-FFR`,
      udiDi: `0697${Math.floor(Math.random() * 1e10)}`.padEnd(14, '0'),
      riskClass: 'III',
      jurisdictions: ['EU', 'CN'],
      ffrThreshold: 0.8,
      premarketClaims: {
        sensitivity: { estimate: 0.86, ci95: [0.8, 0.91], n: 180 },
        specificity: { estimate: 0.81, ci95: [0.76, 0.85], n: 320 },
        auc: { estimate: 0.9, ci95: [0.87, 0.93], n: 500 },
      },
    })
    .expect(201);
  const devices: Record<string, string> = {};
  const dataSources: Record<string, string> = {};
  for (const site of layout) {
    await request(server)
      .post('/api/v1/sites')
      .set(bearer(manufacturerKey))
      .send({ siteId: site.siteId, name: `Hospital ${site.siteId}`, country: 'CN' })
      .expect(201);
    for (const deviceId of site.devices) {
      const device = await request(server)
        .post('/api/v1/devices')
        .set(bearer(manufacturerKey))
        .send({
          deviceId,
          productId: product.body.id,
          siteId: site.siteId,
          softwareVersion: '1.4.2',
          modelVersion: 'ffrnet-2025.1',
          scannerVendor: 'GE',
        })
        .expect(201);
      devices[deviceId] = device.body.secret;
    }
    for (const sourceId of site.dataSources) {
      const source = await request(server)
        .post('/api/v1/data-sources')
        .set(bearer(manufacturerKey))
        .send({ sourceId, siteId: site.siteId, name: `Cath lab ${site.siteId}`, kind: 'cath_lab' })
        .expect(201);
      dataSources[sourceId] = source.body.secret;
    }
  }
  return {
    manufacturerId: manufacturer.body.id,
    manufacturerKey,
    productId: product.body.id,
    devices,
    dataSources,
  };
}

export interface TopicCounters {
  topic: string;
  received: number;
  stored: number;
  duplicates: number;
  deadLettered: number;
}

/** GET /api/v1/ingestion/stats as the platform admin, keyed by topic name. */
export async function ingestionStatsByTopic(
  server: ReturnType<INestApplication['getHttpServer']>,
): Promise<Record<string, TopicCounters>> {
  const response = await request(server)
    .get('/api/v1/ingestion/stats')
    .set(bearer(TEST_ADMIN_TOKEN))
    .expect(200);
  return Object.fromEntries((response.body.topics as TopicCounters[]).map((topic) => [topic.topic, topic]));
}
