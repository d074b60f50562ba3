/**
 * The five OMOP CDM v5.4 tables Fieldwatch exports, column by column in DDL order, with type and nullability as the
 * OHDSI DDL specifies them (OHDSI/CommonDataModel, inst/ddl/5.4/postgresql/OMOPCDM_postgresql_5.4_ddl.sql; the
 * table specification at https://ohdsi.github.io/CommonDataModel/cdm54.html). The exported CSV headers are exactly
 * these names in this order; the integration test loads every file into tables created from this spec.
 */
export type CdmType =
  'integer' | 'date' | 'TIMESTAMP' | 'NUMERIC' | 'varchar(10)' | 'varchar(50)' | 'varchar(255)';

export interface CdmColumn {
  readonly name: string;
  readonly type: CdmType;
  readonly required: boolean;
}

const column = (name: string, type: CdmType, required = false): CdmColumn => ({ name, type, required });

export const CDM_V54_TABLES = {
  person: [
    column('person_id', 'integer', true),
    column('gender_concept_id', 'integer', true),
    column('year_of_birth', 'integer', true),
    column('month_of_birth', 'integer'),
    column('day_of_birth', 'integer'),
    column('birth_datetime', 'TIMESTAMP'),
    column('race_concept_id', 'integer', true),
    column('ethnicity_concept_id', 'integer', true),
    column('location_id', 'integer'),
    column('provider_id', 'integer'),
    column('care_site_id', 'integer'),
    column('person_source_value', 'varchar(50)'),
    column('gender_source_value', 'varchar(50)'),
    column('gender_source_concept_id', 'integer'),
    column('race_source_value', 'varchar(50)'),
    column('race_source_concept_id', 'integer'),
    column('ethnicity_source_value', 'varchar(50)'),
    column('ethnicity_source_concept_id', 'integer'),
  ],
  observation_period: [
    column('observation_period_id', 'integer', true),
    column('person_id', 'integer', true),
    column('observation_period_start_date', 'date', true),
    column('observation_period_end_date', 'date', true),
    column('period_type_concept_id', 'integer', true),
  ],
  procedure_occurrence: [
    column('procedure_occurrence_id', 'integer', true),
    column('person_id', 'integer', true),
    column('procedure_concept_id', 'integer', true),
    column('procedure_date', 'date', true),
    column('procedure_datetime', 'TIMESTAMP'),
    column('procedure_end_date', 'date'),
    column('procedure_end_datetime', 'TIMESTAMP'),
    column('procedure_type_concept_id', 'integer', true),
    column('modifier_concept_id', 'integer'),
    column('quantity', 'integer'),
    column('provider_id', 'integer'),
    column('visit_occurrence_id', 'integer'),
    column('visit_detail_id', 'integer'),
    column('procedure_source_value', 'varchar(50)'),
    column('procedure_source_concept_id', 'integer'),
    column('modifier_source_value', 'varchar(50)'),
  ],
  device_exposure: [
    column('device_exposure_id', 'integer', true),
    column('person_id', 'integer', true),
    column('device_concept_id', 'integer', true),
    column('device_exposure_start_date', 'date', true),
    column('device_exposure_start_datetime', 'TIMESTAMP'),
    column('device_exposure_end_date', 'date'),
    column('device_exposure_end_datetime', 'TIMESTAMP'),
    column('device_type_concept_id', 'integer', true),
    column('unique_device_id', 'varchar(255)'),
    column('production_id', 'varchar(255)'),
    column('quantity', 'integer'),
    column('provider_id', 'integer'),
    column('visit_occurrence_id', 'integer'),
    column('visit_detail_id', 'integer'),
    column('device_source_value', 'varchar(50)'),
    column('device_source_concept_id', 'integer'),
    column('unit_concept_id', 'integer'),
    column('unit_source_value', 'varchar(50)'),
    column('unit_source_concept_id', 'integer'),
  ],
  measurement: [
    column('measurement_id', 'integer', true),
    column('person_id', 'integer', true),
    column('measurement_concept_id', 'integer', true),
    column('measurement_date', 'date', true),
    column('measurement_datetime', 'TIMESTAMP'),
    column('measurement_time', 'varchar(10)'),
    column('measurement_type_concept_id', 'integer', true),
    column('operator_concept_id', 'integer'),
    column('value_as_number', 'NUMERIC'),
    column('value_as_concept_id', 'integer'),
    column('unit_concept_id', 'integer'),
    column('range_low', 'NUMERIC'),
    column('range_high', 'NUMERIC'),
    column('provider_id', 'integer'),
    column('visit_occurrence_id', 'integer'),
    column('visit_detail_id', 'integer'),
    column('measurement_source_value', 'varchar(50)'),
    column('measurement_source_concept_id', 'integer'),
    column('unit_source_value', 'varchar(50)'),
    column('unit_source_concept_id', 'integer'),
    column('value_source_value', 'varchar(50)'),
    column('measurement_event_id', 'integer'),
    column('meas_event_field_concept_id', 'integer'),
  ],
} as const satisfies Record<string, readonly CdmColumn[]>;

export type CdmTable = keyof typeof CDM_V54_TABLES;
export const CDM_TABLES = Object.keys(CDM_V54_TABLES) as CdmTable[];

/** `CREATE TABLE` for one table, as the OHDSI DDL has it (used by the test to load the exported files). */
export function createTableSql(schema: string, table: CdmTable): string {
  const columns = CDM_V54_TABLES[table].map(
    (c) => `${c.name} ${c.type}${c.required ? ' NOT NULL' : ' NULL'}`,
  );
  return `CREATE TABLE ${schema}.${table} (${columns.join(', ')})`;
}
