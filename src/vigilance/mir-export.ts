/**
 * The EU MIR 7.3.1 form (Manufacturer Incident Report, MDR/IVDR; reference/regulatory.md §1.6) as structured data,
 * filled from what the platform holds, and a well-formed XML rendering of the same object. Fields the platform does not
 * hold are null and listed in `notHeld`; nothing is guessed. The XML is NOT validated against the EUDAMED DTX vigilance
 * XSDs nor the EC MIR XSD: its element names follow the form's sections, not the EUDAMED data model.
 */
export const MIR_FORM_VERSION = '7.3.1';

export interface MirInput {
  incident: {
    id: string;
    title: string;
    description: string | null;
    state: string;
    seriousness: string;
    unanticipatedDeterioration: boolean;
    causality: string;
    awarenessDate: string;
    countries: readonly string[];
    imdrf: Readonly<Record<string, readonly string[]>>;
    imdrfRelease: string | null;
    imdrfTerms: ReadonlyArray<{ annex: string; code: string; term: string }>;
    createdAt: string;
    source: string;
    nextDeadline: { rule: string; dueAt: string } | null;
  };
  manufacturer: { id: string; name: string };
  product: { id: string; name: string; udiDi: string; riskClass: string };
  /** The detection that opened the incident, if any (rule, evidence: never patient identifiers). */
  detection: {
    ruleId: string;
    evidence: Record<string, unknown>;
    device: { code: string; softwareVersion: string; modelVersion: string } | null;
    site: { code: string; country: string } | null;
  } | null;
  /** Patient facts from the analysis (age, sex): no identifier, no pseudonym. */
  patient: { ageYears: number | null; sex: string | null } | null;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const CLASSIFICATION: Record<string, string> = {
  serious_public_health_threat: 'Serious public health threat',
  death: 'Death',
  serious_deterioration: 'Unanticipated serious deterioration in state of health',
  non_serious: 'Not a serious incident',
};

export function buildMir(
  input: MirInput,
  generatedAt: string,
): { mir: Record<string, Json>; notHeld: string[] } {
  const { incident, detection } = input;
  const evidence = (detection?.evidence ?? {}) as Record<string, Json>;
  const codes = (annexes: string[]) =>
    incident.imdrfTerms
      .filter((term) => annexes.includes(term.annex))
      .map((term) => ({ annex: term.annex, code: term.code, term: term.term }));
  const classification =
    incident.seriousness === 'serious_deterioration' && !incident.unanticipatedDeterioration
      ? 'All other reportable incidents'
      : (CLASSIFICATION[incident.seriousness] ?? incident.seriousness);
  const mir: Record<string, Json> = {
    formVersion: MIR_FORM_VERSION,
    generatedAt,
    administrative: {
      manufacturerReference: incident.id,
      reportType: incident.state === 'not_reportable' ? 'Final (non-reportable incident)' : 'Initial',
      classification,
      nationalCompetentAuthority: null,
      incidentCountries: [...incident.countries],
      awarenessDateOfIncident: incident.awarenessDate,
      awarenessDateOfReportability: null,
      incidentDate: typeof evidence.analysisAt === 'string' ? evidence.analysisAt.slice(0, 10) : null,
      reportingDeadline: incident.nextDeadline
        ? { rule: incident.nextDeadline.rule, dueAt: incident.nextDeadline.dueAt }
        : null,
      submitter: null,
    },
    manufacturer: {
      name: input.manufacturer.name,
      platformId: input.manufacturer.id,
      srn: null,
      address: null,
      contact: null,
      authorisedRepresentative: null,
    },
    device: {
      name: input.product.name,
      basicUdiDi: null,
      udiDi: input.product.udiDi,
      riskClass: input.product.riskClass,
      nomenclature: null,
      modelOrCatalogueNumber: detection?.device?.code ?? null,
      softwareVersion: detection?.device?.softwareVersion ?? null,
      algorithmModelVersion: detection?.device?.modelVersion ?? null,
      lotOrSerialNumber: null,
      accessories: null,
    },
    incident: {
      title: incident.title,
      narrative: incident.description,
      source: incident.source,
      detectionRule: detection?.ruleId ?? null,
      deviceProblemCodes: codes(['A']),
      clinicalSignsCodes: codes(['E']),
      healthImpactCodes: codes(['F']),
      healthcareFacility: detection?.site
        ? { siteCode: detection.site.code, country: detection.site.country }
        : null,
      evidence: detection ? evidence : null,
    },
    patient: {
      ageYears: input.patient?.ageYears ?? null,
      sex: input.patient?.sex ?? null,
      weightKg: null,
      relevantMedicalHistory: null,
    },
    investigation: {
      investigationCodes: codes(['B']),
      causeCodes: codes(['C']),
      conclusionCodes: codes(['D']),
      componentCodes: codes(['G']),
      rootCause: null,
      correctiveActions: null,
      similarIncidents: null,
    },
    manufacturerPreliminaryComments: {
      causality: incident.causality,
      state: incident.state,
      comment: null,
    },
    imdrf: {
      release: incident.imdrfRelease,
      codes: Object.fromEntries(Object.entries(incident.imdrf).map(([annex, list]) => [annex, [...list]])),
    },
  };
  const notHeld: string[] = [];
  const walk = (value: Json, path: string) => {
    if (value === null) notHeld.push(path);
    else if (typeof value === 'object' && !Array.isArray(value) && path !== 'incident.evidence') {
      for (const [key, child] of Object.entries(value)) walk(child, path ? `${path}.${key}` : key);
    }
  };
  walk(mir, '');
  return { mir, notHeld };
}

const escapeXml = (text: string): string =>
  text
    // Characters XML 1.0 cannot carry (C0 controls other than tab, LF, CR; U+FFFE/U+FFFF).
    .split('')
    .filter((char) => {
      const code = char.charCodeAt(0);
      return (
        (code >= 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) &&
        code !== 0xfffe &&
        code !== 0xffff
      );
    })
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/** An XML name from a JSON key: letters, digits, '-', '_', '.', never starting with a digit. */
const elementName = (key: string): string => {
  const cleaned = key.replace(/[^A-Za-z0-9_.-]/g, '_');
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
};

function render(name: string, value: Json, indent: string): string {
  const tag = elementName(name);
  if (value === null) return `${indent}<${tag} xsi:nil="true"/>`;
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}<${tag}/>`;
    return [
      `${indent}<${tag}>`,
      ...value.map((item) => render('item', item, `${indent}  `)),
      `${indent}</${tag}>`,
    ].join('\n');
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return `${indent}<${tag}/>`;
    return [
      `${indent}<${tag}>`,
      ...entries.map(([key, child]) => render(key, child, `${indent}  `)),
      `${indent}</${tag}>`,
    ].join('\n');
  }
  return `${indent}<${tag}>${escapeXml(String(value))}</${tag}>`;
}

export function mirXml(mir: Record<string, Json>, notHeld: readonly string[]): string {
  const body = Object.entries(mir)
    .filter(([key]) => key !== 'formVersion')
    .map(([key, value]) => render(key, value, '  '));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!-- Structured from the EU MIR ${MIR_FORM_VERSION} form sections; not validated against the EUDAMED or EC MIR XSDs. -->`,
    `<manufacturerIncidentReport formVersion="${MIR_FORM_VERSION}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`,
    ...body,
    render('notHeld', [...notHeld], '  '),
    '</manufacturerIncidentReport>',
    '',
  ].join('\n');
}

export type { Json as MirJson };
