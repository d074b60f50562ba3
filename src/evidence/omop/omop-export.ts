/**
 * De-identified OMOP CDM v5.4 tables from a product's analyses and invasive FFR (issue 7 §3). Pure: the service
 * reads the rows, this builds the tables. What is removed or coarsened, and why (also in src/evidence/README.md):
 *
 *  - identities: the keyed hashes of the site pseudonyms never appear; person_id is a sequence number in an order
 *    drawn from the export's own key, so two exports cannot be joined on person_id, and nothing maps back;
 *  - sites, devices, data sources: no care_site, location or provider; device codes and site codes are dropped
 *    (only the product's UDI-DI — a product, not a patient — is kept in device_exposure.unique_device_id);
 *  - dates: every date of a person is shifted by the same number of days, −182 … +182, drawn per person from the
 *    export key (intervals between a person's events are kept exactly); times of day are dropped (datetime columns
 *    empty);
 *  - age: year of birth only, derived from the shifted first CTA date and the age then, 90 and over top-coded to 90
 *    (as HIPAA Safe Harbor §164.514(b)(2)(i)(C)); a person with no reported age has no year of birth, which the CDM
 *    requires, and is left out (counted in the manifest);
 *  - not exported at all: BMI, Agatston score, acquisition parameters, scanner, rejection reasons, free text,
 *    unknown event fields, Kafka coordinates.
 */
import { createHmac } from 'node:crypto';
import { CdmTable } from './cdm-v54';
import { OMOP_CONCEPTS } from './concepts';

export interface SourceAnalysis {
  readonly eventId: string;
  /** Internal patient id (site:keyed hash); never written out. */
  readonly patientId: string;
  readonly occurredAt: Date;
  readonly ageYears: number | null;
  readonly sex: string | null;
  readonly status: string;
  readonly softwareVersion: string;
  readonly modelVersion: string;
  readonly vessels: ReadonlyArray<{ vessel: string; ctFfr: number }>;
}

export interface SourceInvasiveFfr {
  readonly eventId: string;
  readonly patientId: string;
  readonly measuredAt: Date;
  readonly vessel: string;
  readonly value: number;
  readonly hyperemia: string | null;
}

export type OmopRow = Record<string, string | number | null>;

export interface OmopExport {
  readonly tables: Record<CdmTable, OmopRow[]>;
  readonly manifest: {
    readonly persons: number;
    readonly personsWithoutAge: number;
    readonly dateShiftDays: { readonly min: -182; readonly max: 182 };
  };
}

const MAX_SHIFT_DAYS = 182;
const DAY_MS = 86_400_000;
const TOP_CODED_AGE = 90;

function keyed(key: Buffer, label: string, value: string): Buffer {
  return createHmac('sha256', key).update(label).update('\u0000').update(value).digest();
}

/** The person's shift in days, uniform on −182 … +182 (rejection-free: 2^32 mod 365 bias < 1e-7). */
export function dateShiftDays(key: Buffer, patientId: string): number {
  return (keyed(key, 'shift', patientId).readUInt32BE(0) % (2 * MAX_SHIFT_DAYS + 1)) - MAX_SHIFT_DAYS;
}

const isoDate = (instant: Date, shiftDays: number): string =>
  new Date(
    Date.UTC(instant.getUTCFullYear(), instant.getUTCMonth(), instant.getUTCDate()) + shiftDays * DAY_MS,
  )
    .toISOString()
    .slice(0, 10);

const truncate = (text: string, length = 50): string =>
  text.length <= length ? text : text.slice(0, length);

