import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  ValidationOptions,
} from 'class-validator';
import { isIsoDate, parseInstant } from './calendar-dates';
import { CAUSALITY_LEVELS, Causality, INCIDENT_STATES, IncidentState } from './incident-workflow';
import { JURISDICTIONS, SERIOUSNESS_LEVELS, Seriousness } from './reporting-clock-rules';

/** A real calendar date written YYYY-MM-DD (2026-02-30 is refused). */
function IsCalendarDate(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCalendarDate',
      validator: {
        validate: (value: unknown) => isIsoDate(value),
        defaultMessage: () => '$property must be a calendar date written YYYY-MM-DD, e.g. 2026-03-13',
      },
    },
    options,
  );
}

/** An ISO 8601 instant with Z or an explicit offset: a bare local time is not a fact. */
function IsInstantWithOffset(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInstantWithOffset',
      validator: {
        validate: (value: unknown) => {
          try {
            parseInstant(value, 'value');
            return true;
          } catch {
            return false;
          }
        },
        defaultMessage: () =>
          '$property must be an ISO 8601 instant with an offset, e.g. 2026-03-13T21:30:00+08:00',
      },
    },
    options,
  );
}

const COUNTRY = /^[A-Z]{2}$/;
const COUNTRY_MESSAGE = 'countries must hold ISO 3166-1 alpha-2 codes such as DE or CN';
const REPORTER_ROLES = ['physician', 'radiographer', 'nurse', 'technician', 'patient', 'other'] as const;

const IMDRF_EXAMPLE = { A: ['A090803'], F: ['F13'] };
const IMDRF_DESCRIPTION =
  'IMDRF adverse-event codes by annex letter (A–G), validated against the code table named by FW_IMDRF_CODE_TABLE; ' +
  'retired and not-selectable terms are refused.';

export class CreateIncidentDto {
  @ApiProperty({ description: 'A product of the caller’s manufacturer' })
  @IsUUID()
  productId: string;

  @ApiProperty({ example: 'Missed ischaemia in LAD, patient later had an MI' })
  @IsString()
  @Length(1, 300)
  title: string;

  @ApiPropertyOptional({ description: 'Narrative (MIR §3); no patient identifiers' })
  @IsOptional()
  @IsString()
  @Length(1, 10_000)
  description?: string;

  @ApiProperty({ enum: SERIOUSNESS_LEVELS, example: 'serious_deterioration' })
  @IsIn(SERIOUSNESS_LEVELS)
  seriousness: Seriousness;

  @ApiProperty({
    example: '2026-03-13',
    description: 'The date the manufacturer became aware (MIR 1.2.c; day 0)',
  })
  @IsCalendarDate()
  awarenessDate: string;

  @ApiPropertyOptional({
    example: '2026-03-13T09:30:00+01:00',
    description: 'The moment of awareness, with offset; required for hour clocks (NMPA group event)',
  })
  @IsOptional()
  @IsInstantWithOffset()
  awarenessAt?: string;

