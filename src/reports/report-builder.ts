import type { ClaimComparison } from '../performance/claims';
import type {
  InsufficientData,
  PerformanceFigures,
  ProportionFigure,
} from '../performance/performance-report';
import { rocCurve } from '../stats/roc';
import type { ReportConfiguration } from './report-configuration';
import type {
  Cell,
  ForestEstimate,
  ReportDocument,
  ReportFigure,
  ReportSection,
  ReportTable,
  Statement,
} from './report-document';
import type { IncidentInput, ReportInputs } from './report-inputs';
import { monthsBetween } from './report-period';
import {
  EEA_TR_XI,
  PSUR_IMDRF_ANNEXES,
  REPORT_SCHEMA_VERSION,
  REPORT_TITLES,
  SECTIONS,
  SectionRule,
} from './report-rules';

/** Most points a chart carries; above it the (mean, difference) cells are pooled on a 0.01 grid, counts kept. */
const MAX_CHART_POINTS = 2500;
const MAX_ROC_POINTS = 400;

/**
 * Benefit–risk rules: what in the period's data makes the platform propose "adversely impacted" (MDCG 2022-21 Annex I
 * §2 asks for one of adversely impacted / unchanged / positively impacted; the declaration is the manufacturer's, given
 * when a quality user finalises the report). "Positively impacted" is never proposed: surveillance data cannot show a
 * new benefit.
 */
export const BENEFIT_RISK_RULES = [
  {
    id: 'claim-not-met',
    text: 'a premarket performance claim is not met: the lower 95% confidence bound of the field estimate is below the claim minus the non-inferiority margin',
  },
  {
    id: 'serious-incident-related',
    text: 'a serious incident in the period whose causality was assessed possible, probable or causal',
  },
  { id: 'trend-signal', text: 'a statistically significant trend (MDR Art. 88) in the period' },
  { id: 'drift-unresolved', text: 'a drift alert still unresolved at the end of the period' },
] as const;

/** Builds the report document: pure, so the same inputs and configuration give the same JSON byte for byte. */
export function buildReport(inputs: ReportInputs, configuration: ReportConfiguration): ReportDocument {
  const blocks = contentBlocks(inputs, configuration);
  const fill = (rule: SectionRule, content: SectionContent): ReportSection => ({
    key: rule.key,
    number: rule.number,
    title: rule.title,
    ...(rule.titleZh ? { titleZh: rule.titleZh } : {}),
    source: rule.source,
    statements: content.statements ?? [],
    tables: content.tables ?? [],
    figures: content.figures ?? [],
    data: content.data ?? {},
  });
  const byKey: Record<string, SectionContent> =
    inputs.type === 'psur'
      ? {
          cover: blocks.cover,
          executiveSummary: blocks.executiveSummary,
          devices: blocks.devices,
          grouping: blocks.grouping,
          volumeOfSales: blocks.volume,
          population: blocks.population,
          vigilance: blocks.vigilance,
          generalPms: merge(blocks.complaints, blocks.otherSources, blocks.performance, blocks.drift),
          pmcf: blocks.pmcf,
          conclusions: blocks.conclusions,
        }
      : {
          productInformation: merge(blocks.cover, blocks.devices),
          marketingStatus: blocks.marketingStatus,
          previousRiskControl: blocks.previousRiskControl,
          salesAndUse: merge(blocks.volume, blocks.population),
          adverseEvents: merge(blocks.vigilance, blocks.complaints),
          riskResearch: merge(blocks.performance, blocks.pmcf),
          otherRisk: merge(blocks.otherSources, blocks.drift),
          riskEvaluation: blocks.executiveSummary,
          conclusions: blocks.conclusions,
          annexes: blocks.annexes,
        };
  return {
    documentType: inputs.type,
    schemaVersion: REPORT_SCHEMA_VERSION,
    title: REPORT_TITLES[inputs.type],
    reference: inputs.reference,
    period: inputs.period,
    manufacturer: inputs.manufacturer.name,
    product: { name: inputs.product.name, udiDi: inputs.product.udiDi, riskClass: inputs.product.riskClass },
    configuration,
    dataBasis: inputs.dataMarks,
    sections: SECTIONS[inputs.type].map((rule) => fill(rule, byKey[rule.key])),
  };
}

interface SectionContent {
  statements?: Statement[];
  tables?: ReportTable[];
  figures?: ReportFigure[];
  data?: Record<string, unknown>;
}

function merge(...contents: SectionContent[]): SectionContent {
  return {
    statements: contents.flatMap((c) => c.statements ?? []),
    tables: contents.flatMap((c) => c.tables ?? []),
    figures: contents.flatMap((c) => c.figures ?? []),
    data: Object.assign({}, ...contents.map((c) => c.data ?? {})) as Record<string, unknown>,
  };
}