export function buildOmopExport(input: {
  /** The export's key: from it come the person order and the date shifts. Never written out. */
  key: Buffer;
  product: { udiDi: string; name: string };
  analyses: readonly SourceAnalysis[];
  invasiveFfr: readonly SourceInvasiveFfr[];
}): OmopExport {
  const { key, product } = input;
  const byPatient = new Map<string, SourceAnalysis[]>();
  for (const analysis of input.analyses) {
    byPatient.set(analysis.patientId, [...(byPatient.get(analysis.patientId) ?? []), analysis]);
  }
  const chronological = (a: SourceAnalysis, b: SourceAnalysis) =>
    a.occurredAt.getTime() - b.occurredAt.getTime() || a.eventId.localeCompare(b.eventId);
  let personsWithoutAge = 0;
  const persons: Array<{
    patientId: string;
    order: string;
    shift: number;
    analyses: SourceAnalysis[];
    yearOfBirth: number;
    sex: string | null;
  }> = [];
  for (const [patientId, analyses] of byPatient) {
    analyses.sort(chronological);
    const aged = analyses.find((analysis) => analysis.ageYears !== null);
    if (!aged) {
      personsWithoutAge++;
      continue;
    }
    const shift = dateShiftDays(key, patientId);
    const shiftedYear = Number(isoDate(aged.occurredAt, shift).slice(0, 4));
    persons.push({
      patientId,
      order: keyed(key, 'order', patientId).toString('hex'),
      shift,
      analyses,
      yearOfBirth: shiftedYear - Math.min(aged.ageYears!, TOP_CODED_AGE),
      sex: analyses.find((analysis) => analysis.sex === 'F' || analysis.sex === 'M')?.sex ?? null,
    });
  }
  persons.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));

  const invasiveByPatient = new Map<string, SourceInvasiveFfr[]>();
  for (const outcome of input.invasiveFfr) {
    invasiveByPatient.set(outcome.patientId, [...(invasiveByPatient.get(outcome.patientId) ?? []), outcome]);
  }

  const tables: Record<CdmTable, OmopRow[]> = {
    person: [],
    observation_period: [],
    procedure_occurrence: [],
    device_exposure: [],
    measurement: [],
  };
  const type = OMOP_CONCEPTS.ehr.conceptId;
  persons.forEach((person, index) => {
    const personId = index + 1;
    tables.person.push({
      person_id: personId,
      gender_concept_id:
        person.sex === 'F'
          ? OMOP_CONCEPTS.female.conceptId
          : person.sex === 'M'
            ? OMOP_CONCEPTS.male.conceptId
            : OMOP_CONCEPTS.noMatchingConcept.conceptId,
      year_of_birth: person.yearOfBirth,
      month_of_birth: null,
      day_of_birth: null,
      birth_datetime: null,
      race_concept_id: OMOP_CONCEPTS.noMatchingConcept.conceptId,
      ethnicity_concept_id: OMOP_CONCEPTS.noMatchingConcept.conceptId,
      location_id: null,
      provider_id: null,
      care_site_id: null,
      person_source_value: null,
      gender_source_value: person.sex,
      gender_source_concept_id: null,
      race_source_value: null,
      race_source_concept_id: null,
      ethnicity_source_value: null,
      ethnicity_source_concept_id: null,
    });
    const dates: string[] = [];
    for (const analysis of person.analyses) {
      const date = isoDate(analysis.occurredAt, person.shift);
      dates.push(date);
      const procedureId = tables.procedure_occurrence.length + 1;
      tables.procedure_occurrence.push({
        procedure_occurrence_id: procedureId,
        person_id: personId,
        procedure_concept_id: OMOP_CONCEPTS.coronaryCtaWithCtFfr.conceptId,
        procedure_date: date,
        procedure_datetime: null,
        procedure_end_date: null,
        procedure_end_datetime: null,
        procedure_type_concept_id: type,
        modifier_concept_id: null,
        quantity: 1,
        provider_id: null,
        visit_occurrence_id: null,
        visit_detail_id: null,
        procedure_source_value: truncate(`CTA + CT-FFR analysis: ${analysis.status}`),
        procedure_source_concept_id: null,
        modifier_source_value: null,
      });
      tables.device_exposure.push({
        device_exposure_id: tables.device_exposure.length + 1,
        person_id: personId,
        device_concept_id: OMOP_CONCEPTS.ctFfrSoftware.conceptId,
        device_exposure_start_date: date,
        device_exposure_start_datetime: null,
        device_exposure_end_date: date,
        device_exposure_end_datetime: null,
        device_type_concept_id: type,
        unique_device_id: truncate(product.udiDi, 255),
        production_id: truncate(`${analysis.softwareVersion} / ${analysis.modelVersion}`, 255),
        quantity: 1,
        provider_id: null,
        visit_occurrence_id: null,
        visit_detail_id: null,
        device_source_value: truncate(product.name),
        device_source_concept_id: null,
        unit_concept_id: null,
        unit_source_value: null,
        unit_source_concept_id: null,
      });
      if (analysis.status !== 'completed') continue;
      for (const vessel of analysis.vessels) {
        tables.measurement.push(
          measurementRow(
            tables.measurement.length + 1,
            personId,
            OMOP_CONCEPTS.ctFfr.conceptId,
            date,
            vessel.ctFfr,
            `CT-FFR ${vessel.vessel}`,
          ),
        );
      }
    }
    const outcomes = [...(invasiveByPatient.get(person.patientId) ?? [])].sort(
      (a, b) => a.measuredAt.getTime() - b.measuredAt.getTime() || a.eventId.localeCompare(b.eventId),
    );
    for (const outcome of outcomes) {
      const date = isoDate(outcome.measuredAt, person.shift);
      dates.push(date);
      tables.measurement.push(
        measurementRow(
          tables.measurement.length + 1,
          personId,
          OMOP_CONCEPTS.invasiveFfr.conceptId,
          date,
          outcome.value,
          truncate(`FFR ${outcome.vessel}${outcome.hyperemia ? ` ${outcome.hyperemia}` : ''}`),
        ),
      );
    }
    dates.sort();
    tables.observation_period.push({
      observation_period_id: personId,
      person_id: personId,
      observation_period_start_date: dates[0],
      observation_period_end_date: dates[dates.length - 1],
      period_type_concept_id: type,
    });
  });
  return {
    tables,
    manifest: { persons: persons.length, personsWithoutAge, dateShiftDays: { min: -182, max: 182 } },
  };
}

function measurementRow(
  id: number,
  personId: number,
  conceptId: number,
  date: string,
  value: number,
  sourceValue: string,
): OmopRow {
  return {
    measurement_id: id,
    person_id: personId,
    measurement_concept_id: conceptId,
    measurement_date: date,
    measurement_datetime: null,
    measurement_time: null,
    measurement_type_concept_id: OMOP_CONCEPTS.ehr.conceptId,
    operator_concept_id: null,
    value_as_number: value,
    value_as_concept_id: null,
    // FFR is a dimensionless pressure ratio: UCUM {ratio}; its OMOP unit concept is left to the site's vocabulary.
    unit_concept_id: null,
    range_low: 0,
    range_high: 1,
    provider_id: null,
    visit_occurrence_id: null,
    visit_detail_id: null,
    measurement_source_value: sourceValue,
    measurement_source_concept_id: null,
    unit_source_value: '{ratio}',
    unit_source_concept_id: null,
    value_source_value: String(value),
    measurement_event_id: null,
    meas_event_field_concept_id: null,
  };
}
