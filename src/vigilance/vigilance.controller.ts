import { Body, Controller, Get, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { IncidentsService } from './incidents.service';
import {
  CreateComplaintDto,
  CreateIncidentDto,
  ListAlertsQueryDto,
  ListIncidentsQueryDto,
  UpdateIncidentDto,
} from './vigilance.dto';

const DEADLINES =
  'Each incident carries `deadlines` computed from the rules table for the product’s jurisdictions, earliest first: ' +
  '`[{ jurisdiction, rule, dueAt, ruleId, dueBy, country, status, urgency, hoursRemaining, basis }]`.';

@ApiTags('vigilance')
@ApiBearerAuth()
@Controller('api/v1')
export class VigilanceController {
  constructor(private readonly incidents: IncidentsService) {}

  // Before incidents/:id, which would otherwise take "alerts" for an id.
  @Get('incidents/alerts')
  @RequirePermission('vigilance:read')
  @ApiOperation({
    summary:
      'Due-soon and overdue alerts raised by the clock job (one per incident deadline per urgency), newest first',
  })
  listAlerts(@CurrentPrincipal() principal: Principal, @Query() query: ListAlertsQueryDto) {
    return this.incidents.listAlerts(principal, query);
  }

  @Get('incidents')
  @RequirePermission('vigilance:read')
  @ApiOperation({
    summary: `Incidents of the caller’s manufacturer, nearest open deadline first. ${DEADLINES}`,
  })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListIncidentsQueryDto) {
    return this.incidents.list(principal, query);
  }

  @Get('incidents/:id')
  @RequirePermission('vigilance:read')
  @ApiOperation({ summary: `One incident with its history (who, when, why) and alerts. ${DEADLINES}` })
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.incidents.get(principal, id);
  }

  @Post('incidents')
  @RequirePermission('vigilance:write')
  @ApiOperation({ summary: `Record an incident by hand; it starts as a candidate. ${DEADLINES}` })
  create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateIncidentDto) {
    return this.incidents.create(principal, dto);
  }

  @Patch('incidents/:id')
  @RequirePermission('vigilance:triage')
  @ApiOperation({
    summary:
      'Triage: state transitions (table in src/vigilance/incident-workflow.ts; reason required), seriousness, ' +
      'causality, IMDRF codes, new information (may start clocks on its date). Send the version you read: a stale ' +
      'one is 409.',
  })
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: UpdateIncidentDto,
  ) {
    return this.incidents.update(principal, id, dto);
  }

  @Post('complaints')
  @RequirePermission('complaints:create')
  @ApiOperation({
    summary: 'File a clinician complaint; it opens a candidate incident (returned as `incident`)',
  })
  createComplaint(@CurrentPrincipal() principal: Principal, @Body() dto: CreateComplaintDto) {
    return this.incidents.createComplaint(principal, dto);
  }
}
