/**
 * The simulated installed base: sites, their scanners and devices, cath-lab data sources, model releases and their
 * progressive roll-out, and the drift injections that change a site or a release from a given date.
 *
 * Everything here is a deterministic function of the fleet stream of the seed; the engine asks the fleet "what was
 * true at site S / device D at time t" (scanner, heart-rate shift, injected bias, model version).
 */
import type { HyperemiaProtocol, MeasurementPoint } from './contracts';
import type { PopulationProfile } from './model';
import { Random } from './random';

// Math functions bound once per module: hot loops then avoid a global lookup per call, which is costly in the
// sandboxed module context jest runs code in (and free elsewhere).
const { exp, max, min, round } = Math;

const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------------------------------------
// Scanners
// ---------------------------------------------------------------------------------------------------------------

export interface ScannerProfile {
  vendor: string;
  model: string;
  /** Routine CCTA reconstruction thicknesses (a site picks one; thicker ones raise the rejection odds, §3). */
  sliceThicknessOptionsMm: readonly number[];
  tubeVoltageKv: number;
}

/** Wide-detector / dual-source CT systems typical of CT-FFR sites. */
export const SCANNERS = {
  GE: {
    vendor: 'GE',
    model: 'Revolution CT',
    sliceThicknessOptionsMm: [0.625, 0.625, 1.25],
    tubeVoltageKv: 100,
  },
  Siemens: {
    vendor: 'Siemens',
    model: 'SOMATOM Force',
    sliceThicknessOptionsMm: [0.6, 0.6, 0.75],
    tubeVoltageKv: 90,
  },
  Philips: {
    vendor: 'Philips',
    model: 'IQon Spectral CT',
    sliceThicknessOptionsMm: [0.67, 0.67, 0.9],
    tubeVoltageKv: 120,
  },
  Canon: {
    vendor: 'Canon',
    model: 'Aquilion ONE',
    sliceThicknessOptionsMm: [0.5, 0.5, 1.0],
    tubeVoltageKv: 100,
  },
  'United Imaging': {
    vendor: 'United Imaging',
    model: 'uCT 960+',
    sliceThicknessOptionsMm: [0.5, 0.5, 0.8],
    tubeVoltageKv: 100,
  },
  // A vendor no catalogue site uses: `--scanner-change SITE:DATE:Neusoft` brings a scanner the product's reference has
  // never seen (the "new scanner vendor" drift scenario). Thicker routine reconstruction and 120 kV are assumptions
  // (a 256-slice system; ctffr-evidence.md §3 only says thicker sections raise the rejection odds).
  Neusoft: {
    vendor: 'Neusoft',
    model: 'NeuViz Epoch',
    sliceThicknessOptionsMm: [0.8, 0.8, 1.0],
    tubeVoltageKv: 120,
  },
} as const satisfies Record<string, ScannerProfile>;
export type ScannerVendor = keyof typeof SCANNERS;
export const SCANNER_VENDORS = Object.keys(SCANNERS) as ScannerVendor[];
/**
 * Vendors the site catalogue draws from (synthetic sites beyond the catalogue pick one of these): the list is fixed so
 * that adding a vendor to SCANNERS for a scenario does not change any existing seed's fleet.
 */
export const CATALOGUE_VENDORS: readonly ScannerVendor[] = [
  'GE',
  'Siemens',
  'Philips',
  'Canon',
  'United Imaging',
];

/** Accepts "GE", "siemens", "UnitedImaging", "united-imaging", "UIH", "Canon"… (for `--scanner-change`). */
export function parseScannerVendor(text: string): ScannerVendor | null {
  const normalised = text.toLowerCase().replace(/[^a-z]/g, '');
  if (normalised === 'uih' || normalised === 'unitedimaging') return 'United Imaging';
  return SCANNER_VENDORS.find((vendor) => vendor.toLowerCase().replace(/[^a-z]/g, '') === normalised) ?? null;
}

