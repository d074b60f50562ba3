import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import analysisSchema from './schemas/analysis.v1.schema.json';
import deviceEventSchema from './schemas/device-event.v1.schema.json';
import outcomeSchema from './schemas/outcome.v1.schema.json';
import { AnalysisEventV1, DeadLetterCode, DeviceEventV1, OutcomeEventV1 } from './contracts';
import { TopicRole } from '../kafka/topics';

export type IngestTopicRole = Exclude<TopicRole, 'deadLetter'>;

/** Contract of each ingest topic: the `schema` value it carries and the field naming its sender. */
export const TOPIC_CONTRACTS = {
  analyses: {
    schemaId: 'fieldwatch.analysis/1',
    senderField: 'deviceId',
    senderKind: 'device',
    jsonSchema: analysisSchema,
  },
  outcomes: {
    schemaId: 'fieldwatch.outcome/1',
    senderField: 'sourceId',
    senderKind: 'data-source',
    jsonSchema: outcomeSchema,
  },
  deviceEvents: {
    schemaId: 'fieldwatch.device-event/1',
    senderField: 'deviceId',
    senderKind: 'device',
    jsonSchema: deviceEventSchema,
  },
} as const;

export type EventOf<R extends IngestTopicRole> = R extends 'analyses'
  ? AnalysisEventV1
  : R extends 'outcomes'
    ? OutcomeEventV1
    : DeviceEventV1;

export interface ValidationFailure {
  code: DeadLetterCode;
  reason: string;
}

/** Maps the first JSON-Schema error to a stable dead-letter code and a message a sender can act on. */
export function describeSchemaError(error: ErrorObject): ValidationFailure {
  const where = error.instancePath || '(root)';
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return { code: 'field_missing', reason: `required field "${missing}" is missing at ${where}` };
    }
    case 'type':
      return {
        code: 'field_type_invalid',
        reason: `${where} must be ${(error.params as { type: string }).type}`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { code: 'value_out_of_range', reason: `${where} ${error.message ?? 'is out of range'}` };
    default:
      return { code: 'field_value_invalid', reason: `${where} ${error.message ?? 'is invalid'}` };
  }
}

/**
 * Compiled validators, one per topic. Ajv stops at the first error (allErrors off): a dead letter
 * needs one actionable reason, and validation sits on the hot path.
 */
export class EventValidator {
  private readonly validators: Record<IngestTopicRole, ValidateFunction>;

  constructor() {
    const ajv = new Ajv({ allErrors: false, strict: true, strictTypes: false, strictRequired: false });
    addFormats(ajv, ['date-time', 'uuid']);
    this.validators = {
      analyses: ajv.compile(TOPIC_CONTRACTS.analyses.jsonSchema),
      outcomes: ajv.compile(TOPIC_CONTRACTS.outcomes.jsonSchema),
      deviceEvents: ajv.compile(TOPIC_CONTRACTS.deviceEvents.jsonSchema),
    };
  }

  validate(role: IngestTopicRole, event: Record<string, unknown>): ValidationFailure | null {
    const validate = this.validators[role];
    if (validate(event)) return null;
    const first = validate.errors?.[0];
    return first ? describeSchemaError(first) : { code: 'field_value_invalid', reason: 'event is invalid' };
  }
}