const say = (text: string, emphasis = false): Statement => (emphasis ? { text, emphasis } : { text });
const round = (value: number, digits = 4): number => Number(value.toFixed(digits));
const percent = (value: number | null): string => (value === null ? '—' : `${(100 * value).toFixed(1)}%`);

/** A proportion as the reports print it: estimate, n and the patient-clustered 95% CI (Wilson where no cluster CI). */
function proportionCells(figure: ProportionFigure | InsufficientData): {
  text: string;
  ci: [number, number] | null;
} {
  if (figure.estimate === null) return { text: `insufficient data (n = ${figure.n})`, ci: null };
  const ci = figure.ci95.cluster ?? figure.ci95.wilson;
  return {
    text: `${percent(figure.estimate)} (${figure.successes}/${figure.n}; 95% CI ${percent(ci[0])}–${percent(ci[1])}${figure.ci95.cluster ? ', patient-clustered' : ', Wilson'})`,
    ci: [ci[0], ci[1]],
  };
}

function forestEstimate(figure: ProportionFigure | InsufficientData): ForestEstimate | null {
  if (figure.estimate === null) return null;
  const ci = figure.ci95.cluster ?? figure.ci95.wilson;
  return { estimate: round(figure.estimate), n: figure.n, ci95: [round(ci[0]), round(ci[1])] };
}

function isSerious(incident: IncidentInput): boolean {
  return incident.seriousness !== 'non_serious';
}

function inWindow(incident: IncidentInput, window: { from: string; to: string }): boolean {
  return incident.awarenessDate >= window.from && incident.awarenessDate <= window.to;
}

function inEea(incident: IncidentInput, eea: readonly string[]): boolean {
  return incident.countries.some((country) => eea.includes(country));
}