  @ApiProperty({
    example: ['DE'],
    description: 'ISO 3166-1 alpha-2 codes of the countries where it occurred',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(60)
  @Matches(COUNTRY, { each: true, message: COUNTRY_MESSAGE })
  countries: string[];

  @ApiPropertyOptional({ example: IMDRF_EXAMPLE, description: IMDRF_DESCRIPTION })
  @IsOptional()
  @IsObject()
  imdrf?: Record<string, string[]>;

  @ApiPropertyOptional({ enum: CAUSALITY_LEVELS, default: 'not_assessed' })
  @IsOptional()
  @IsIn(CAUSALITY_LEVELS)
  causality?: Causality;

  @ApiPropertyOptional({
    description: 'Serious deterioration not considered in the risk analysis (MDR 87(5), 10 days)',
  })
  @IsOptional()
  @IsBoolean()
  unanticipatedDeterioration?: boolean;

  @ApiPropertyOptional({ description: 'NMPA group adverse event (12 h / 24 h clocks; needs awarenessAt)' })
  @IsOptional()
  @IsBoolean()
  groupEvent?: boolean;

  @ApiPropertyOptional({
    description: '21 CFR 803.50(a)(2) malfunction that would likely cause serious harm if it recurred',
  })
  @IsOptional()
  @IsBoolean()
  reportableMalfunction?: boolean;

  @ApiPropertyOptional({ description: '21 CFR 803.53(a): remedial action needed (5 work days)' })
  @IsOptional()
  @IsBoolean()
  remedialActionRequired?: boolean;

  @ApiPropertyOptional({ description: '21 CFR 803.53(b): FDA asked in writing for a 5-day report' })
  @IsOptional()
  @IsBoolean()
  fdaWrittenRequest?: boolean;
}

export class NewInformationDto {
  @ApiProperty({
    example: '2026-03-20',
    description: 'The date it was received (MIR 1.2.d when it makes the incident reportable)',
  })
  @IsCalendarDate()
  receivedDate: string;

  @ApiPropertyOptional({ example: '2026-03-20T15:00:00+01:00' })
  @IsOptional()
  @IsInstantWithOffset()
  receivedAt?: string;

  @ApiProperty({ example: 'Hospital reports the patient died on 2026-03-19' })
  @IsString()
  @Length(1, 5000)
  @Matches(/\S/, { message: 'summary must not be blank' })
  summary: string;
}

/**
 * PATCH /incidents/:id (triage). `version` is the version the caller read (optimistic concurrency: a stale one is
 * 409). Every field but version is optional; what changes is recorded in the history and the audit trail.
 */
export class UpdateIncidentDto {
  @ApiProperty({ example: 1, description: 'The incident version this change is based on' })
  @IsInt()
  @Min(1)
  version: number;

  @ApiPropertyOptional({
    example: 'Causal link reasonably possible: CT-FFR 0.86 in a vessel with invasive FFR 0.71',
    description: 'Why; required for state changes and reassessments, kept in the history and the audit trail',
  })
  @IsOptional()
  @IsString()
  @Length(3, 2000)
  @Matches(/\S/, { message: 'reason must not be blank' })
  reason?: string;

  @ApiPropertyOptional({
    enum: INCIDENT_STATES,
    description: 'A state the transition table allows from the current one',
  })
  @IsOptional()
  @IsIn(INCIDENT_STATES)
  state?: IncidentState;

  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 300) title?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 10_000) description?: string;

  @ApiPropertyOptional({ enum: SERIOUSNESS_LEVELS })
  @IsOptional()
  @IsIn(SERIOUSNESS_LEVELS)
  seriousness?: Seriousness;

  @ApiPropertyOptional() @IsOptional() @IsBoolean() unanticipatedDeterioration?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() groupEvent?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() reportableMalfunction?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() remedialActionRequired?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() fdaWrittenRequest?: boolean;

  @ApiPropertyOptional({ enum: CAUSALITY_LEVELS })
  @IsOptional()
  @IsIn(CAUSALITY_LEVELS)
  causality?: Causality;

  @ApiPropertyOptional({ description: 'Correction of the awareness date (reason required)' })
  @IsOptional()
  @IsCalendarDate()
  awarenessDate?: string;

  @ApiPropertyOptional() @IsOptional() @IsInstantWithOffset() awarenessAt?: string;

