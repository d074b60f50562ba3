import { createHash } from 'node:crypto';
import { isSignatureValid, SIGNATURE_HEADER } from '../kafka/signature';
import { vesselAgreement } from './calibration';
import {
  validateEvent,
  type AnalysisEvent,
  type FieldwatchEvent,
  type InvasiveFfrOutcome,
} from './contracts';
import { encodeOutbound, type SenderSecrets } from './encoding';
import { DAY_MS, FleetSimulation, type SimulationOptions } from './engine';
import type { Fleet } from './fleet';
import type { DeviceUpdate, OutboundMessage } from './messages';
import { SummaryCounter } from './summary';

const END = Date.parse('2026-04-01T00:00:00Z');

function run(options: Partial<SimulationOptions> & { days: number }): {
  simulation: FleetSimulation;
  messages: OutboundMessage[];
  updates: DeviceUpdate[];
} {
  const { days, ...rest } = options;
  const simulation = new FleetSimulation({
    seed: 'engine-spec',
    start: END - days * DAY_MS,
    end: END,
    ...rest,
  });
  const messages: OutboundMessage[] = [];
  const updates: DeviceUpdate[] = [];
  for (const item of simulation.items()) {
    if (item.type === 'message') messages.push(item.message);
    else updates.push(item.update);
  }
  return { simulation, messages, updates };
}

function secretsFor(fleet: Fleet): SenderSecrets {
  return {
    devices: new Map(fleet.devices.map((d) => [d.deviceId, `secret-${d.deviceId}`])),
    dataSources: new Map(fleet.sites.map((s) => [s.dataSourceId, `secret-${s.dataSourceId}`])),
  };
}

function eventOf(message: OutboundMessage): FieldwatchEvent {
  if (message.body.kind !== 'event') throw new Error('not an event body');
  return message.body.event;
}

const genuine = (messages: OutboundMessage[]) => messages.filter((m) => m.injected === null);
const analysesOf = (messages: OutboundMessage[]) =>
  genuine(messages)
    .map(eventOf)
    .filter((e): e is AnalysisEvent => e.schema === 'fieldwatch.analysis/1');
const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;

describe('FleetSimulation: determinism', () => {
  const digest = (seed: string): string => {
    const { simulation, messages } = run({
      seed,
      days: 45,
      siteCount: 4,
      faults: {
        malformed: 0.01,
        schemaInvalid: 0.01,
        unsigned: 0.01,
        forged: 0.01,
        tampered: 0.01,
        duplicate: 0.01,
      },
    });
    const secrets = secretsFor(simulation.fleet);
    const hash = createHash('sha256');
    for (const message of messages) {
      const wire = encodeOutbound(message, secrets);
      hash
        .update(`${message.topic}\n${wire.key}\n${JSON.stringify(wire.headers)}\n`)
        .update(wire.value)
        .update('\n');
    }
    return hash.digest('hex');
  };

  it('produces a byte-identical stream for the same seed and a different one for another seed', () => {
    const first = digest('alpha');
    expect(digest('alpha')).toBe(first);
    expect(digest('beta')).not.toBe(first);
  });
});