function contentBlocks(inputs: ReportInputs, configuration: ReportConfiguration) {
  const { product, period, performance } = inputs;
  const overall = performance.overall.overall;
  const windowN = inputs.volume[0];
  const worldwideN = windowN.regions.find((r) => r.region === 'Worldwide')!;
  const periodIncidents = inputs.incidents.filter((incident) => inWindow(incident, period));
  const seriousInPeriod = periodIncidents.filter(isSerious);
  const claims = performance.overall.claims;
  const eea: readonly string[] = EEA_TR_XI;

  // ── benefit–risk ────────────────────────────────────────────────────────────────────────────
  const findings: Array<{ rule: string; detail: string }> = [];
  for (const claim of claims.filter((c) => c.holds === false)) {
    findings.push({
      rule: 'claim-not-met',
      detail: `${claim.metric}: claimed ${claim.claimed}, field lower 95% bound ${claim.observedLowerBound?.toFixed(4)} < ${round(claim.claimed - claim.margin)}`,
    });
  }
  for (const incident of seriousInPeriod.filter((i) =>
    ['possible', 'probable', 'causal'].includes(i.causality),
  )) {
    findings.push({
      rule: 'serious-incident-related',
      detail: `incident ${incident.id} (${incident.seriousness}, aware ${incident.awarenessDate}, causality ${incident.causality})`,
    });
  }
  for (const signal of inputs.trend?.signals ?? []) {
    findings.push({
      rule: 'trend-signal',
      detail: `${signal.month} ${signal.unit} (${signal.group}), p = ${signal.pValue}`,
    });
  }
  if (inputs.drift.available) {
    for (const alert of inputs.drift.alerts.filter((a) => a.statusAtPeriodEnd !== 'resolved')) {
      findings.push({
        rule: 'drift-unresolved',
        detail: `${alert.monitor} (${alert.segment}) opened ${alert.openedAt}`,
      });
    }
  }
  const claimsAssessable = claims.some((c) => c.holds !== null);
  const conclusion =
    findings.length > 0
      ? 'adversely impacted'
      : claimsAssessable
        ? 'unchanged'
        : 'not assessable from the platform data';
  const conclusionText =
    conclusion === 'not assessable from the platform data'
      ? 'Benefit–risk: the platform data of this period are insufficient to assess the benefit–risk profile (no premarket claim could be tested).'
      : `Benefit–risk: the benefit–risk profile of ${product.name} is ${conclusion} in this period, on the platform data.`;

  // ── cover ───────────────────────────────────────────────────────────────────────────────────
  const cover: SectionContent = {
    statements: [
      say(
        'The platform holds no notified body name or number, SRN or authorised representative for this manufacturer; the manufacturer adds them to the submission.',
      ),
    ],
    tables: [
      {
        id: 'cover',
        title: 'Report identification',
        columns: ['Item', 'Value'],
        rows: [
          ['Manufacturer', inputs.manufacturer.name],
          ['Device (trade name)', product.name],
          ['Basic UDI-DI', product.udiDi],
          ['Risk class', product.riskClass],
          ['Jurisdictions', product.jurisdictions.join(', ')],
          ['Report reference', inputs.reference],
          ['Data collection period', `${period.from} to ${period.to}`],
        ],
      },
    ],
    data: { manufacturer: inputs.manufacturer.name, product: { name: product.name, udiDi: product.udiDi } },
  };

  // ── executive summary ───────────────────────────────────────────────────────────────────────
  const executiveSummary: SectionContent = {
    statements: [
      say(
        inputs.previousReport
          ? `Previous report: ${inputs.previousReport.reference} (${inputs.previousReport.from} to ${inputs.previousReport.to}, finalised ${inputs.previousReport.finalizedAt}). The platform records no open actions from it.`
          : 'No previous report of this type for this device is held on the platform.',
      ),
      say(
        `Data collection period ${period.from} to ${period.to}; tables use rolling ${configuration.windowMonths}-month windows ending on ${period.to}.`,
      ),
      say(
        `${worldwideN.analyses} analyses (episodes of use) in window N on ${worldwideN.activeDevices} active installations; ` +
          `${inputs.population.patients} patients exposed in the period; ${seriousInPeriod.length} serious and ` +
          `${periodIncidents.length - seriousInPeriod.length} non-serious incidents with awareness in the period; ` +
          `${overall.vessels} vessels linked to invasive FFR.`,
      ),
      say(conclusionText, true),
      ...findings.map((finding) => say(`Finding (${finding.rule}): ${finding.detail}.`)),
    ],
    data: {
      benefitRisk: { proposed: conclusion, findings, rules: BENEFIT_RISK_RULES },
      previousReport: inputs.previousReport,
    },
  };

  // ── devices ─────────────────────────────────────────────────────────────────────────────────
  const devices: SectionContent = {
    statements: [
      say(
        inputs.firstAnalysisAt
          ? `First analysis held on the platform: ${inputs.firstAnalysisAt} (the date the software was first made available is the manufacturer's record).`
          : 'The platform holds no analysis for this device.',
      ),
      say(
        'Intended purpose, indications, contraindications, target populations and the EMDN code are not held on the platform; they are those of the technical documentation.',
      ),
      say(
        `Status: ${inputs.installedBase.devicesRegistered - inputs.installedBase.devicesRevoked} installations registered and not revoked, ${inputs.installedBase.devicesRevoked} revoked.`,
      ),
    ],
    tables: [
      {
        id: 'model-versions',
        title: 'Model / software versions',
        columns: ['Version', 'Released', 'Released in period', 'Notes'],
        rows: inputs.modelVersions.map((v) => [
          v.version,
          v.releasedAt,
          v.releasedAt >= period.from && v.releasedAt <= period.to ? 'yes' : 'no',
          v.notes,
        ]),
      },
    ],
    data: { modelVersions: inputs.modelVersions, firstAnalysisAt: inputs.firstAnalysisAt },
  };

  const grouping: SectionContent = {
    statements: [
      say(
        `This report covers one device, ${product.name} (Basic UDI-DI ${product.udiDi}), which is the leading device.`,
      ),
    ],
  };

  // ── volume ──────────────────────────────────────────────────────────────────────────────────
  const regions = windowN.regions.map((r) => r.region);
  const volume: SectionContent = {
    statements: [
      say(
        'Counting criterion: episodes of use (CT-FFR analyses performed, completed or not) and active installed base (installations with at least one analysis in the window). Regions by the site’s country; Worldwide includes EEA+TR+XI.',
      ),
    ],
    tables: [
      {
        id: 'table-1-analyses',
        title: 'Table 1 — Analyses performed (episodes of use) per rolling window',
        columns: ['Region', ...inputs.volume.map((w) => `${w.label} (${w.from} – ${w.to})`)],
        rows: regions.map((region) => [
          region,
          ...inputs.volume.map((w) => w.regions.find((r) => r.region === region)!.analyses),
        ]),
      },
      {
        id: 'table-1-installed-base',
        title: 'Table 1b — Active installed base (installations / sites) per rolling window',
        columns: ['Region', ...inputs.volume.map((w) => w.label)],
        rows: regions.map((region) => [
          region,
          ...inputs.volume.map((w) => {
            const row = w.regions.find((r) => r.region === region)!;
            return `${row.activeDevices} / ${row.activeSites}`;
          }),
        ]),
      },
      {
        id: 'table-1-outcome',
        title: `Analyses by outcome, window N (${windowN.from} – ${windowN.to})`,
        columns: ['Region', 'Completed', 'Rejected (not evaluable)', 'Failed (software error)'],
        rows: windowN.regions.map((r) => [r.region, r.completed, r.rejected, r.failed]),
      },
    ],
    data: { volume: inputs.volume, installedBase: inputs.installedBase },
  };

  // ── population ──────────────────────────────────────────────────────────────────────────────
  const population: SectionContent = {
    statements: [
      say(
        `${inputs.population.patients} patients exposed (distinct site-scoped pseudonyms) with ${inputs.population.analyses} analyses in the period` +
          (inputs.population.analysesPerPatient.mean !== null
            ? `; ${inputs.population.analysesPerPatient.mean.toFixed(2)} analyses per patient on average (max ${inputs.population.analysesPerPatient.max}).`
            : '.'),
      ),
    ],
    tables: [
      {
        id: 'table-2-population',
        title: 'Table 2 — Patients exposed by region',
        columns: ['Region', 'Patients', 'Analyses'],
        rows: inputs.population.byRegion.map((r) => [r.region, r.patients, r.analyses]),
      },
      {
        id: 'table-3-age',
        title: 'Table 3 — Population characteristics: age (analyses)',
        columns: ['Age band', 'Analyses', 'Share'],
        rows: inputs.population.ageBands.map((b) => [
          b.band,
          b.analyses,
          inputs.population.analyses > 0 ? percent(b.analyses / inputs.population.analyses) : '—',
        ]),
      },
      {
        id: 'table-3-sex-scanner',
        title: 'Table 3 — Population characteristics: sex and scanner vendor (analyses)',
        columns: ['Characteristic', 'Value', 'Analyses'],
        rows: [
          ...inputs.population.sex.map((s): Cell[] => ['sex', s.sex, s.analyses]),
          ...inputs.population.scannerVendors.map((v): Cell[] => ['scanner vendor', v.vendor, v.analyses]),
        ],
      },
    ],
    data: { population: inputs.population },
  };

  // ── vigilance ───────────────────────────────────────────────────────────────────────────────
  const analysesIn = (window: (typeof inputs.volume)[number], region: 'EEA+TR+XI' | 'Worldwide') =>
    window.regions.find((r) => r.region === region)!.analyses;
  const codeTable = (annex: string, id: string, title: string, serious: boolean): ReportTable => {
    const selected = inputs.incidents.filter((i) => isSerious(i) === serious);
    const codes = [...new Set(selected.flatMap((i) => i.imdrf[annex] ?? []))].sort();
    const uncoded = selected.filter((i) => (i.imdrf[annex] ?? []).length === 0);
    const rows: Cell[][] = [];
    for (const code of [...codes, 'not coded']) {
      const matches = (i: IncidentInput) =>
        code === 'not coded' ? uncoded.includes(i) : (i.imdrf[annex] ?? []).includes(code);
      for (const region of ['EEA+TR+XI', 'Worldwide'] as const) {
        const cells = inputs.volume.map((window) => {
          const count = selected.filter(
            (i) => matches(i) && inWindow(i, window) && (region === 'Worldwide' || inEea(i, eea)),
          ).length;
          const denominator = analysesIn(window, region);
          return `${count}${denominator > 0 ? ` (${((1000 * count) / denominator).toFixed(3)}‰)` : ''}`;
        });
        rows.push([code, region, ...cells]);
      }
    }
    return {
      id,
      title,
      columns: ['IMDRF code', 'Region', ...inputs.volume.map((w) => w.label)],
      rows,
      note: 'Count (rate per 1,000 analyses in the same window and region). An incident counts once per code it carries.',
    };
  };
  const annexF = [...new Set(inputs.incidents.filter(isSerious).flatMap((i) => i.imdrf.F ?? []))].sort();
  const annexD = [...new Set(inputs.incidents.filter(isSerious).flatMap((i) => i.imdrf.D ?? []))].sort();
  const seenBefore = new Set(
    inputs.incidents
      .filter((i) => i.awarenessDate < windowN.from)
      .flatMap((i) => Object.values(i.imdrf).flat()),
  );
  const newTypes = [
    ...new Set(
      inputs.incidents.filter((i) => inWindow(i, windowN)).flatMap((i) => Object.values(i.imdrf).flat()),
    ),
  ]
    .filter((code) => !seenBefore.has(code))
    .sort();
  const months = monthsBetween(period.from, period.to);
  const vigilance: SectionContent = {
    statements: [
      say(
        `${seriousInPeriod.length} serious incidents with awareness in the period; ${inputs.incidents.filter(isSerious).length} over the ${inputs.volume.length} rolling windows (deaths: ${inputs.incidents.filter((i) => i.seriousness === 'death').length}).`,
      ),
      say(
        newTypes.length > 0
          ? `IMDRF codes first seen in window N: ${newTypes.join(', ')}.`
          : 'No incident type (IMDRF code) appeared for the first time in window N.',
      ),
      say(
        inputs.trend
          ? `Trend reporting (MDR Art. 88): ${inputs.trend.cellsTested} month × group cells tested over ${inputs.trend.months.length} months with the pre-specified method (${inputs.trend.falseAlarm}); ${inputs.trend.signals.length} statistically significant increase(s).`
          : 'Trend reporting (MDR Art. 88): no trend evaluation is available for this product.',
      ),
      say(
        'Field safety corrective actions (FSCA): none are recorded on the platform for this device in the period.',
      ),
      say(
        'Corrective and preventive actions (CAPA): none are recorded on the platform for this device in the period.',
      ),
    ],
    tables: [
      codeTable(
        'A',
        'table-4-annex-a',
        'Table 4 — Serious incidents by IMDRF Annex A (device problem)',
        true,
      ),
      codeTable(
        'C',
        'table-5-annex-c',
        'Table 5 — Serious incidents by IMDRF Annex C (cause investigation)',
        true,
      ),
      {
        id: 'table-6-annex-f-d',
        title:
          'Table 6 — Serious incidents, IMDRF Annex F (health effect) × Annex D (conclusion), all windows',
        columns: ['Annex F \\ Annex D', ...annexD, 'D not coded'],
        rows: [...annexF, 'F not coded'].map((f) => [
          f,
          ...[...annexD, 'D not coded'].map(
            (d) =>
              inputs.incidents.filter(isSerious).filter((i) => {
                const fs = i.imdrf.F ?? [];
                const ds = i.imdrf.D ?? [];
                return (
                  (f === 'F not coded' ? fs.length === 0 : fs.includes(f)) &&
                  (d === 'D not coded' ? ds.length === 0 : ds.includes(d))
                );
              }).length,
          ),
        ]),
      },
      {
        id: 'serious-incidents',
        title: 'Serious incidents with awareness in the period',
        columns: ['Incident', 'Awareness', 'Seriousness', 'State', 'Causality', 'Countries', 'IMDRF codes'],
        rows: seriousInPeriod.map((i) => [
          i.id,
          i.awarenessDate,
          i.seriousness,
          i.state,
          i.causality,
          i.countries.join(' '),
          Object.values(i.imdrf).flat().join(' ') || 'not coded',
        ]),
      },
      {
        id: 'trend-signals',
        title: 'Trend reporting: significant increases (MDR Art. 88)',
        columns: ['Month', 'Unit', 'Group', 'Count', 'Analyses', 'Rate ‰', 'Baseline ‰', 'Rate ratio', 'p'],
        rows: (inputs.trend?.signals ?? []).map((s) => [
          s.month,
          s.unit,
          s.group,
          s.count,
          s.exposure,
          s.ratePer1000,
          s.baselineRatePer1000,
          s.rateRatio,
          s.pValue,
        ]),
      },
    ],
    figures: [
      {
        id: 'incidents-per-month',
        kind: 'incidents-per-month',
        title: 'Incidents per month of awareness (serious / non-serious)',
        data: {
          months,
          serious: months.map(
            (m) => periodIncidents.filter((i) => isSerious(i) && i.awarenessDate.startsWith(m)).length,
          ),
          nonSerious: months.map(
            (m) => periodIncidents.filter((i) => !isSerious(i) && i.awarenessDate.startsWith(m)).length,
          ),
        },
      },
    ],
    data: {
      incidents: inputs.incidents,
      trend: inputs.trend,
      newIncidentTypes: newTypes,
      imdrfAnnexes: PSUR_IMDRF_ANNEXES,
    },
  };

  // ── complaints / non-serious ───────────────────────────────────────────────────────────────
  const nonSerious = periodIncidents.filter((i) => !isSerious(i));
  const periodAnalyses = inputs.population.analyses;
  const nonSeriousCodes = [...new Set(nonSerious.flatMap((i) => i.imdrf.A ?? []))].sort();
  const complaints: SectionContent = {
    statements: [
      say(
        `${nonSerious.length} non-serious incidents and complaints with awareness in the period (${nonSerious.filter((i) => i.source === 'complaint').length} from clinician complaints, ${nonSerious.filter((i) => i.source === 'detection').length} from automated detection); rate reference: analyses performed in the period (${periodAnalyses}).`,
      ),
    ],
    tables: [
      {
        id: 'non-serious-annex-a',
        title: 'Non-serious incidents and complaints by IMDRF Annex A, period',
        columns: ['IMDRF Annex A', 'Count', 'Rate per 1,000 analyses'],
        rows: [...nonSeriousCodes, 'not coded'].map((code) => {
          const count = nonSerious.filter((i) =>
            code === 'not coded' ? (i.imdrf.A ?? []).length === 0 : (i.imdrf.A ?? []).includes(code),
          ).length;
          return [code, count, periodAnalyses > 0 ? round((1000 * count) / periodAnalyses) : null];
        }),
      },
    ],
  };

  const otherSources: SectionContent = {
    statements: [
      say(
        'Literature, public databases and registries, and similar-device information are not collected by the platform; none is reported here.',
      ),
    ],
  };

  // ── performance ─────────────────────────────────────────────────────────────────────────────
  const metricRows = (figures: PerformanceFigures): Cell[][] => {
    const rows: Cell[][] = [];
    for (const metric of ['sensitivity', 'specificity', 'ppv', 'npv', 'accuracy'] as const) {
      const figure = figures[metric];
      rows.push([metric, proportionCells(figure).text]);
    }
    rows.push([
      'AUC',
      figures.auc.estimate === null
        ? `insufficient data (n = ${figures.auc.n})`
        : `${figures.auc.estimate.toFixed(3)} (n = ${figures.auc.n} vessels; 95% CI ${formatInterval(figures.auc.ci95.obuchowski ?? figures.auc.ci95.delong)}${figures.auc.ci95.obuchowski ? ', Obuchowski clustered' : ', DeLong'})`,
    ]);
    const ba = figures.blandAltman;
    rows.push([
      'Bland–Altman bias (CT-FFR − FFR)',
      'bias' in ba
        ? `${ba.bias.toFixed(4)} (n = ${ba.n}; 95% CI ${formatInterval(ba.biasCi95Clustered ?? ba.biasCi95)}); limits of agreement ${formatInterval(ba.loaRepeated ?? ba.loa)}`
        : `insufficient data (n = ${ba.n})`,
    ]);
    return rows;
  };
  const groupRows = (groups: ReportInputs['performance']['bySite']): Cell[][] =>
    groups.map((g) => [
      g.key,
      g.vessels,
      g.patients,
      proportionCells(g.sensitivity).text,
      proportionCells(g.specificity).text,
      g.auc.estimate === null ? `insufficient data (n = ${g.auc.n})` : g.auc.estimate.toFixed(3),
    ]);
  const groupTable = (
    id: string,
    title: string,
    groups: ReportInputs['performance']['bySite'],
  ): ReportTable => ({
    id,
    title,
    columns: ['Group', 'Vessels', 'Patients', 'Sensitivity', 'Specificity', 'AUC'],
    rows: groupRows(groups),
  });
  const vb = performance.overall.verificationBias;
  const performanceBlock: SectionContent = {
    statements: [
      say(
        `Real-world performance against invasive FFR (threshold ${configuration.threshold}; a vessel is positive when its value is ≤ the threshold): ${overall.vessels} linked vessels in ${overall.patients} patients. Confidence intervals treat vessels of one patient as a cluster (21 CFR 870.1415(b)(3)(v)).`,
      ),
      say(
        `Partial verification: ${vb.verifiedVessels} of ${vb.analysedVessels} analysed vessels (${percent(vb.verifiedFraction)}) received an invasive FFR. ${vb.method}.` +
          (vb.sensitivity.estimate !== null && vb.specificity.estimate !== null
            ? ` Corrected sensitivity ${percent(vb.sensitivity.estimate)}, specificity ${percent(vb.specificity.estimate)} (verified-only: ${percent(vb.naive.sensitivity)}, ${percent(vb.naive.specificity)}).`
            : ' The corrected estimates are not estimable on these data.'),
      ),
    ],
    tables: [
      {
        id: 'performance-overall',
        title: 'Real-world diagnostic performance, per vessel (period)',
        columns: ['Metric', 'Estimate (n; 95% CI)'],
        rows: metricRows(overall),
      },
      {
        id: 'performance-claims',
        title: 'Against the premarket claims (non-inferiority)',
        columns: ['Metric', 'Claimed (95% CI; n)', 'Observed', 'Lower 95% bound', 'Margin', 'Holds', 'Test'],
        rows: claims.map((c: ClaimComparison) => [
          c.metric,
          `${c.claimed} (${formatInterval(c.claimedCi95)}; n = ${c.claimedN})`,
          c.observed === null ? null : round(c.observed),
          c.observedLowerBound === null ? null : round(c.observedLowerBound),
          c.margin,
          c.holds === null ? 'not assessable (insufficient data)' : c.holds ? 'yes' : 'NO',
          c.test,
        ]),
      },
      groupTable('performance-by-site', 'Performance by site', performance.bySite),
      groupTable('performance-by-scanner', 'Performance by scanner vendor', performance.byScannerVendor),
      groupTable('performance-by-model-version', 'Performance by model version', performance.byModelVersion),
    ],
    figures: [blandAltmanFigure(inputs), rocFigure(inputs, configuration.threshold), forestFigure(inputs)],
    data: {
      performanceDetail: performance.detail,
      overall: performance.overall,
      bySite: performance.bySite,
      byScannerVendor: performance.byScannerVendor,
      byModelVersion: performance.byModelVersion,
    },
  };

  // ── drift ───────────────────────────────────────────────────────────────────────────────────
  const drift: SectionContent = inputs.drift.available
    ? {
        statements: [
          say(
            `Drift monitoring: ${inputs.drift.alerts.length} alert(s) open at some time in the period; ${inputs.drift.alerts.filter((a) => a.statusAtPeriodEnd === 'resolved').length} resolved by its end. Thresholds are calibrated to a target false-alarm rate at the actual window size.`,
          ),
        ],
        tables: [
          {
            id: 'drift-alerts',
            title: 'Drift alerts and their resolution',
            columns: [
              'Monitor',
              'Family',
              'Segment',
              'Opened',
              'Status at period end',
              'Resolved',
              'Resolution',
            ],
            rows: inputs.drift.alerts.map((a) => [
              a.monitor,
              a.family,
              a.segment,
              a.openedAt,
              a.statusAtPeriodEnd,
              a.resolvedAt,
              a.resolution,
            ]),
          },
        ],
        figures: inputs.drift.series.map((series): ReportFigure => ({
          id: `drift-${series.monitor}`,
          kind: 'drift-control',
          title: `Drift control chart: ${series.monitor} (overall)`,
          data: { monitor: series.monitor, points: series.points },
        })),
        data: { drift: inputs.drift },
      }
    : { statements: [say(inputs.drift.statement)], data: { drift: inputs.drift } };

  // ── PMCF ────────────────────────────────────────────────────────────────────────────────────
  const failing = [
    ...performance.byModelVersion.flatMap((g) =>
      (g.claims ?? []).filter((c) => c.holds === false).map((c) => `model version ${g.key}: ${c.metric}`),
    ),
  ];
  const pmcf: SectionContent = {
    statements: [
      say(
        `Main findings from real-world data: ${claims
          .map(
            (c) =>
              `${c.metric} ${c.holds === null ? 'not assessable' : c.holds ? 'meets' : 'does NOT meet'} its premarket claim`,
          )
          .join('; ')}.`,
      ),
      say(
        failing.length > 0
          ? `Claims not met by model version: ${failing.join('; ')}.`
          : 'No model version with enough linked vessels falls short of a premarket claim.',
      ),
      say('A PMCF evaluation report is not held on the platform; the manufacturer references it here.'),
    ],
  };

  // ── conclusions ─────────────────────────────────────────────────────────────────────────────
  const missingAge = inputs.population.ageBands.find((b) => b.band === 'not recorded')?.analyses ?? 0;
  const conclusions: SectionContent = {
    statements: [
      say(
        `Validity of the data: accuracy rests on the ${vb.verifiedVessels} vessels that received an invasive FFR (${percent(vb.verifiedFraction)} of analysed vessels); invasive FFR is measured mostly where CT-FFR was low or borderline, so verified-only estimates are subject to partial-verification bias — corrected estimates are given in section 8/6. ${missingAge} analyses in the period carry no patient age.`,
      ),
      say(
        `Performance figures were computed by the platform's ${performance.detail === 'full' ? 'vessel-level' : 'daily roll-up'} path; figures with too few units are withheld and say so.`,
      ),
      say(conclusionText, true),
      say('Actions taken (MDR Art. 83(3)): none are recorded on the platform for this period.'),
    ],
    data: { benefitRisk: conclusion, findings },
  };

  const marketingStatus: SectionContent = {
    statements: [
      say(`Jurisdictions registered for the device: ${product.jurisdictions.join(', ')}.`),
      say(
        `${inputs.installedBase.devicesRegistered} installations registered in ${inputs.installedBase.byCountry.length} countries; ${inputs.installedBase.devicesRevoked} revoked.`,
      ),
    ],
    tables: [
      {
        id: 'installed-base-by-country',
        title: 'Installed base by country',
        columns: ['Country', 'Sites', 'Installations'],
        rows: inputs.installedBase.byCountry.map((c) => [c.country, c.sites, c.devices]),
      },
    ],
  };

  const previousRiskControl: SectionContent = {
    statements: [
      say(
        inputs.previousReport
          ? `Previous report ${inputs.previousReport.reference} (${inputs.previousReport.from} to ${inputs.previousReport.to}).`
          : 'No previous periodic risk evaluation report is held on the platform.',
      ),
      say(
        'Risk-control measures (suspension of production or sales, recall, risk communication, label or IFU change, design change, re-evaluation, variation registration): none are recorded on the platform.',
      ),
    ],
  };

  const annexes: SectionContent = {
    statements: [
      say(
        'Configuration and data basis of this report (the same data and configuration reproduce it byte for byte).',
      ),
    ],
    tables: [
      {
        id: 'configuration',
        title: 'Configuration',
        columns: ['Parameter', 'Value'],
        rows: Object.entries(configuration).map(([key, value]) => [
          key,
          typeof value === 'object' ? JSON.stringify(value) : String(value),
        ]),
      },
      {
        id: 'data-basis',
        title: 'Data basis (high-water marks)',
        columns: ['Mark', 'Value'],
        rows: Object.entries(inputs.dataMarks).map(([key, value]) => [
          key,
          value === null ? null : String(value),
        ]),
      },
    ],
  };

  return {
    cover,
    executiveSummary,
    devices,
    grouping,
    volume,
    population,
    vigilance,
    complaints,
    otherSources,
    performance: performanceBlock,
    drift,
    pmcf,
    conclusions,
    marketingStatus,
    previousRiskControl,
    annexes,
  };
}

