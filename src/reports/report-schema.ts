import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { REPORT_SCHEMA_VERSION, ReportType, SECTIONS } from './report-rules';

const cell = { type: ['string', 'number', 'null'] };
const interval = { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 };

const table = {
  type: 'object',
  required: ['id', 'title', 'columns', 'rows'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1 },
    title: { type: 'string', minLength: 1 },
    columns: { type: 'array', items: { type: 'string' }, minItems: 1 },
    rows: { type: 'array', items: { type: 'array', items: cell } },
    note: { type: 'string' },
  },
};

const figure = {
  type: 'object',
  required: ['id', 'kind', 'title', 'data'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1 },
    kind: { enum: ['bland-altman', 'roc', 'forest', 'incidents-per-month', 'drift-control'] },
    title: { type: 'string', minLength: 1 },
    data: { type: 'object' },
  },
};

const statement = {
  type: 'object',
  required: ['text'],
  additionalProperties: false,
  properties: { text: { type: 'string', minLength: 1 }, emphasis: { type: 'boolean' } },
};

/**
 * The published JSON Schema (draft-07) of a report type: sections as a tuple, so the schema itself enforces the
 * regulatory order of report-rules.ts (MDCG 2022-21 Annex I; 撰写规范), and no section can be missing or added.
 * Served at GET /api/v1/reports/schemas/:type.
 */
export function reportJsonSchema(type: ReportType): Record<string, unknown> {
  const sections = SECTIONS[type];
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://fieldwatch.invalid/schemas/report-${type}-${REPORT_SCHEMA_VERSION}.json`,
    title: `Fieldwatch ${type} report, schema version ${REPORT_SCHEMA_VERSION}`,
    type: 'object',
    additionalProperties: false,
    required: [
      'documentType',
      'schemaVersion',
      'title',
      'reference',
      'period',
      'manufacturer',
      'product',
      'configuration',
      'dataBasis',
      'sections',
    ],
    properties: {
      documentType: { const: type },
      schemaVersion: { const: REPORT_SCHEMA_VERSION },
      title: {
        type: 'object',
        required: ['en'],
        additionalProperties: false,
        properties: { en: { type: 'string' }, zh: { type: 'string' } },
      },
      reference: { type: 'string', minLength: 1 },
      period: {
        type: 'object',
        required: ['from', 'to'],
        additionalProperties: false,
        properties: { from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' } },
      },
      manufacturer: { type: 'string', minLength: 1 },
      product: {
        type: 'object',
        required: ['name', 'udiDi', 'riskClass'],
        additionalProperties: false,
        properties: { name: { type: 'string' }, udiDi: { type: 'string' }, riskClass: { type: 'string' } },
      },
      configuration: {
        type: 'object',
        required: [
          'schemaVersion',
          'type',
          'threshold',
          'nonInferiorityMargin',
          'performanceDetail',
          'windowMonths',
        ],
        properties: {
          threshold: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
          performanceDetail: { enum: ['full', 'summary'] },
          windowMonths: { enum: [12, 24] },
        },
      },
      dataBasis: {
        type: 'object',
        required: [
          'analysesInPeriod',
          'analysesLatestReceivedAt',
          'incidentsInWindows',
          'incidentsLatestUpdatedAt',
          'linkedVesselsInPeriod',
        ],
        properties: {
          analysesInPeriod: { type: 'integer', minimum: 0 },
          incidentsInWindows: { type: 'integer', minimum: 0 },
          linkedVesselsInPeriod: { type: 'integer', minimum: 0 },
        },
      },
      sections: {
        type: 'array',
        minItems: sections.length,
        additionalItems: false,
        items: sections.map((rule) => ({
          type: 'object',
          required: ['key', 'number', 'title', 'source', 'statements', 'tables', 'figures', 'data'],
          additionalProperties: false,
          properties: {
            key: { const: rule.key },
            number: { const: rule.number },
            title: { const: rule.title },
            ...(rule.titleZh ? { titleZh: { const: rule.titleZh } } : {}),
            source: { type: 'string' },
            statements: { type: 'array', items: statement },
            tables: { type: 'array', items: table },
            figures: { type: 'array', items: figure },
            data: { type: 'object' },
          },
          ...(rule.titleZh
            ? {
                required: [
                  'key',
                  'number',
                  'title',
                  'titleZh',
                  'source',
                  'statements',
                  'tables',
                  'figures',
                  'data',
                ],
              }
            : {}),
        })),
      },
    },
    definitions: { interval },
  };
}

const validators = new Map<ReportType, ValidateFunction>();

/** Validates a report document against its published schema; returns the errors (none: valid). */
export function validateReport(type: ReportType, document: unknown): ErrorObject[] {
  let validate = validators.get(type);
  if (!validate) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
    validate = ajv.compile(reportJsonSchema(type));
    validators.set(type, validate);
  }
  return validate(document) ? [] : [...(validate.errors ?? [])];
}
