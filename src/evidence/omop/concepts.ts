/**
 * Every concept id the OMOP export writes, with where it comes from (issue 7 §3). Standard OMOP concept ids are used
 * where the id is certain; where the standard concept exists in a source vocabulary but its OMOP concept id could not
 * be confirmed against an Athena vocabulary release when this was written, the export uses a documented local
 * concept (≥ 2,000,000,000, the range OMOP reserves for site-specific concepts) and ships the source code in
 * SOURCE_TO_CONCEPT_MAP rows (a CDM v5.4 vocabulary table), so a site that loads its Athena vocabulary resolves the
 * standard id with one join on (vocabulary_id, concept_code) — see src/evidence/README.md.
 */
export interface ConceptEntry {
  readonly conceptId: number;
  readonly name: string;
  readonly domain: 'Gender' | 'Type Concept' | 'Procedure' | 'Measurement' | 'Device' | 'Metadata';
  /** Standard OMOP concept (S) or a Fieldwatch local concept (L). */
  readonly kind: 'standard' | 'local';
  /** For local concepts: the standard source code a site maps them to. */
  readonly mapsTo?: {
    readonly vocabularyId: 'SNOMED' | 'CPT4';
    readonly conceptCode: string;
    readonly name: string;
  };
  readonly source: string;
}

export const OMOP_CONCEPTS = {
  female: {
    conceptId: 8532,
    name: 'FEMALE',
    domain: 'Gender',
    kind: 'standard',
    source: 'OMOP Gender vocabulary (OHDSI CDM conventions: person.gender_concept_id)',
  },
  male: {
    conceptId: 8507,
    name: 'MALE',
    domain: 'Gender',
    kind: 'standard',
    source: 'OMOP Gender vocabulary (OHDSI CDM conventions: person.gender_concept_id)',
  },
  noMatchingConcept: {
    conceptId: 0,
    name: 'No matching concept',
    domain: 'Metadata',
    kind: 'standard',
    source: 'OHDSI CDM conventions: 0 where no concept applies (race, ethnicity, unknown gender)',
  },
  ehr: {
    conceptId: 32817,
    name: 'EHR',
    domain: 'Type Concept',
    kind: 'standard',
    source:
      'OMOP Type Concept vocabulary (CDM v5.4 *_type_concept_id); device-reported analyses and cath-lab records are electronic health records',
  },
  coronaryCtaWithCtFfr: {
    conceptId: 2_000_000_001,
    name: 'Coronary CT angiography analysed by CT-FFR software',
    domain: 'Procedure',
    kind: 'local',
    mapsTo: {
      vocabularyId: 'SNOMED',
      conceptCode: '419545005',
      name: 'Computed tomography angiography of coronary artery with contrast (procedure)',
    },
    source:
      'SNOMED CT 419545005; the CT-FFR analysis itself is AMA CPT Category III 0501T (no standard OMOP concept)',
  },
  ctFfr: {
    conceptId: 2_000_000_010,
    name: 'Fractional flow reserve derived from coronary CT angiography (CT-FFR), per vessel',
    domain: 'Measurement',
    kind: 'local',
    mapsTo: { vocabularyId: 'SNOMED', conceptCode: '371842003', name: 'Fractional flow reserve' },
    source:
      'SNOMED CT 371842003 (DICOM PS3.16 CID 3621) names FFR but not its CT-derived estimate: local concept, mapped to FFR',
  },
  invasiveFfr: {
    conceptId: 2_000_000_011,
    name: 'Fractional flow reserve measured with a pressure wire (invasive FFR), per vessel',
    domain: 'Measurement',
    kind: 'local',
    mapsTo: { vocabularyId: 'SNOMED', conceptCode: '371842003', name: 'Fractional flow reserve' },
    source: 'SNOMED CT 371842003 (DICOM PS3.16 CID 3621)',
  },
  ctFfrSoftware: {
    conceptId: 2_000_000_020,
    name: 'CT-FFR software as a medical device (the product exported)',
    domain: 'Device',
    kind: 'local',
    source:
      'no standard device concept for CT-FFR software; the product is identified by its UDI-DI in unique_device_id',
  },
} as const satisfies Record<string, ConceptEntry>;

/** OMOP reserves concept ids above 2,000,000,000 for local use: every local entry must be in that range. */
export const LOCAL_CONCEPT_FLOOR = 2_000_000_000;

/** CDM v5.4 SOURCE_TO_CONCEPT_MAP columns, in DDL order. */
export const SOURCE_TO_CONCEPT_MAP_COLUMNS = [
  'source_code',
  'source_concept_id',
  'source_vocabulary_id',
  'source_code_description',
  'target_concept_id',
  'target_vocabulary_id',
  'valid_start_date',
  'valid_end_date',
  'invalid_reason',
] as const;

/**
 * Rows of SOURCE_TO_CONCEPT_MAP for the local concepts: the local id as source, target 0 until the site resolves
 * the standard id from its vocabulary (README: one UPDATE … FROM concept).
 */
export function sourceToConceptMapRows(): Array<
  Record<(typeof SOURCE_TO_CONCEPT_MAP_COLUMNS)[number], string | number | null>
> {
  return Object.values(OMOP_CONCEPTS as Record<string, ConceptEntry>)
    .filter((entry) => entry.kind === 'local')
    .map((entry) => ({
      source_code: entry.mapsTo ? entry.mapsTo.conceptCode : String(entry.conceptId),
      source_concept_id: entry.conceptId,
      source_vocabulary_id: entry.mapsTo ? entry.mapsTo.vocabularyId : 'Fieldwatch',
      source_code_description: entry.name.slice(0, 255),
      target_concept_id: 0,
      target_vocabulary_id: entry.mapsTo ? entry.mapsTo.vocabularyId : 'None',
      valid_start_date: '1970-01-01',
      valid_end_date: '2099-12-31',
      invalid_reason: null,
    }));
}