function formatInterval(interval: readonly [number, number] | null | undefined): string {
  return interval ? `${interval[0].toFixed(3)}–${interval[1].toFixed(3)}` : '—';
}

function blandAltmanFigure(inputs: ReportInputs): ReportFigure {
  const ba = inputs.performance.overall.overall.blandAltman;
  const pooled = new Map<string, { mean: number; difference: number; vessels: number }>();
  const cells = inputs.performance.pairCells;
  const grid = cells.length > MAX_CHART_POINTS ? 100 : 1e6;
  for (const cell of cells) {
    const mean = Math.round(((cell.ctFfr + cell.invasiveFfr) / 2) * grid) / grid;
    const difference = Math.round((cell.ctFfr - cell.invasiveFfr) * grid) / grid;
    const key = `${mean}|${difference}`;
    const current = pooled.get(key) ?? { mean: round(mean), difference: round(difference), vessels: 0 };
    current.vessels += cell.vessels;
    pooled.set(key, current);
  }
  const n = cells.reduce((sum, cell) => sum + cell.vessels, 0);
  return {
    id: 'bland-altman',
    kind: 'bland-altman',
    title: 'Bland–Altman: CT-FFR − invasive FFR against their mean (linked vessels)',
    data: {
      n,
      bias: 'bias' in ba ? round(ba.bias) : null,
      loa: 'bias' in ba ? [round(ba.loa[0]), round(ba.loa[1])] : null,
      points: [...pooled.values()].sort((a, b) => a.mean - b.mean || a.difference - b.difference),
    },
  };
}