describe('FleetSimulation: contracts, order and linkage', () => {
  const { simulation, messages, updates } = run({ days: 150, siteCount: 10, heartbeatMinutes: 240 });
  const { fleet } = simulation;
  const events = genuine(messages).map(eventOf);

  it('emits only events that satisfy the DESIGN.md §4 contracts, keyed as specified', () => {
    const invalid = events
      .map((event) => ({ event, errors: validateEvent(event) }))
      .filter((r) => r.errors.length > 0);
    expect(invalid).toEqual([]);
    const misrouted = genuine(messages).filter((message) => {
      const event = eventOf(message);
      if (event.schema === 'fieldwatch.outcome/1') {
        return (
          message.topic !== 'outcomes' ||
          message.key !== event.siteId ||
          message.sender.kind !== 'dataSource' ||
          message.sender.id !== event.sourceId
        );
      }
      const topic = event.schema === 'fieldwatch.analysis/1' ? 'analyses' : 'deviceEvents';
      return (
        message.topic !== topic ||
        message.key !== event.deviceId ||
        message.sender.kind !== 'device' ||
        message.sender.id !== event.deviceId
      );
    });
    expect(misrouted).toEqual([]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });

  it('publishes in simulated-time order, inside the period, never before an event happened', () => {
    const outOfOrder = messages.filter((m, i) => i > 0 && m.at < messages[i - 1].at);
    expect(outOfOrder).toEqual([]);
    expect(messages[0].at).toBeGreaterThanOrEqual(simulation.start);
    expect(messages[messages.length - 1].at).toBeLessThan(simulation.end);
    const premature = genuine(messages).filter((message) => {
      const event = eventOf(message);
      return Date.parse('measuredAt' in event ? event.measuredAt : event.occurredAt) > message.at;
    });
    expect(premature).toEqual([]);
  });

  it('uses site-issued pseudonyms and the realistic fleet ids', () => {
    const analyses = analysesOf(messages);
    expect(
      analyses.filter((a) => !/^p-[0-9a-f]{6}$/.test(a.patientRef) || !/^s-[0-9a-f]{6}$/.test(a.studyRef)),
    ).toEqual([]);
    expect(fleet.sites.map((s) => s.siteId)).toEqual(
      expect.arrayContaining(['SH-RJ', 'BJ-AZ', 'DE-MUC-1', 'US-CLE-1', 'FR-PAR-1', 'IT-MIL-1']),
    );
    expect(fleet.device('DVF-SH-RJ-01').siteId).toBe('SH-RJ');
    expect(fleet.site('SH-RJ').dataSourceId).toBe('CATH-SH-RJ');
  });

  it('sends invasive FFR weeks after a completed analysis of the same patient, same vessel and segment', () => {
    const completedByPatient = new Map<string, AnalysisEvent[]>();
    for (const analysis of analysesOf(messages)) {
      if (analysis.status !== 'completed') continue;
      const key = `${analysis.siteId}|${analysis.patientRef}`;
      completedByPatient.set(key, [...(completedByPatient.get(key) ?? []), analysis]);
    }
    const invasive = events.filter(
      (e): e is InvasiveFfrOutcome => e.schema === 'fieldwatch.outcome/1' && e.type === 'invasive_ffr',
    );
    expect(invasive.length).toBeGreaterThan(500);
    let linked = 0;
    for (const outcome of invasive) {
      const candidates = (completedByPatient.get(`${outcome.siteId}|${outcome.patientRef}`) ?? []).filter(
        (a) => Date.parse(a.occurredAt) < Date.parse(outcome.measuredAt),
      );
      // Patients whose scans were never evaluable go to the cath lab too; everyone else links.
      if (candidates.length === 0) continue;
      linked++;
      const latest = candidates[candidates.length - 1];
      expect(latest.vessels.some((v) => v.vessel === outcome.vessel && v.segment === outcome.segment)).toBe(
        true,
      );
    }
    expect(linked / invasive.length).toBeGreaterThan(0.95);
  });

  it('rolls ffrnet-2026.1 out from mid-period and reports the version each device ran', () => {
    const upgrades = updates.filter((u) => u.reason === 'upgrade');
    expect(upgrades.length).toBe(fleet.devices.length);
    for (const upgrade of upgrades) {
      expect(upgrade.fields).toEqual({ modelVersion: 'ffrnet-2026.1', softwareVersion: '1.5.0' });
      expect(upgrade.at).toBeGreaterThanOrEqual(
        simulation.start + (simulation.end - simulation.start) / 2 - 1,
      );
    }
    // The version is the one the device ran when processing started (before occurredAt).
    const inconsistent = analysesOf(messages).filter((analysis) => {
      const device = fleet.device(analysis.deviceId);
      const end = fleet.versionAt(device, Date.parse(analysis.occurredAt));
      const start = fleet.versionAt(
        device,
        Date.parse(analysis.occurredAt) - (analysis.processingSeconds + 1) * 1000,
      );
      return analysis.modelVersion !== end.modelVersion && analysis.modelVersion !== start.modelVersion;
    });
    expect(inconsistent).toEqual([]);
    const versions = new Set(analysesOf(messages).map((a) => `${a.modelVersion}/${a.softwareVersion}`));
    expect(versions).toEqual(new Set(['ffrnet-2025.1/1.4.2', 'ffrnet-2026.1/1.5.0']));
  });

  it('reports device heartbeats at the configured interval, and errors at low rates', () => {
    const counter = new SummaryCounter();
    genuine(messages).forEach((m) => counter.record(m));
    const deviceDays = fleet.devices.length * 150;
    expect(counter.counts.deviceEventsByKind.heartbeat).toBeGreaterThan(
      deviceDays * 6 - fleet.devices.length * 6,
    );
    expect(counter.counts.deviceEventsByKind.heartbeat).toBeLessThanOrEqual(deviceDays * 6);
    expect(counter.counts.deviceEventsByKind.error ?? 0).toBeGreaterThan(0);
    expect((counter.counts.deviceEventsByKind.crash ?? 0) / deviceDays).toBeLessThan(0.05);
  });
});

describe('FleetSimulation: calibration of the whole fleet with defaults', () => {
  // ≈ 21,000 patients: 10 default sites, 240 days, 1.5 × volume.
  const { messages } = run({
    seed: 'fleet-calibration',
    days: 240,
    volumeScale: 1.5,
    heartbeatMinutes: 0,
    withTruth: true,
    streams: { deviceEvents: false },
  });
  const analyses = genuine(messages).filter((m) => m.topic === 'analyses');
  const start = END - 240 * DAY_MS;

  it('covers ≥ 20,000 patients and reproduces §4.3 against the invasive value at IV-adenosine sites', () => {
    const patients = new Set(
      analyses.map((m) => eventOf(m) as AnalysisEvent).map((a) => `${a.siteId}|${a.patientRef}`),
    );
    expect(patients.size).toBeGreaterThanOrEqual(20_000);
    const ct: number[] = [];
    const inv: number[] = [];
    const icShift: number[] = [];
    const ivShift: number[] = [];
    for (const message of analyses) {
      const truth = message.truth;
      if (!truth) continue;
      (eventOf(message) as AnalysisEvent).vessels.forEach((vessel, j) => {
        (truth.hyperemia === 'adenosine_ic' ? icShift : ivShift).push(
          truth.invasiveFfr[j] - truth.trueFfr[j],
        );
        if (truth.hyperemia !== 'adenosine_iv') return;
        ct.push(vessel.ctFfr);
        inv.push(truth.invasiveFfr[j]);
      });
    }
    const agreement = vesselAgreement(ct, inv);
    expect(Math.abs(agreement.sensitivity - 0.82)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(agreement.specificity - 0.79)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(agreement.bias - -0.025)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(agreement.sdOfDifferences - 0.08)).toBeLessThanOrEqual(0.015);
    expect(Math.abs(agreement.pearson - 0.79)).toBeLessThanOrEqual(0.04);
    const vesselsPerPatient =
      analyses.reduce(
        (s, m) =>
          s +
          ((eventOf(m) as AnalysisEvent).status === 'completed'
            ? (eventOf(m) as AnalysisEvent).vessels.length
            : 0),
        0,
      ) / analyses.filter((m) => (eventOf(m) as AnalysisEvent).status === 'completed').length;
    expect(Math.abs(vesselsPerPatient - 1.14)).toBeLessThanOrEqual(0.02);
    // §4.2: intracoronary adenosine reads ≈ 0.02 higher than IV.
    if (icShift.length > 100) expect(mean(icShift) - mean(ivShift)).toBeCloseTo(0.02, 2);
  });

  it('rejects 3–8% and fails 0.5–1% of analyses', () => {
    const statuses = analyses.map((m) => (eventOf(m) as AnalysisEvent).status);
    const rejected = statuses.filter((s) => s === 'rejected').length / statuses.length;
    const failed = statuses.filter((s) => s === 'failed').length / statuses.length;
    expect(rejected).toBeGreaterThanOrEqual(0.03);
    expect(rejected).toBeLessThanOrEqual(0.08);
    expect(failed).toBeGreaterThanOrEqual(0.004);
    expect(failed).toBeLessThanOrEqual(0.011);
    const reasons = analyses
      .map((m) => eventOf(m) as AnalysisEvent)
      .filter((a) => a.status === 'rejected')
      .map((a) => a.rejectionReason);
    expect(reasons.filter((r) => r === 'motion_artifact').length / reasons.length).toBeGreaterThan(0.6);
  });

  it('verifies 60% of CT-FFR-positive and 8% of negative patients, with a median lag of 14 days', () => {
    // Only patients analysed in the first 90 days: their referral had ≥ 150 days to happen inside the period.
    const cutoff = start + 90 * DAY_MS;
    const completed = new Map<string, AnalysisEvent>();
    for (const message of analyses) {
      const analysis = eventOf(message) as AnalysisEvent;
      if (analysis.status === 'completed' && Date.parse(analysis.occurredAt) < cutoff) {
        completed.set(`${analysis.siteId}|${analysis.patientRef}`, analysis);
      }
    }
    const firstInvasive = new Map<string, number>();
    for (const message of genuine(messages)) {
      const event = eventOf(message);
      if (event.schema === 'fieldwatch.outcome/1' && event.type === 'invasive_ffr') {
        const key = `${event.siteId}|${event.patientRef}`;
        if (!firstInvasive.has(key)) firstInvasive.set(key, Date.parse(event.measuredAt));
      }
    }
    const groups = { positive: { n: 0, verified: 0 }, negative: { n: 0, verified: 0 } };
    const lags: number[] = [];
    for (const [key, analysis] of completed) {
      const group =
        Math.min(...analysis.vessels.map((v) => v.ctFfr)) <= 0.8 ? groups.positive : groups.negative;
      group.n++;
      const measuredAt = firstInvasive.get(key);
      if (measuredAt !== undefined) {
        group.verified++;
        lags.push((measuredAt - Date.parse(analysis.occurredAt)) / DAY_MS);
      }
    }
    expect(Math.abs(groups.positive.verified / groups.positive.n - 0.6)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(groups.negative.verified / groups.negative.n - 0.08)).toBeLessThanOrEqual(0.02);
    lags.sort((a, b) => a - b);
    expect(Math.abs(lags[Math.floor(lags.length / 2)] - 14)).toBeLessThanOrEqual(2);
  });

  it('follows verified positives with PCI/CABG and reports adverse events at a few % a year', () => {
    const counter = new SummaryCounter();
    genuine(messages).forEach((m) => counter.record(m));
    const byType = counter.counts.clinicalEventsByType;
    expect(byType.pci ?? 0).toBeGreaterThan(byType.cabg ?? 0);
    expect(byType.myocardial_infarction ?? 0).toBeGreaterThan(0);
    // ≈ 21,000 patients followed for ≈ 4 months on average: MI well under 3% of patients.
    expect((byType.myocardial_infarction ?? 0) / 21_000).toBeLessThan(0.03);
  });
});

describe('FleetSimulation: drift injections', () => {
  const days = 120;
  const from = END - 60 * DAY_MS;
  const base = { seed: 'drift', days, volumeScale: 2, heartbeatMinutes: 0, withTruth: true } as const;
  const plain = run(base);
  const biased = run({ ...base, injections: { siteBiases: [{ siteId: 'SH-RJ', from, bias: -0.05 }] } });

  const residuals = (messages: OutboundMessage[], filter: (a: AnalysisEvent) => boolean): number[] => {
    const values: number[] = [];
    for (const message of messages) {
      if (message.topic !== 'analyses' || message.injected !== null || !message.truth) continue;
      const analysis = eventOf(message) as AnalysisEvent;
      if (!filter(analysis)) continue;
      analysis.vessels.forEach((v, j) => values.push(v.ctFfr - message.truth!.trueFfr[j]));
    }
    return values;
  };
  const after = (a: AnalysisEvent) => Date.parse(a.occurredAt) >= from;

  it('--site-bias shifts that site after the date by the bias and leaves everything else byte-identical', () => {
    const plainById = new Map(analysesOf(plain.messages).map((a) => [a.eventId, a]));
    const differences: number[] = [];
    const changedElsewhere: string[] = [];
    const biasedAnalyses = analysesOf(biased.messages);
    expect(biasedAnalyses.length).toBe(plainById.size);
    for (const analysis of biasedAnalyses) {
      const original = plainById.get(analysis.eventId) as AnalysisEvent;
      if (analysis.siteId !== 'SH-RJ' || !after(analysis)) {
        if (JSON.stringify(analysis) !== JSON.stringify(original)) changedElsewhere.push(analysis.eventId);
      } else {
        analysis.vessels.forEach((v, j) => differences.push(v.ctFfr - original.vessels[j].ctFfr));
      }
    }
    expect(changedElsewhere).toEqual([]);
    expect(differences.length).toBeGreaterThan(500);
    expect(Math.abs(mean(differences) - -0.05)).toBeLessThanOrEqual(0.01);

    // Within the biased run alone: the site's mean residual moves by the bias; other sites' does not.
    const site = (a: AnalysisEvent) => a.siteId === 'SH-RJ';
    const shift =
      mean(residuals(biased.messages, (a) => site(a) && after(a))) -
      mean(residuals(biased.messages, (a) => site(a) && !after(a)));
    expect(Math.abs(shift - -0.05)).toBeLessThanOrEqual(0.01);
    const others =
      mean(residuals(biased.messages, (a) => !site(a) && after(a))) -
      mean(residuals(biased.messages, (a) => !site(a) && !after(a)));
    expect(Math.abs(others)).toBeLessThanOrEqual(0.01);
  });

  it('--hr-shift raises heart rate and rejections at the site from the date', () => {
    const shifted = run({
      ...base,
      injections: { heartRateShifts: [{ siteId: 'BJ-AZ', from, shiftBpm: 15 }] },
    });
    const siteAnalyses = analysesOf(shifted.messages).filter((a) => a.siteId === 'BJ-AZ');
    const rate = (list: AnalysisEvent[]) => list.filter((a) => a.status === 'rejected').length / list.length;
    const heartRate = (list: AnalysisEvent[]) => mean(list.map((a) => a.acquisition.heartRateBpm));
    const before = siteAnalyses.filter((a) => !after(a));
    const later = siteAnalyses.filter(after);
    expect(heartRate(later) - heartRate(before)).toBeGreaterThan(12);
    expect(rate(later)).toBeGreaterThan(1.5 * rate(before));
  });

  it('--scanner-change switches the site to the new scanner and updates its devices in the registry', () => {
    const changed = run({
      ...base,
      injections: { scannerChanges: [{ siteId: 'DE-MUC-1', from, vendor: 'Canon' }] },
    });
    const siteAnalyses = analysesOf(changed.messages).filter((a) => a.siteId === 'DE-MUC-1');
    expect(new Set(siteAnalyses.filter((a) => !after(a)).map((a) => a.acquisition.scannerVendor))).toEqual(
      new Set(['Siemens']),
    );
    expect(new Set(siteAnalyses.filter(after).map((a) => a.acquisition.scannerModel))).toEqual(
      new Set(['Aquilion ONE']),
    );
    const scannerUpdates = changed.updates.filter((u) => u.reason === 'scanner-change');
    expect(scannerUpdates.map((u) => u.deviceId)).toEqual(['DVF-DE-MUC-1-01']);
    expect(scannerUpdates[0].fields).toEqual({ scannerVendor: 'Canon', scannerModel: 'Aquilion ONE' });
  });

  it('--bad-model rolls a biased release out from its date', () => {
    const bad = run({
      ...base,
      injections: { badModels: [{ version: 'ffrnet-2026.2', from: END - 40 * DAY_MS, bias: -0.04 }] },
    });
    const badAnalyses = analysesOf(bad.messages).filter((a) => a.modelVersion === 'ffrnet-2026.2');
    expect(badAnalyses.length).toBeGreaterThan(200);
    expect(
      badAnalyses.filter(
        (a) => Date.parse(a.occurredAt) < END - 40 * DAY_MS || a.softwareVersion !== '1.5.1',
      ),
    ).toEqual([]);
    const shift =
      mean(residuals(bad.messages, (a) => a.modelVersion === 'ffrnet-2026.2')) -
      mean(residuals(bad.messages, (a) => a.modelVersion !== 'ffrnet-2026.2'));
    expect(Math.abs(shift - -0.04)).toBeLessThanOrEqual(0.01);
    expect(bad.simulation.fleet.releases.map((r) => r.version)).toContain('ffrnet-2026.2');
  });

  it('rejects injections naming unknown sites', () => {
    expect(() =>
      run({ ...base, days: 5, injections: { siteBiases: [{ siteId: 'XX-NOPE', from, bias: 0.1 }] } }),
    ).toThrow(/unknown site XX-NOPE/);
  });
});

describe('FleetSimulation: bad-message injection', () => {
  const rate = 0.02;
  const { simulation, messages } = run({
    days: 60,
    siteCount: 6,
    heartbeatMinutes: 60,
    faults: {
      malformed: rate,
      schemaInvalid: rate,
      unsigned: rate,
      forged: rate,
      tampered: rate,
      duplicate: rate,
    },
  });
  const secrets = secretsFor(simulation.fleet);
  const genuineCount = genuine(messages).length;
  const secretOf = (m: OutboundMessage) =>
    (m.sender.kind === 'device' ? secrets.devices : secrets.dataSources).get(m.sender.id) as string;
  const ofKind = (kind: string) => messages.filter((m) => m.injected === kind);

  it('injects each kind at its rate (within 5 binomial SDs), leaving the genuine stream untouched', () => {
    const expected = genuineCount * rate;
    const tolerance = 5 * Math.sqrt(genuineCount * rate * (1 - rate));
    for (const kind of ['malformed', 'schemaInvalid', 'unsigned', 'forged', 'tampered', 'duplicate']) {
      expect(Math.abs(ofKind(kind).length - expected)).toBeLessThanOrEqual(tolerance);
    }
    const clean = run({ days: 60, siteCount: 6, heartbeatMinutes: 60 });
    expect(genuine(clean.messages).map((m) => JSON.stringify(eventOf(m)))).toEqual(
      genuine(messages).map((m) => JSON.stringify(eventOf(m))),
    );
  });

  it('makes each kind fail in the way it claims', () => {
    for (const message of ofKind('malformed')) {
      const wire = encodeOutbound(message, secrets);
      expect(() => {
        JSON.parse(wire.value.toString('utf8'));
      }).toThrow();
      expect(isSignatureValid(secretOf(message), wire.value, wire.headers[SIGNATURE_HEADER])).toBe(true);
    }
    for (const message of ofKind('schemaInvalid')) {
      const wire = encodeOutbound(message, secrets);
      expect(validateEvent(JSON.parse(wire.value.toString('utf8'))).length).toBeGreaterThan(0);
      expect(isSignatureValid(secretOf(message), wire.value, wire.headers[SIGNATURE_HEADER])).toBe(true);
    }
    for (const message of ofKind('unsigned')) {
      const wire = encodeOutbound(message, secrets);
      expect(wire.headers[SIGNATURE_HEADER]).toBeUndefined();
      expect(validateEvent(JSON.parse(wire.value.toString('utf8')))).toEqual([]);
    }
    for (const message of ofKind('forged')) {
      const wire = encodeOutbound(message, secrets);
      expect(wire.headers[SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(isSignatureValid(secretOf(message), wire.value, wire.headers[SIGNATURE_HEADER])).toBe(false);
    }
    for (const message of ofKind('tampered')) {
      const wire = encodeOutbound(message, secrets);
      expect(validateEvent(JSON.parse(wire.value.toString('utf8')))).toEqual([]);
      expect(isSignatureValid(secretOf(message), wire.value, wire.headers[SIGNATURE_HEADER])).toBe(false);
      if (message.signing.mode !== 'sender-over')
        throw new Error('tampered message must be signed over other bytes');
      expect(
        isSignatureValid(
          secretOf(message),
          Buffer.from(message.signing.signedText),
          wire.headers[SIGNATURE_HEADER],
        ),
      ).toBe(true);
    }
    const originals = new Map(genuine(messages).map((m) => [eventOf(m).eventId, m]));
    for (const message of ofKind('duplicate')) {
      const original = originals.get(eventOf(message).eventId) as OutboundMessage;
      expect(encodeOutbound(message, secrets)).toEqual(encodeOutbound(original, secrets));
      expect(message.at - original.at).toBeGreaterThanOrEqual(0);
      expect(message.at - original.at).toBeLessThanOrEqual(5 * 60_000);
    }
    // Bad messages carry fresh event ids: none collides with a genuine one.
    const reused = [
      ...ofKind('unsigned'),
      ...ofKind('forged'),
      ...ofKind('tampered'),
      ...ofKind('schemaInvalid'),
    ].filter((message) => {
      const wire = encodeOutbound(message, secrets);
      const parsed = JSON.parse(wire.value.toString('utf8')) as { eventId?: string };
      return parsed.eventId !== undefined && originals.has(parsed.eventId);
    });
    expect(reused).toEqual([]);
  });

  it('sends bursts of the configured size and counts them in the summary', () => {
    const burst = run({
      days: 30,
      siteCount: 3,
      heartbeatMinutes: 60,
      faults: { unsigned: 0.05, burstSize: 5 },
    });
    const injected = burst.messages.filter((m) => m.injected === 'unsigned').length;
    expect(injected % 5).toBe(0);
    const expected = genuine(burst.messages).length * 0.05;
    expect(Math.abs(injected - expected)).toBeLessThanOrEqual(5 * Math.sqrt(expected * 5));
    const counter = new SummaryCounter();
    burst.messages.forEach((m) => counter.record(m));
    expect(counter.counts.injected.unsigned).toBe(injected);
    const summary = counter.toJSON({ analyses: 'a', outcomes: 'o', deviceEvents: 'd' }) as {
      expectedAtPlatform: { stored: number; deadLettered: number; duplicates: number };
    };
    expect(summary.expectedAtPlatform).toEqual({
      stored: genuine(burst.messages).length,
      deadLettered: injected,
      duplicates: 0,
    });
  });
});