  @ApiPropertyOptional({ example: ['DE', 'FR'] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(60)
  @Matches(COUNTRY, { each: true, message: COUNTRY_MESSAGE })
  countries?: string[];

  @ApiPropertyOptional({
    example: IMDRF_EXAMPLE,
    description: `${IMDRF_DESCRIPTION} Replaces the whole coding.`,
  })
  @IsOptional()
  @IsObject()
  imdrf?: Record<string, string[]>;

  @ApiPropertyOptional({
    type: NewInformationDto,
    description:
      'Information received on a date; seriousness and flags in the same request are what is known from then on, ' +
      'and a clock they make applicable starts on receivedDate (MDCG 2023-3 Q15)',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => NewInformationDto)
  newInformation?: NewInformationDto;

  @ApiPropertyOptional({
    example: '2026-03-13',
    description:
      'For a reassessment of seriousness or its flags without new information: the date of the information it rests ' +
      'on (the awareness date or a recorded receivedDate); default the latest',
  })
  @IsOptional()
  @IsCalendarDate()
  effectiveFrom?: string;

  @ApiPropertyOptional({
    enum: JURISDICTIONS,
    isArray: true,
    example: ['EU'],
    description:
      'The authorities this report went to, when not all at once: only their open deadlines are met. With state ' +
      '"submitted" (from reportable), or later on a submitted incident for a report to another authority (reason required). ' +
      'Without it, the move to submitted meets every open deadline.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(JURISDICTIONS, { each: true })
  submittedTo?: string[];

  @ApiPropertyOptional({
    example: 'MIR-2026-000123',
    description: "The authority's reference for the report, kept with the deadlines it met",
  })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  submissionReference?: string;
}

export class CreateComplaintDto {
  @ApiProperty() @IsUUID() productId: string;

  @ApiProperty({
    example: 'CT-FFR 0.86 in LAD; invasive FFR two weeks later 0.71; patient admitted with chest pain',
  })
  @IsString()
  @Length(1, 10_000)
  @Matches(/\S/, { message: 'description must not be blank' })
  description: string;

  @ApiPropertyOptional({ description: 'Title of the candidate incident; default from the description' })
  @IsOptional()
  @IsString()
  @Length(1, 300)
  title?: string;

  @ApiProperty({
    example: '2026-03-13',
    description: 'The date the manufacturer received the complaint (awareness)',
  })
  @IsCalendarDate()
  receivedDate: string;

  @ApiPropertyOptional({ example: '2026-03-13T09:30:00+01:00' })
  @IsOptional()
  @IsInstantWithOffset()
  receivedAt?: string;

  @ApiProperty({ example: ['DE'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(60)
  @Matches(COUNTRY, { each: true, message: COUNTRY_MESSAGE })
  countries: string[];

  @ApiPropertyOptional({ example: 'SH-RJ', description: 'Site code as reported' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    message: 'siteId must be 1–64 letters, digits, dot, dash or underscore',
  })
  siteId?: string;

  @ApiPropertyOptional({ example: 'DVF-SH-0001', description: 'A registered device of the product' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    message: 'deviceId must be 1–64 letters, digits, dot, dash or underscore',
  })
  deviceId?: string;

  @ApiProperty({ enum: REPORTER_ROLES, example: 'physician' })
  @IsIn(REPORTER_ROLES)
  reporterRole: (typeof REPORTER_ROLES)[number];

  @ApiPropertyOptional({
    example: 'Cardiology, Ruijin Hospital',
    description: 'No personal names or contacts',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  reporterOrganisation?: string;

  @ApiPropertyOptional() @IsOptional() @IsBoolean() patientInvolved?: boolean;

  @ApiPropertyOptional({
    enum: SERIOUSNESS_LEVELS,
    default: 'non_serious',
    description: 'Harm as reported; starts the clocks of the candidate incident from receivedDate',
  })
  @IsOptional()
  @IsIn(SERIOUSNESS_LEVELS)
  seriousness?: Seriousness;

  @ApiPropertyOptional({ example: IMDRF_EXAMPLE, description: IMDRF_DESCRIPTION })
  @IsOptional()
  @IsObject()
  imdrf?: Record<string, string[]>;
}

export class ListIncidentsQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() productId?: string;

  @ApiPropertyOptional({ enum: INCIDENT_STATES })
  @IsOptional()
  @IsIn(INCIDENT_STATES)
  state?: IncidentState;

  @ApiPropertyOptional({ default: 100, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'opaque cursor from a previous page' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  cursor?: string;
}

export const ALERT_URGENCIES = ['due_soon', 'overdue'] as const;
export type AlertUrgency = (typeof ALERT_URGENCIES)[number];

export class ListAlertsQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() productId?: string;
  @ApiPropertyOptional() @IsOptional() @IsUUID() incidentId?: string;

  @ApiPropertyOptional({ enum: ALERT_URGENCIES })
  @IsOptional()
  @IsIn(ALERT_URGENCIES)
  urgency?: AlertUrgency;

  @ApiPropertyOptional({ default: 100, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'opaque cursor from a previous page' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  cursor?: string;
}