function rocFigure(inputs: ReportInputs, threshold: number): ReportFigure {
  const diseased: number[] = [];
  const nonDiseased: number[] = [];
  for (const cell of inputs.performance.pairCells) {
    const target = cell.invasiveFfr <= threshold ? diseased : nonDiseased;
    for (let k = 0; k < cell.vessels; k++) target.push(cell.ctFfr);
  }
  const curve = rocCurve(diseased, nonDiseased);
  const auc = inputs.performance.overall.overall.auc;
  let points: Array<{ fpr: number; tpr: number }> = [];
  if (curve.estimable) {
    const all = curve.points.map((p) => ({ fpr: round(1 - p.specificity), tpr: round(p.sensitivity) }));
    const step = Math.max(1, Math.ceil(all.length / MAX_ROC_POINTS));
    points = all.filter((_, index) => index % step === 0 || index === all.length - 1);
  }
  const ci = auc.estimate === null ? null : (auc.ci95.obuchowski ?? auc.ci95.delong);
  return {
    id: 'roc',
    kind: 'roc',
    title: `ROC curve of CT-FFR against invasive FFR ≤ ${threshold}`,
    data: {
      auc: auc.estimate === null ? null : round(auc.estimate),
      ci95: ci ? [round(ci[0]), round(ci[1])] : null,
      diseased: diseased.length,
      nonDiseased: nonDiseased.length,
      points,
    },
  };
}

function forestFigure(inputs: ReportInputs): ReportFigure {
  return {
    id: 'forest-by-site',
    kind: 'forest',
    title: 'Sensitivity and specificity by site (95% CI, patient-clustered)',
    data: {
      rows: inputs.performance.bySite.map((group) => ({
        key: group.key,
        sensitivity: forestEstimate(group.sensitivity),
        specificity: forestEstimate(group.specificity),
      })),
    },
  };
}
