import { isSignatureValid, SIGNATURE_HEADER } from '../kafka/signature';
import { validateEvent } from './contracts';
import { encodeSignedMessage } from './encoding';
import { analysisFleet, generateAnalysisEvents, generateSignedAnalysisMessages } from './preload';

const period = { start: Date.parse('2025-01-01T00:00:00Z'), end: Date.parse('2026-01-01T00:00:00Z') };

describe('benchmark pre-load building blocks', () => {
  it('generates exactly N valid analysis events in time order, deterministically', () => {
    const events = [...generateAnalysisEvents({ seed: 'bench', count: 20_000, ...period })];
    expect(events).toHaveLength(20_000);
    expect(events.filter((event) => validateEvent(event).length > 0)).toEqual([]);
    expect(events.filter((event, i) => i > 0 && event.occurredAt < events[i - 1].occurredAt)).toEqual([]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    expect(new Set(events.map((e) => e.status))).toEqual(new Set(['completed', 'rejected', 'failed']));
    // Same seed, count and period → the same events (the count sets the volume, so it is part of the scenario).
    const again = [...generateAnalysisEvents({ seed: 'bench', count: 20_000, ...period })];
    expect(JSON.stringify(again)).toBe(JSON.stringify(events));
    expect([...generateAnalysisEvents({ seed: 'bench', count: 0, ...period })]).toEqual([]);
  });

  it('signs each event over its exact JSON bytes with its device secret, keyed by deviceId', () => {
    const options = { seed: 'bench', count: 2_000, siteCount: 25, ...period };
    const fleet = analysisFleet(options);
    expect(fleet.sites).toHaveLength(25);
    const secrets = new Map(fleet.devices.map((d) => [d.deviceId, `s3cret-${d.deviceId}`]));
    const records = [...generateSignedAnalysisMessages(options, secrets)];
    expect(records).toHaveLength(2_000);
    const bad = records.filter((record) => {
      const event = JSON.parse(record.value.toString('utf8')) as { deviceId: string };
      return (
        record.key !== event.deviceId ||
        !isSignatureValid(`s3cret-${event.deviceId}`, record.value, record.headers[SIGNATURE_HEADER])
      );
    });
    expect(bad).toEqual([]);
    expect(() => [...generateSignedAnalysisMessages(options, new Map())]).toThrow(/no signing secret/);
  });

  it('encodes an event exactly as JSON.stringify renders it', () => {
    const [event] = generateAnalysisEvents({ seed: 'one', count: 1, ...period });
    const record = encodeSignedMessage(event, 'k');
    expect(record.value.toString('utf8')).toBe(JSON.stringify(event));
    expect(record.headers[SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
  });
});
