/**
 * The discrete-event fleet simulation. Day by day (UTC), every site's patients arrive (Poisson), each patient's whole
 * journey is planned at arrival — scans, analyses, retries, rescans, referral, invasive FFR, revascularisation,
 * clinical events — and every resulting message is put on a time-ordered queue together with the devices' own events.
 * The queue is drained up to the end of the day before the next day is planned; since nothing planned on a day happens
 * before that day starts, messages come out in non-decreasing simulated time, as a real fleet would send them.
 *
 * Each patient, device-day and site-day draws from its own forked random stream (random.ts), so the output is a pure
 * function of the seed and the options, and an injection changes only what it should.
 */
import {
  SCHEMAS,
  isoSeconds,
  type AnalysisEvent,
  type ClinicalEventOutcome,
  type ClinicalEventType,
  type DeviceEvent,
  type DeviceEventKind,
  type InvasiveFfrOutcome,
  type Vessel,
} from './contracts';
import { FaultInjector, NO_FAULTS, type FaultRates } from './faults';
import {
  Fleet,
  NO_INJECTIONS,
  WEEKEND_VOLUME_FACTOR,
  type DeviceProfile,
  type DriftInjections,
  type SiteProfile,
} from './fleet';
import type { AnalysisTruth, OutboundMessage, SimulationItem } from './messages';
import {
  planRevascularization,
  referralProbability,
  resolveModel,
  sampleClinicalEvents,
  sampleCtFfr,
  sampleHeartRate,
  sampleImageQualityScore,
  sampleInvasiveFfr,
  samplePatientCovariates,
  sampleProcessingSeconds,
  sampleReferralLagDays,
  sampleRejectionReason,
  sampleSegment,
  sampleStenosisPercent,
  sampleTerritories,
  sampleTrueFfr,
  sampleVesselCount,
  scanErrorContext,
  rejectionProbability,
  type CtFfrModelParameters,
  type ModelOverrides,
  type PatientCovariates,
} from './model';
import { FeistelPermutation, Random } from './random';

// Math functions bound once per module: hot loops then avoid a global lookup per call, which is costly in the
// sandboxed module context jest runs code in (and free elsewhere).
const { floor, max, min, round } = Math;
const NEVER = Number.POSITIVE_INFINITY;

export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

export type StreamName = 'analyses' | 'outcomes' | 'deviceEvents';

/** Device-reported fault rates per device per day (kind → events/day), before `deviceFaultScale`. */
export const DEVICE_EVENT_RATES: Record<Exclude<DeviceEventKind, 'heartbeat'>, number> = {
  error: 0.25,
  timeout: 0.06,
  crash: 0.015,
  out_of_range_output: 0.003,
  license: 0.01,
};

/** Codes and operator-facing messages (no patient data ever goes into a device event). */
const DEVICE_EVENT_CATALOGUE: Record<Exclude<DeviceEventKind, 'heartbeat'>, readonly [string, string][]> = {
  error: [
    ['DICOM-SERIES-INCOMPLETE', 'Received series is missing slices; analysis not started'],
    ['SEG-CENTERLINE-FAILED', 'Centreline extraction failed for one vessel; vessel skipped'],
    ['PACS-UPLOAD-FAILED', 'Result upload to PACS failed; will retry'],
    ['GPU-OOM', 'GPU out of memory during segmentation; job re-queued'],
  ],
  timeout: [
    ['SEG-TIMEOUT', 'Segmentation exceeded its 900 s budget'],
    ['CFD-SOLVER-TIMEOUT', 'Flow solver did not converge within 1200 s'],
  ],
  crash: [
    ['WORKER-SIGSEGV', 'Analysis worker terminated by SIGSEGV; restarted by supervisor'],
    ['CUDA-ILLEGAL-ADDRESS', 'CUDA illegal memory access; worker restarted'],
  ],
  out_of_range_output: [['FFR-OUT-OF-RANGE', 'Computed CT-FFR outside [0, 1]; result withheld from report']],
  license: [
    ['LICENSE-EXPIRING', 'Licence expires in 14 days'],
    ['LICENSE-CHECK-FAILED', 'Licence server unreachable; running on grace period'],
  ],
};

const FAILURE_CODES: readonly [string, string][] = [
  ['PIPELINE-FAILED', 'Analysis pipeline aborted with an internal error'],
  ['MESH-GENERATION-FAILED', 'Vessel mesh generation failed; analysis aborted'],
];