/** A site's scanner as configured: one reconstruction thickness and kV (the analysis reports these). */
export interface SiteScanner {
  vendor: ScannerVendor;
  model: string;
  sliceThicknessMm: number;
  tubeVoltageKv: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Site catalogue
// ---------------------------------------------------------------------------------------------------------------

export const COUNTRIES = ['CN', 'DE', 'FR', 'IT', 'US'] as const;
export type Country = (typeof COUNTRIES)[number];

interface CountryProfile {
  /** Standard-time UTC offset; clinics scan 08:00–18:00 local. */
  utcOffsetHours: number;
  population: Omit<PopulationProfile, 'nitrateShare'>;
}

/** Populations by country: BMI is lower in China, higher in the US; β-blocker use (heart rate) varies. */
const COUNTRY_PROFILES: Record<Country, CountryProfile> = {
  CN: {
    utcOffsetHours: 8,
    population: {
      ageMeanYears: 58,
      ageSdYears: 10,
      maleShare: 0.6,
      bmiMean: 24.6,
      bmiSd: 3.3,
      heartRateMeanBpm: 67,
      heartRateSdBpm: 8,
    },
  },
  DE: {
    utcOffsetHours: 1,
    population: {
      ageMeanYears: 62,
      ageSdYears: 10,
      maleShare: 0.58,
      bmiMean: 27.3,
      bmiSd: 4.6,
      heartRateMeanBpm: 62,
      heartRateSdBpm: 8,
    },
  },
  FR: {
    utcOffsetHours: 1,
    population: {
      ageMeanYears: 61,
      ageSdYears: 10,
      maleShare: 0.57,
      bmiMean: 26.2,
      bmiSd: 4.5,
      heartRateMeanBpm: 63,
      heartRateSdBpm: 8,
    },
  },
  IT: {
    utcOffsetHours: 1,
    population: {
      ageMeanYears: 62,
      ageSdYears: 10,
      maleShare: 0.57,
      bmiMean: 26.6,
      bmiSd: 4.3,
      heartRateMeanBpm: 63,
      heartRateSdBpm: 8,
    },
  },
  US: {
    utcOffsetHours: -5,
    population: {
      ageMeanYears: 60,
      ageSdYears: 11,
      maleShare: 0.55,
      bmiMean: 29.8,
      bmiSd: 5.6,
      heartRateMeanBpm: 61,
      heartRateSdBpm: 8,
    },
  },
};

interface SiteCatalogueEntry {
  siteId: string;
  name: string;
  country: Country;
  vendor: ScannerVendor;
  /** Mean CT-FFR analyses per weekday (Poisson). */
  patientsPerDay: number;
}

/** Realistic ids and volumes; names are marked simulated so nobody mistakes the data for a real hospital's. */
const SITE_CATALOGUE: readonly SiteCatalogueEntry[] = [
  {
    siteId: 'SH-RJ',
    name: 'Renji Hospital, Shanghai (simulated)',
    country: 'CN',
    vendor: 'GE',
    patientsPerDay: 9,
  },
  {
    siteId: 'BJ-AZ',
    name: 'Anzhen Hospital, Beijing (simulated)',
    country: 'CN',
    vendor: 'Siemens',
    patientsPerDay: 12,
  },
  {
    siteId: 'DE-MUC-1',
    name: 'Heart Centre Munich (simulated)',
    country: 'DE',
    vendor: 'Siemens',
    patientsPerDay: 6,
  },
  {
    siteId: 'US-CLE-1',
    name: 'Cleveland Cardiovascular Institute (simulated)',
    country: 'US',
    vendor: 'GE',
    patientsPerDay: 8,
  },
  {
    siteId: 'FR-PAR-1',
    name: 'Hôpital Cardiologique de Paris (simulated)',
    country: 'FR',
    vendor: 'Philips',
    patientsPerDay: 5,
  },
  {
    siteId: 'IT-MIL-1',
    name: 'Centro Cardiologico Milano (simulated)',
    country: 'IT',
    vendor: 'Canon',
    patientsPerDay: 4,
  },
  {
    siteId: 'GZ-GD',
    name: "Guangdong Provincial People's Hospital (simulated)",
    country: 'CN',
    vendor: 'United Imaging',
    patientsPerDay: 10,
  },
  {
    siteId: 'DE-BER-1',
    name: 'Heart Centre Berlin (simulated)',
    country: 'DE',
    vendor: 'Canon',
    patientsPerDay: 5,
  },
  {
    siteId: 'US-BOS-1',
    name: 'Boston Heart Institute (simulated)',
    country: 'US',
    vendor: 'Siemens',
    patientsPerDay: 7,
  },
  {
    siteId: 'CD-HX',
    name: 'West China Hospital, Chengdu (simulated)',
    country: 'CN',
    vendor: 'United Imaging',
    patientsPerDay: 8,
  },
  {
    siteId: 'FR-LYO-1',
    name: 'Hôpital Cardiologique de Lyon (simulated)',
    country: 'FR',
    vendor: 'GE',
    patientsPerDay: 3,
  },
  {
    siteId: 'IT-ROM-1',
    name: 'Policlinico Cardiologico Roma (simulated)',
    country: 'IT',
    vendor: 'Philips',
    patientsPerDay: 4,
  },
  {
    siteId: 'SH-ZS',
    name: 'Zhongshan Hospital, Shanghai (simulated)',
    country: 'CN',
    vendor: 'Siemens',
    patientsPerDay: 11,
  },
  {
    siteId: 'US-HOU-1',
    name: 'Houston Heart Institute (simulated)',
    country: 'US',
    vendor: 'Canon',
    patientsPerDay: 6,
  },
  {
    siteId: 'WH-TJ',
    name: 'Tongji Hospital, Wuhan (simulated)',
    country: 'CN',
    vendor: 'GE',
    patientsPerDay: 7,
  },
  {
    siteId: 'DE-HH-1',
    name: 'Heart Centre Hamburg (simulated)',
    country: 'DE',
    vendor: 'Philips',
    patientsPerDay: 4,
  },
  {
    siteId: 'IT-NAP-1',
    name: 'Ospedale del Cuore Napoli (simulated)',
    country: 'IT',
    vendor: 'Siemens',
    patientsPerDay: 3,
  },
  {
    siteId: 'US-SEA-1',
    name: 'Seattle Cardiac Center (simulated)',
    country: 'US',
    vendor: 'Philips',
    patientsPerDay: 5,
  },
  {
    siteId: 'FR-BDX-1',
    name: 'CHU Cardiologie Bordeaux (simulated)',
    country: 'FR',
    vendor: 'Siemens',
    patientsPerDay: 2,
  },
  {
    siteId: 'NJ-GL',
    name: 'Gulou Hospital, Nanjing (simulated)',
    country: 'CN',
    vendor: 'Canon',
    patientsPerDay: 9,
  },
];

/** Catalogue entry `index`; beyond the catalogue, synthetic sites "CN-SIM-21", "DE-SIM-22", … */
function catalogueEntry(index: number, rng: Random): SiteCatalogueEntry {
  if (index < SITE_CATALOGUE.length) return SITE_CATALOGUE[index];
  const country = COUNTRIES[index % COUNTRIES.length];
  const number = index + 1;
  return {
    siteId: `${country}-SIM-${number}`,
    name: `Simulated Cardiac Centre ${number} (${country})`,
    country,
    vendor: rng.pick(CATALOGUE_VENDORS),
    patientsPerDay: rng.integer(2, 12),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Fleet
// ---------------------------------------------------------------------------------------------------------------

export interface DeviceProfile {
  deviceId: string;
  siteId: string;
  /** Share of the site's analyses that run on this device. */
  share: number;
  /** Heartbeat phase within the interval, so devices do not all report on the hour. */
  heartbeatPhase: number;
  /** Chronological model/software versions (first entry is the version at the start of the period). */
  versions: DeviceVersionSpan[];
}

export interface DeviceVersionSpan {
  from: number;
  modelVersion: string;
  softwareVersion: string;
}

export interface SiteProfile {
  index: number;
  siteId: string;
  name: string;
  country: Country;
  utcOffsetHours: number;
  patientsPerDay: number;
  population: PopulationProfile;
  /** Scanner configuration over time (first entry from the start; `--scanner-change` appends). */
  scanners: { from: number; scanner: SiteScanner }[];
  hyperemia: HyperemiaProtocol;
  measurementPoint: MeasurementPoint;
  /** Per-site random effects (§4.4 "site / vendor effects", drift targets). */
  ctFfrBias: number;
  errorSdFactor: number;
  rejectionLogitOffset: number;
  devices: DeviceProfile[];
  dataSourceId: string;
  dataSourceName: string;
}

export interface VendorEffect {
  ctFfrBias: number;
  errorSdFactor: number;
}

export interface ModelRelease {
  version: string;
  softwareVersion: string;
  releasedAt: number;
  /** Added to CT-FFR for analyses run by this release (non-zero only for an injected bad model). */
  ctFfrBias: number;
  /** Multiplies the odds of rejection (better motion handling in a newer release). */
  rejectionOddsFactor: number;
  /** Multiplies processing time. */
  processingSpeedFactor: number;
  /** Multiplies the rate of `out_of_range_output` device events. */
  outOfRangeRateFactor: number;
  injected: boolean;
}

// Drift injections (CLI switches) --------------------------------------------------------------------------------

export interface SiteBiasInjection {
  siteId: string;
  from: number;
  bias: number;
}
export interface HeartRateShiftInjection {
  siteId: string;
  from: number;
  shiftBpm: number;
}
export interface ScannerChangeInjection {
  siteId: string;
  from: number;
  vendor: ScannerVendor;
}
export interface BadModelInjection {
  version: string;
  from: number;
  bias: number;
}

export interface DriftInjections {
  siteBiases: SiteBiasInjection[];
  heartRateShifts: HeartRateShiftInjection[];
  scannerChanges: ScannerChangeInjection[];
  badModels: BadModelInjection[];
}

export const NO_INJECTIONS: DriftInjections = {
  siteBiases: [],
  heartRateShifts: [],
  scannerChanges: [],
  badModels: [],
};

export interface FleetOptions {
  siteCount: number;
  /**
   * Prepended to every site code (and so to its devices' and cath lab's): a second fleet beside the default one.
   * Device and site codes are global across tenants, so two tenants cannot both register the catalogue's codes.
   */
  codePrefix?: string;
  start: number;
  end: number;
  injections: DriftInjections;
}

export const BASE_MODEL_VERSION = 'ffrnet-2025.1';
export const BASE_SOFTWARE_VERSION = '1.4.2';
export const UPDATE_MODEL_VERSION = 'ffrnet-2026.1';
export const UPDATE_SOFTWARE_VERSION = '1.5.0';

export class Fleet {
  readonly sites: SiteProfile[];
  readonly releases: ModelRelease[];
  readonly vendorEffects: Record<ScannerVendor, VendorEffect>;
  readonly start: number;
  readonly end: number;
  private readonly sitesById = new Map<string, SiteProfile>();
  private readonly devicesById = new Map<string, DeviceProfile>();
  private readonly releasesByVersion = new Map<string, ModelRelease>();
  private readonly injections: DriftInjections;

  constructor(rng: Random, options: FleetOptions) {
    if (!(options.siteCount >= 1)) throw new RangeError('the fleet needs at least one site');
    if (!(options.end > options.start)) throw new RangeError('the simulated period must end after it starts');
    this.start = options.start;
    this.end = options.end;
    this.injections = options.injections;
    for (const injection of options.injections.badModels) {
      if (injection.version === BASE_MODEL_VERSION || injection.version === UPDATE_MODEL_VERSION) {
        throw new RangeError(
          `--bad-model ${injection.version} clashes with a regular release; pick another version`,
        );
      }
    }

    const vendorRng = rng.fork('vendors');
    this.vendorEffects = Object.fromEntries(
      SCANNER_VENDORS.map((vendor) => {
        const v = vendorRng.fork(vendor);
        return [vendor, { ctFfrBias: v.normal(0, 0.008), errorSdFactor: exp(v.normal(0, 0.05)) }];
      }),
    ) as Record<ScannerVendor, VendorEffect>;

    this.sites = [];
    for (let index = 0; index < options.siteCount; index++) {
      const site = this.buildSite(index, rng.fork('site', index), options.codePrefix ?? '');
      this.sites.push(site);
      this.sitesById.set(site.siteId, site);
      for (const device of site.devices) this.devicesById.set(device.deviceId, device);
    }

    this.centreSiteBiases();

    const injectedSites = [
      ...options.injections.siteBiases,
      ...options.injections.heartRateShifts,
      ...options.injections.scannerChanges,
    ].map((injection) => injection.siteId);
    for (const siteId of injectedSites) this.site(siteId); // throws with the fleet's site list when unknown

    this.releases = this.buildReleases(rng.fork('releases'));
    for (const release of this.releases) this.releasesByVersion.set(release.version, release);
    this.applyScannerChanges();
  }

  private buildSite(index: number, rng: Random, codePrefix: string): SiteProfile {
    const entry = catalogueEntry(index, rng.fork('catalogue'));
    const country = COUNTRY_PROFILES[entry.country];
    const scannerProfile = SCANNERS[entry.vendor];
    const code = `${codePrefix}${entry.siteId}`;
    const deviceCount = entry.patientsPerDay >= 8 ? 2 : 1;
    const shares = deviceCount === 2 ? [0.6, 0.4] : [1];
    const devices: DeviceProfile[] = shares.map((share, i) => ({
      deviceId: `DVF-${code}-${String(i + 1).padStart(2, '0')}`,
      siteId: code,
      share,
      heartbeatPhase: rng.uniform(),
      versions: [],
    }));
    return {
      index,
      siteId: code,
      name: entry.name,
      country: entry.country,
      utcOffsetHours: country.utcOffsetHours,
      patientsPerDay: entry.patientsPerDay,
      population: {
        ...country.population,
        heartRateMeanBpm: country.population.heartRateMeanBpm + rng.normal(0, 2),
        // Protocol adherence (§4.4): most sites give nitrates routinely, a few do not.
        nitrateShare: rng.bernoulli(0.8) ? rng.between(0.9, 0.99) : rng.between(0.55, 0.8),
      },
      scanners: [
        {
          from: -Infinity,
          scanner: {
            vendor: entry.vendor,
            model: scannerProfile.model,
            sliceThicknessMm: rng.pick(scannerProfile.sliceThicknessOptionsMm),
            tubeVoltageKv: scannerProfile.tubeVoltageKv,
          },
        },
      ],
      // §4.2: hyperaemia protocol is a per-site choice; IV adenosine is the norm.
      hyperemia: rng.bernoulli(0.2) ? 'adenosine_ic' : 'adenosine_iv',
      // §2: most sites follow the 10–20 mm distal convention; some read at the tip.
      measurementPoint: (['distal_20mm', 'distal_10mm', 'vessel_tip'] as const)[
        rng.categorical([0.7, 0.2, 0.1])
      ],
      ctFfrBias: rng.normal(0, 0.01),
      errorSdFactor: exp(rng.normal(0, 0.08)),
      rejectionLogitOffset: rng.normal(0, 0.25),
      devices,
      dataSourceId: `CATH-${code}`,
      dataSourceName: `Cath lab, ${entry.name}`,
    };
  }

  /**
   * Site and vendor effects are deviations *around* the product's population bias b of §4.3: centre their
   * volume-weighted sum at zero, so the fleet as a whole reproduces §4.3 whatever the seed, while individual sites and
   * scanners still differ (and remain drift targets).
   */
  private centreSiteBiases(): void {
    let weighted = 0;
    let volume = 0;
    for (const site of this.sites) {
      const vendor = this.vendorEffects[site.scanners[0].scanner.vendor];
      weighted += site.patientsPerDay * (site.ctFfrBias + vendor.ctFfrBias);
      volume += site.patientsPerDay;
    }
    const mean = weighted / volume;
    for (const site of this.sites) site.ctFfrBias -= mean;
  }

  /**
   * Releases: the base version is installed everywhere at the start; ffrnet-2026.1 is released mid-period and rolled
   * out device by device over a third of the period (at most 45 days); each `--bad-model` is rolled out from its date
   * over 21 days. A device runs the latest release whose roll-out has reached it.
   */
  private buildReleases(rng: Random): ModelRelease[] {
    const span = this.end - this.start;
    const releases: ModelRelease[] = [
      {
        version: BASE_MODEL_VERSION,
        softwareVersion: BASE_SOFTWARE_VERSION,
        releasedAt: this.start - 150 * DAY_MS,
        ctFfrBias: 0,
        rejectionOddsFactor: 1,
        processingSpeedFactor: 1,
        outOfRangeRateFactor: 1,
        injected: false,
      },
      {
        version: UPDATE_MODEL_VERSION,
        softwareVersion: UPDATE_SOFTWARE_VERSION,
        releasedAt: this.start + round(span / 2),
        ctFfrBias: 0,
        // Better motion correction and a faster solver; accuracy unchanged, so no spurious performance drift.
        rejectionOddsFactor: 0.85,
        processingSpeedFactor: 0.8,
        outOfRangeRateFactor: 1,
        injected: false,
      },
    ];
    this.injections.badModels.forEach((bad, i) => {
      releases.push({
        version: bad.version,
        softwareVersion: `1.5.${i + 1}`,
        releasedAt: bad.from,
        ctFfrBias: bad.bias,
        rejectionOddsFactor: 0.85,
        processingSpeedFactor: 0.8,
        // A miscalibrated model also trips the device's own output range check more often.
        outOfRangeRateFactor: 10,
        injected: true,
      });
    });
    const devices = this.sites.flatMap((site) => site.devices);
    for (const release of releases) {
      if (release.version === BASE_MODEL_VERSION) {
        for (const device of devices) {
          device.versions.push({
            from: -Infinity,
            modelVersion: release.version,
            softwareVersion: release.softwareVersion,
          });
        }
        continue;
      }
      const rolloutMs = release.injected ? 21 * DAY_MS : min(45 * DAY_MS, span / 3);
      const order = rng.fork('rollout', release.version).shuffle(devices);
      order.forEach((device, rank) => {
        const from = release.releasedAt + round((rolloutMs * rank) / max(1, order.length));
        device.versions.push({
          from,
          modelVersion: release.version,
          softwareVersion: release.softwareVersion,
        });
      });
    }
    for (const device of devices) device.versions.sort((a, b) => a.from - b.from);
    return releases;
  }

  private applyScannerChanges(): void {
    for (const change of this.injections.scannerChanges) {
      const site = this.site(change.siteId);
      const profile = SCANNERS[change.vendor];
      site.scanners.push({
        from: change.from,
        scanner: {
          vendor: change.vendor,
          model: profile.model,
          sliceThicknessMm: profile.sliceThicknessOptionsMm[0],
          tubeVoltageKv: profile.tubeVoltageKv,
        },
      });
      site.scanners.sort((a, b) => a.from - b.from);
    }
  }

  site(siteId: string): SiteProfile {
    const site = this.sitesById.get(siteId);
    if (!site)
      throw new RangeError(`unknown site ${siteId} (fleet: ${this.sites.map((s) => s.siteId).join(', ')})`);
    return site;
  }

  hasSite(siteId: string): boolean {
    return this.sitesById.has(siteId);
  }

  device(deviceId: string): DeviceProfile {
    const device = this.devicesById.get(deviceId);
    if (!device) throw new RangeError(`unknown device ${deviceId}`);
    return device;
  }

  get devices(): DeviceProfile[] {
    return this.sites.flatMap((site) => site.devices);
  }

  release(version: string): ModelRelease {
    const release = this.releasesByVersion.get(version);
    if (!release) throw new RangeError(`unknown model version ${version}`);
    return release;
  }

  /** The version a device runs at time t. */
  versionAt(device: DeviceProfile, at: number): DeviceVersionSpan {
    let current = device.versions[0];
    for (const span of device.versions) {
      if (span.from <= at) current = span;
      else break;
    }
    return current;
  }

  scannerAt(site: SiteProfile, at: number): SiteScanner {
    let current = site.scanners[0].scanner;
    for (const entry of site.scanners) {
      if (entry.from <= at) current = entry.scanner;
      else break;
    }
    return current;
  }

  /** Sum of `--site-bias` injections active at the site at time t. */
  injectedSiteBiasAt(site: SiteProfile, at: number): number {
    let bias = 0;
    for (const injection of this.injections.siteBiases) {
      if (injection.siteId === site.siteId && at >= injection.from) bias += injection.bias;
    }
    return bias;
  }

  /** Sum of `--hr-shift` injections active at the site at time t. */
  heartRateShiftAt(site: SiteProfile, at: number): number {
    let shift = 0;
    for (const injection of this.injections.heartRateShifts) {
      if (injection.siteId === site.siteId && at >= injection.from) shift += injection.shiftBpm;
    }
    return shift;
  }

  /** Expected analyses per simulated day over the fleet (weekends at a quarter of weekday volume). */
  expectedPatientsPerDay(): number {
    const weekly = this.sites.reduce(
      (sum, site) => sum + site.patientsPerDay * (5 + 2 * WEEKEND_VOLUME_FACTOR),
      0,
    );
    return weekly / 7;
  }
}

/** Elective CTA volume on Saturdays and Sundays relative to a weekday. */
export const WEEKEND_VOLUME_FACTOR = 0.25;
