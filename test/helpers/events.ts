import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Message, Producer } from 'kafkajs';
import { signMessageValue, SIGNATURE_HEADER } from '../../src/kafka/signature';

/** A message exactly as a device or data source sends it: the JSON bytes, signed with its secret. */
export function signedMessage(key: string, event: object, secret: string): Message {
  const value = Buffer.from(JSON.stringify(event), 'utf8');
  return { key, value, headers: { [SIGNATURE_HEADER]: signMessageValue(secret, value) } };
}

export function analysisEvent(deviceId: string, siteId: string, overrides: Record<string, unknown> = {}) {
  return {
    schema: 'fieldwatch.analysis/1',
    eventId: randomUUID(),
    deviceId,
    siteId,
    occurredAt: '2026-03-01T10:22:33Z',
    softwareVersion: '1.4.2',
    modelVersion: 'ffrnet-2025.1',
    patientRef: `p-${randomUUID().slice(0, 6)}`,
    studyRef: `s-${randomUUID().slice(0, 6)}`,
    patient: { ageYears: 61, sex: 'F', bmi: 27.4 },
    acquisition: {
      scannerVendor: 'GE',
      scannerModel: 'Revolution CT',
      sliceThicknessMm: 0.625,
      tubeVoltageKv: 100,
      heartRateBpm: 64,
      agatstonScore: 210,
      nitrates: true,
      imageQualityScore: 0.88,
    },
    status: 'completed',
    rejectionReason: null,
    processingSeconds: 412,
    vessels: [
      { vessel: 'LAD', segment: 7, ctFfr: 0.74, stenosisPercent: 70, measurementPoint: 'distal_20mm' },
    ],
    ...overrides,
  };
}

export function invasiveFfrEvent(
  sourceId: string,
  siteId: string,
  patientRef: string,
  overrides: Record<string, unknown> = {},
) {
  return {
    schema: 'fieldwatch.outcome/1',
    eventId: randomUUID(),
    sourceId,
    siteId,
    patientRef,
    type: 'invasive_ffr',
    measuredAt: '2026-03-15T09:00:00Z',
    vessel: 'LAD',
    segment: 7,
    value: 0.78,
    hyperemia: 'adenosine_iv',
    ...overrides,
  };
}

export function deviceEvent(deviceId: string, overrides: Record<string, unknown> = {}) {
  return {
    schema: 'fieldwatch.device-event/1',
    eventId: randomUUID(),
    deviceId,
    occurredAt: '2026-03-01T10:00:00Z',
    kind: 'error',
    code: 'SEG-TIMEOUT',
    message: 'segmentation exceeded 600 s',
    softwareVersion: '1.4.2',
    ...overrides,
  };
}

export async function connectedProducer(brokers: string): Promise<{ kafka: Kafka; producer: Producer }> {
  const kafka = new Kafka({
    clientId: 'fieldwatch-test-sender',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return { kafka, producer };
}

export interface DeadLetter {
  error: string;
  reason: string;
  sourceTopic: string;
  sourceOffset: string;
  key: string | null;
  value: Buffer | null;
}

/** Reads the whole DLQ topic from the beginning with a throw-away group, until `expected` letters arrived. */
export async function readDeadLetters(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs = 60_000,
): Promise<DeadLetter[]> {
  const consumer = kafka.consumer({ groupId: `dlq-reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  const letters: DeadLetter[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const header = (value: unknown): string =>
    Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  await consumer.run({
    // eslint-disable-next-line @typescript-eslint/require-await -- kafkajs expects a promise-returning handler
    eachMessage: async ({ message }) => {
      const headers = message.headers ?? {};
      letters.push({
        error: header(headers['x-fw-error']),
        reason: header(headers['x-fw-reason']),
        sourceTopic: header(headers['x-fw-source-topic']),
        sourceOffset: header(headers['x-fw-source-offset']),
        key: message.key ? message.key.toString('utf8') : null,
        value: message.value,
      });
    },
  });
  const deadline = Date.now() + timeoutMs;
  while (letters.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await consumer.disconnect();
  return letters;
}