export interface SimulationOptions {
  /** Seed of every random stream (`--seed`). */
  seed: string | number;
  /** Simulated period [start, end) in epoch milliseconds. */
  start: number;
  end: number;
  /** Number of sites (default 10). */
  siteCount?: number;
  /** Prepended to every site, device and cath-lab code (`--code-prefix`; default none). */
  codePrefix?: string;
  /** Multiplies every site's patient volume (default 1). */
  volumeScale?: number;
  /** Heartbeat interval per device in simulated minutes; 0 disables heartbeats (default 60). */
  heartbeatMinutes?: number;
  /** Multiplies device error/timeout/crash/licence/out-of-range rates (default 1). */
  deviceFaultScale?: number;
  model?: ModelOverrides;
  injections?: Partial<DriftInjections>;
  faults?: Partial<FaultRates>;
  /** Which topics to generate (all by default). */
  streams?: Partial<Record<StreamName, boolean>>;
  /** Attach latent truth to analysis messages (tests and calibration only). */
  withTruth?: boolean;
}

/** Everything about one patient decided at arrival. */
interface PatientPlan {
  site: SiteProfile;
  device: DeviceProfile;
  patientRef: string;
  covariates: PatientCovariates;
  vessels: Vessel[];
  segments: number[];
  trueFfr: number[];
  stenosis: number[];
  invasiveFfr: number[];
}

/** Per-site pseudonym generators: bijections of a serial number, so refs never collide within a site. */
class Pseudonyms {
  private readonly narrow: FeistelPermutation;
  private readonly wide: FeistelPermutation;

  constructor(
    rng: Random,
    private readonly prefix: string,
  ) {
    this.narrow = new FeistelPermutation(24, rng.fork('narrow'));
    this.wide = new FeistelPermutation(32, rng.fork('wide'));
  }

  /** "p-8c1f0e" for the first 16.7 million serials, then 8 hex digits (a different length cannot collide). */
  ref(serial: number): string {
    if (serial < this.narrow.size)
      return `${this.prefix}-${this.narrow.apply(serial).toString(16).padStart(6, '0')}`;
    return `${this.prefix}-${this.wide
      .apply(serial % this.wide.size)
      .toString(16)
      .padStart(8, '0')}`;
  }
}

/** Binary min-heap on (at, seq). */
class EventQueue {
  private readonly heap: { at: number; seq: number; item: SimulationItem }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, item: SimulationItem): void {
    const node = { at, seq: this.seq++, item };
    const heap = this.heap;
    let i = heap.length;
    heap.push(node);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(node, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = node;
  }

  peekAt(): number {
    return this.heap.length > 0 ? this.heap[0].at : NEVER;
  }

  pop(): SimulationItem {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && less(heap[right], heap[left]) ? right : left;
        if (!less(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top.item;
  }
}

function less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function startOfUtcDay(at: number): number {
  return floor(at / DAY_MS) * DAY_MS;
}

export class FleetSimulation {
  readonly fleet: Fleet;
  readonly model: CtFfrModelParameters;
  readonly start: number;
  readonly end: number;
  private readonly root: Random;
  private readonly volumeScale: number;
  private readonly heartbeatMs: number;
  private readonly deviceFaultScale: number;
  private readonly streams: Record<StreamName, boolean>;
  private readonly withTruth: boolean;
  private readonly faultRates: FaultRates;
  private readonly patientPseudonyms: Pseudonyms[];
  private readonly studyPseudonyms: Pseudonyms[];

  constructor(options: SimulationOptions) {
    if (!(options.end > options.start)) throw new RangeError('the simulated period must end after it starts');
    this.root = Random.fromSeed(options.seed);
    this.start = options.start;
    this.end = options.end;
    this.model = resolveModel(options.model);
    this.volumeScale = options.volumeScale ?? 1;
    this.heartbeatMs = (options.heartbeatMinutes ?? 60) * MINUTE_MS;
    this.deviceFaultScale = options.deviceFaultScale ?? 1;
    this.streams = { analyses: true, outcomes: true, deviceEvents: true, ...options.streams };
    this.withTruth = options.withTruth ?? false;
    this.faultRates = { ...NO_FAULTS, ...options.faults };
    if (!(this.volumeScale > 0)) throw new RangeError('volume scale must be positive');
    if (!(this.heartbeatMs >= 0)) throw new RangeError('heartbeat interval must be ≥ 0');
    this.fleet = new Fleet(this.root.fork('fleet'), {
      siteCount: options.siteCount ?? 10,
      codePrefix: options.codePrefix,
      start: options.start,
      end: options.end,
      injections: { ...NO_INJECTIONS, ...options.injections },
    });
    this.patientPseudonyms = this.fleet.sites.map(
      (site) => new Pseudonyms(this.root.fork('pseudonyms', site.index, 'patient'), 'p'),
    );
    this.studyPseudonyms = this.fleet.sites.map(
      (site) => new Pseudonyms(this.root.fork('pseudonyms', site.index, 'study'), 's'),
    );
  }

  /** Every message and device upgrade of the period, in non-decreasing simulated time. */
  *items(): Generator<SimulationItem> {
    const queue = new EventQueue();
    const faults = new FaultInjector(this.root.fork('faults'), this.faultRates);
    let genuineSerial = 0;
    const patientSerials = this.fleet.sites.map(() => 0);

    for (const device of this.fleet.devices) {
      const site = this.fleet.site(device.siteId);
      for (const span of device.versions) {
        if (span.from >= this.start && span.from < this.end) {
          queue.push(span.from, {
            type: 'device-update',
            update: {
              deviceId: device.deviceId,
              siteId: site.siteId,
              at: span.from,
              reason: 'upgrade',
              fields: { softwareVersion: span.softwareVersion, modelVersion: span.modelVersion },
            },
          });
        }
      }
      for (const { from, scanner } of site.scanners) {
        if (from >= this.start && from < this.end) {
          queue.push(from, {
            type: 'device-update',
            update: {
              deviceId: device.deviceId,
              siteId: site.siteId,
              at: from,
              reason: 'scanner-change',
              fields: { scannerVendor: scanner.vendor, scannerModel: scanner.model },
            },
          });
        }
      }
    }

    for (let dayStart = startOfUtcDay(this.start); dayStart < this.end; dayStart += DAY_MS) {
      const dayIndex = round(dayStart / DAY_MS);
      for (const site of this.fleet.sites) {
        if (this.streams.analyses || this.streams.outcomes) {
          patientSerials[site.index] = this.planSiteDay(
            site,
            dayStart,
            dayIndex,
            patientSerials[site.index],
            queue,
          );
        }
        if (this.streams.deviceEvents) {
          site.devices.forEach((device, deviceIndex) =>
            this.planDeviceDay(site, device, deviceIndex, dayStart, dayIndex, queue),
          );
        }
      }
      const horizon = min(dayStart + DAY_MS, this.end);
      while (queue.peekAt() < horizon) {
        const item = queue.pop();
        if (item.type === 'device-update' || item.message.injected !== null) {
          yield item;
          continue;
        }
        yield item;
        const { extra, duplicate } = faults.inject(item.message, genuineSerial++);
        for (const message of extra) yield { type: 'message', message };
        if (duplicate) queue.push(duplicate.at, { type: 'message', message: duplicate });
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Patients
  // -------------------------------------------------------------------------------------------------------------

  /** Plans one UTC day of a site; returns the next patient serial. */
  private planSiteDay(
    site: SiteProfile,
    dayStart: number,
    dayIndex: number,
    serial: number,
    queue: EventQueue,
  ): number {
    const arrivals = this.root.fork('arrivals', site.index, dayIndex);
    const weekday = new Date(dayStart).getUTCDay();
    const weekend = weekday === 0 || weekday === 6;
    const lambda = site.patientsPerDay * this.volumeScale * (weekend ? WEEKEND_VOLUME_FACTOR : 1);
    const count = arrivals.poisson(lambda);
    for (let k = 0; k < count; k++) {
      const rng = this.root.fork('patient', site.index, dayIndex, k);
      const scanAt = clinicTime(site, dayStart, rng.uniform());
      if (scanAt < this.start || scanAt >= this.end) continue;
      this.planPatient(site, rng, scanAt, serial++, queue);
    }
    return serial;
  }

  private planPatient(
    site: SiteProfile,
    rng: Random,
    scanAt: number,
    serial: number,
    queue: EventQueue,
  ): void {
    const anatomy = rng.fork('anatomy');
    const covariates = samplePatientCovariates(rng.fork('covariates'), site.population);
    const count = sampleVesselCount(anatomy, this.model.vesselsPerPatient);
    const vessels = sampleTerritories(anatomy, count, this.model.territoryShares);
    const segments = vessels.map((vessel) => sampleSegment(anatomy, vessel));
    const trueFfr = sampleTrueFfr(anatomy, vessels.length, this.model.trueFfr);
    const stenosis = trueFfr.map((ffr) => sampleStenosisPercent(anatomy, ffr));
    const wire = rng.fork('wire');
    const invasiveFfr = trueFfr.map((ffr) =>
      sampleInvasiveFfr(wire, ffr, site.hyperemia, this.model.invasive),
    );
    const device = site.devices[rng.fork('device').categorical(site.devices.map((d) => d.share))];
    const plan: PatientPlan = {
      site,
      device,
      patientRef: this.patientPseudonyms[site.index].ref(serial),
      covariates,
      vessels,
      segments,
      trueFfr,
      stenosis,
      invasiveFfr,
    };

    // Scans: the first, and one rescan after a rejection in `RESCAN_PROBABILITY` of cases.
    let completed: { at: number; ctFfr: number[] } | null = null;
    let lastAnalysisAt = scanAt;
    let currentScanAt = scanAt;
    for (let scanIndex = 0; scanIndex < 2; scanIndex++) {
      const scanRng = rng.fork('scan', scanIndex);
      const studyRef = this.studyPseudonyms[site.index].ref(2 * serial + scanIndex);
      const result = this.runScan(plan, scanRng, currentScanAt, studyRef, queue);
      lastAnalysisAt = result.lastAnalysisAt;
      if (result.completed) {
        completed = result.completed;
        break;
      }
      const rescan = scanRng.fork('rescan');
      if (!result.rejected || !rescan.bernoulli(RESCAN_PROBABILITY)) break;
      const rescanDay = startOfUtcDay(currentScanAt) + rescan.integer(1, 14) * DAY_MS;
      currentScanAt = clinicTime(site, rescanDay, rescan.uniform());
    }
    if (this.streams.outcomes) this.planOutcomes(plan, rng, scanAt, completed, lastAnalysisAt, queue);
  }

  /** One acquisition: analysis attempts until one does not fail (failed jobs are re-run within hours). */
  private runScan(
    plan: PatientPlan,
    rng: Random,
    scanAt: number,
    studyRef: string,
    queue: EventQueue,
  ): { completed: { at: number; ctFfr: number[] } | null; rejected: boolean; lastAnalysisAt: number } {
    const { site, device, covariates } = plan;
    const scanner = this.fleet.scannerAt(site, scanAt);
    const vendor = this.fleet.vendorEffects[scanner.vendor];
    const heartRateBpm = sampleHeartRate(
      rng,
      site.population.heartRateMeanBpm + this.fleet.heartRateShiftAt(site, scanAt),
      site.population.heartRateSdBpm,
    );
    const nitrates = rng.bernoulli(site.population.nitrateShare);
    const tubeVoltageKv = min(
      140,
      scanner.tubeVoltageKv + (covariates.bmi > 30 && rng.bernoulli(0.7) ? 20 : 0),
    );
    const rejectionDraw = rng.uniform();
    const rejectionReason = sampleRejectionReason(rng, heartRateBpm, this.model.rejection);
    const ctStream = rng.fork('ct');

    let analysisAt = scanAt + round(rng.lognormalFromMedian(15, 0.6) * MINUTE_MS);
    let rejected = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      const attemptRng = rng.fork('attempt', attempt);
      const version = this.fleet.versionAt(device, analysisAt);
      const release = this.fleet.release(version.modelVersion);
      const failed = attemptRng.uniform() < this.model.failureProbability;
      rejected =
        rejectionDraw <
        rejectionProbability(
          {
            heartRateBpm,
            sliceThicknessMm: scanner.sliceThicknessMm,
            siteLogitOffset: site.rejectionLogitOffset,
            oddsFactor: release.rejectionOddsFactor,
          },
          this.model.rejection,
        );
      const status = failed ? 'failed' : rejected ? 'rejected' : 'completed';
      const processingSeconds = sampleProcessingSeconds(
        attemptRng,
        status,
        plan.vessels.length,
        release.processingSpeedFactor,
        this.model.processing,
      );
      const occurredAt = analysisAt + processingSeconds * 1000;
      // Same images → same noise in every attempt (the ct stream is re-forked); only the release's bias may differ.
      const ctFfr = sampleCtFfr(
        ctStream.fork('values'),
        plan.trueFfr,
        this.model,
        scanErrorContext(
          {
            heartRateBpm,
            agatstonScore: covariates.agatstonScore,
            bmi: covariates.bmi,
            nitrates,
            measurementPoint: site.measurementPoint,
          },
          this.model.modifiers,
          {
            biasShift:
              site.ctFfrBias +
              vendor.ctFfrBias +
              release.ctFfrBias +
              this.fleet.injectedSiteBiasAt(site, occurredAt),
            sdFactor: site.errorSdFactor * vendor.errorSdFactor,
          },
        ),
      );
      const imageQualityScore = sampleImageQualityScore(rng.fork('quality'), {
        heartRateBpm,
        bmi: covariates.bmi,
        agatstonScore: covariates.agatstonScore,
        rejected,
      });
      const event: AnalysisEvent = {
        schema: SCHEMAS.analysis,
        eventId: attemptRng.fork('id').uuidV4(),
        deviceId: device.deviceId,
        siteId: site.siteId,
        occurredAt: isoSeconds(occurredAt),
        softwareVersion: version.softwareVersion,
        modelVersion: version.modelVersion,
        patientRef: plan.patientRef,
        studyRef,
        patient: { ageYears: covariates.ageYears, sex: covariates.sex, bmi: covariates.bmi },
        acquisition: {
          scannerVendor: scanner.vendor,
          scannerModel: scanner.model,
          sliceThicknessMm: scanner.sliceThicknessMm,
          tubeVoltageKv,
          heartRateBpm,
          agatstonScore: covariates.agatstonScore,
          nitrates,
          imageQualityScore,
        },
        status,
        rejectionReason: status === 'rejected' ? rejectionReason : null,
        processingSeconds,
        vessels:
          status === 'completed'
            ? plan.vessels.map((vessel, j) => ({
                vessel,
                segment: plan.segments[j],
                ctFfr: ctFfr[j],
                stenosisPercent: plan.stenosis[j],
                measurementPoint: site.measurementPoint,
              }))
            : [],
      };
      if (this.streams.analyses) {
        const truth: AnalysisTruth | undefined =
          this.withTruth && status === 'completed'
            ? {
                trueFfr: plan.trueFfr.slice(),
                invasiveFfr: plan.invasiveFfr.slice(),
                hyperemia: site.hyperemia,
              }
            : undefined;
        this.enqueue(queue, {
          topic: 'analyses',
          key: device.deviceId,
          at: occurredAt,
          sender: { kind: 'device', id: device.deviceId },
          body: { kind: 'event', event },
          signing: { mode: 'sender' },
          injected: null,
          truth,
        });
      }
      if (status === 'failed' && this.streams.deviceEvents) {
        const [code, message] = attemptRng.pick(FAILURE_CODES);
        this.enqueue(
          queue,
          this.deviceEvent(device, occurredAt, 'error', code, message, attemptRng.fork('failure-id')),
        );
      }
      if (status !== 'failed') {
        return {
          completed: status === 'completed' ? { at: occurredAt, ctFfr } : null,
          rejected,
          lastAnalysisAt: occurredAt,
        };
      }
      if (!attemptRng.bernoulli(FAILED_RETRY_PROBABILITY))
        return { completed: null, rejected: false, lastAnalysisAt: occurredAt };
      analysisAt = occurredAt + round(attemptRng.between(1, 6) * HOUR_MS);
    }
    return { completed: null, rejected: false, lastAnalysisAt: analysisAt };
  }

  /** Referral, invasive FFR, revascularisation and clinical events after the CTA (§4.6, §4.7). */
  private planOutcomes(
    plan: PatientPlan,
    rng: Random,
    scanAt: number,
    completed: { at: number; ctFfr: number[] } | null,
    lastAnalysisAt: number,
    queue: EventQueue,
  ): void {
    const { site } = plan;
    const referral = rng.fork('referral');
    const minCtFfr = completed ? min(...completed.ctFfr) : null;
    const referred = referral.uniform() < referralProbability(minCtFfr, this.model.referral);
    const lagDays = sampleReferralLagDays(referral, this.model.referral);
    const baseAt = completed ? completed.at : lastAnalysisAt;
    const cathDay = startOfUtcDay(baseAt + lagDays * DAY_MS);
    let measuredAt = clinicTime(site, cathDay, referral.uniform(), 8, 17);
    if (measuredAt <= baseAt) measuredAt = baseAt + round(referral.between(1, 3) * HOUR_MS);
    const measuredDraws = plan.vessels.map(() => referral.uniform());
    let measured = plan.vessels
      .map((_, j) => j)
      .filter((j) => measuredDraws[j] < this.model.referral.vesselMeasuredProbability);
    if (measured.length === 0) {
      // At least the vessel with the lowest CT-FFR (or, without one, the first) is wired.
      const ct = completed?.ctFfr;
      measured = [ct ? ct.indexOf(min(...ct)) : 0];
    }
    const revascularization = planRevascularization(
      referral.fork('revascularization'),
      measured.map((j) => ({ vessel: plan.vessels[j], value: plan.invasiveFfr[j] })),
      this.model.referral.threshold,
      this.model.revascularization,
    );
    // The procedure starts about 45 minutes after the pressure-wire measurement (ad hoc) or on a staged day.
    const revascularizedAt =
      referred && revascularization
        ? measuredAt + round(revascularization.daysAfterInvasive * DAY_MS) + 45 * MINUTE_MS
        : null;

    const horizonDays = (this.end - scanAt) / DAY_MS;
    const occurrences = sampleClinicalEvents(
      rng.fork('clinical'),
      {
        ageYears: plan.covariates.ageYears,
        ischaemic: plan.trueFfr.some((ffr) => ffr <= this.model.referral.threshold),
        revascularizedAtDay: revascularizedAt === null ? null : (revascularizedAt - scanAt) / DAY_MS,
        horizonDays,
      },
      this.model.clinical,
    );
    const death = occurrences.find((o) => o.event === 'death' || o.event === 'cardiac_death');
    const deathAt = death ? scanAt + death.day * DAY_MS : NEVER;

    const ids = rng.fork('outcome-ids');
    if (referred && measuredAt < deathAt) {
      measured.forEach((j, order) => {
        // Pull-backs in one session a few minutes apart.
        const at = measuredAt + order * round(ids.between(3, 8) * MINUTE_MS);
        const outcome: InvasiveFfrOutcome = {
          schema: SCHEMAS.outcome,
          eventId: ids.uuidV4(),
          sourceId: site.dataSourceId,
          siteId: site.siteId,
          patientRef: plan.patientRef,
          type: 'invasive_ffr',
          measuredAt: isoSeconds(at),
          vessel: plan.vessels[j],
          segment: plan.segments[j],
          value: plan.invasiveFfr[j],
          hyperemia: site.hyperemia,
        };
        this.enqueueOutcome(queue, site, at, outcome);
      });
      if (revascularization && revascularizedAt !== null && revascularizedAt < deathAt) {
        // Procedures carry the cath-lab timestamp; they are reported the same day.
        this.enqueueOutcome(
          queue,
          site,
          revascularizedAt + round(ids.between(1, 8) * HOUR_MS),
          this.clinicalEvent(
            site,
            plan.patientRef,
            revascularization.procedure,
            isoSeconds(revascularizedAt),
            ids,
          ),
        );
      }
    }
    for (const occurrence of occurrences) {
      // Registries report these with day precision; an event on the CTA day is dated to the next midnight so it never
      // appears to precede the analysis.
      const eventAt = scanAt + occurrence.day * DAY_MS;
      let dated = startOfUtcDay(eventAt);
      if (dated < scanAt) dated += DAY_MS;
      const reportDelay = ids.lognormalFromMedian(
        this.model.clinical.reportingDelayMedianDays,
        this.model.clinical.reportingDelaySigma,
      );
      const publishAt = max(eventAt, dated) + round(reportDelay * DAY_MS);
      this.enqueueOutcome(
        queue,
        site,
        publishAt,
        this.clinicalEvent(site, plan.patientRef, occurrence.event, isoSeconds(dated), ids),
      );
    }
  }

  private clinicalEvent(
    site: SiteProfile,
    patientRef: string,
    event: ClinicalEventType,
    occurredAt: string,
    ids: Random,
  ): ClinicalEventOutcome {
    return {
      schema: SCHEMAS.outcome,
      eventId: ids.uuidV4(),
      sourceId: site.dataSourceId,
      siteId: site.siteId,
      patientRef,
      type: 'clinical_event',
      event,
      occurredAt,
    };
  }

  private enqueueOutcome(
    queue: EventQueue,
    site: SiteProfile,
    at: number,
    event: InvasiveFfrOutcome | ClinicalEventOutcome,
  ): void {
    this.enqueue(queue, {
      topic: 'outcomes',
      key: site.siteId,
      at,
      sender: { kind: 'dataSource', id: site.dataSourceId },
      body: { kind: 'event', event },
      signing: { mode: 'sender' },
      injected: null,
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Device events
  // -------------------------------------------------------------------------------------------------------------

  private planDeviceDay(
    site: SiteProfile,
    device: DeviceProfile,
    deviceIndex: number,
    dayStart: number,
    dayIndex: number,
    queue: EventQueue,
  ): void {
    const rng = this.root.fork('device', site.index, deviceIndex, dayIndex);
    if (this.heartbeatMs > 0) {
      const phase = round(device.heartbeatPhase * this.heartbeatMs);
      const ids = rng.fork('heartbeat');
      for (let at = dayStart + phase; at < dayStart + DAY_MS; at += this.heartbeatMs) {
        const id = ids.uuidV4();
        if (at < this.start || at >= this.end) continue;
        this.enqueue(queue, this.deviceEventWithId(device, at, 'heartbeat', 'HEARTBEAT', 'ok', id));
      }
    }
    const middayVersion = this.fleet.versionAt(device, dayStart + DAY_MS / 2);
    const outOfRangeFactor = this.fleet.release(middayVersion.modelVersion).outOfRangeRateFactor;
    for (const kind of Object.keys(DEVICE_EVENT_RATES) as (keyof typeof DEVICE_EVENT_RATES)[]) {
      const kindRng = rng.fork(kind);
      const rate =
        DEVICE_EVENT_RATES[kind] *
        this.deviceFaultScale *
        (kind === 'out_of_range_output' ? outOfRangeFactor : 1);
      const n = kindRng.poisson(rate);
      for (let i = 0; i < n; i++) {
        const at = dayStart + floor(kindRng.uniform() * DAY_MS);
        const [code, message] = kindRng.pick(DEVICE_EVENT_CATALOGUE[kind]);
        const id = kindRng.uuidV4();
        if (at < this.start || at >= this.end) continue;
        this.enqueue(queue, this.deviceEventWithId(device, at, kind, code, message, id));
      }
    }
  }

  private deviceEvent(
    device: DeviceProfile,
    at: number,
    kind: DeviceEventKind,
    code: string,
    message: string,
    rng: Random,
  ): OutboundMessage {
    return this.deviceEventWithId(device, at, kind, code, message, rng.uuidV4());
  }

  private deviceEventWithId(
    device: DeviceProfile,
    at: number,
    kind: DeviceEventKind,
    code: string,
    message: string,
    eventId: string,
  ): OutboundMessage {
    const event: DeviceEvent = {
      schema: SCHEMAS.deviceEvent,
      eventId,
      deviceId: device.deviceId,
      occurredAt: isoSeconds(at),
      kind,
      code,
      message,
      softwareVersion: this.fleet.versionAt(device, at).softwareVersion,
    };
    return {
      topic: 'deviceEvents',
      key: device.deviceId,
      at,
      sender: { kind: 'device', id: device.deviceId },
      body: { kind: 'event', event },
      signing: { mode: 'sender' },
      injected: null,
    };
  }

  private enqueue(queue: EventQueue, message: OutboundMessage): void {
    // Nothing is published before the period or after its end: "now" is the end of the simulation.
    if (message.at < this.start || message.at >= this.end) return;
    queue.push(message.at, { type: 'message', message });
  }
}

/** P(the site rescans a patient whose scan was rejected). */
const RESCAN_PROBABILITY = 0.3;
/** P(an operator re-runs a failed analysis of the same study). */
const FAILED_RETRY_PROBABILITY = 0.6;

/** A time within local clinic hours (default 08:00–18:00) of the UTC day starting at `dayStart`. */
function clinicTime(
  site: SiteProfile,
  dayStart: number,
  fraction: number,
  openHour = 8,
  closeHour = 18,
): number {
  const localHours = openHour + fraction * (closeHour - openHour);
  return dayStart + round((localHours - site.utcOffsetHours) * HOUR_MS);
}
