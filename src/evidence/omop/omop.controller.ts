import { BadRequestException, Controller, Get, Header, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../../auth/decorators';
import { Principal } from '../../auth/roles';
import { OmopExportQueryDto } from '../evidence.dto';
import { OMOP_FILES, OmopFile, OmopService } from './omop.service';

@ApiTags('evidence')
@ApiBearerAuth()
@Controller('api/v1/evidence/omop')
export class OmopController {
  constructor(private readonly omop: OmopService) {}

  @Get(':table.csv')
  @RequirePermission('evidence:export-omop')
  @Header('Content-Type', 'text/csv; charset=utf-8')
  @ApiProduces('text/csv')
  @ApiParam({ name: 'table', enum: OMOP_FILES })
  @ApiOperation({
    summary:
      "One OMOP CDM v5.4 table of the product's de-identified data (person, observation_period, procedure_occurrence, device_exposure, measurement, and the source_to_concept_map of the local concepts) as CSV",
  })
  csv(
    @CurrentPrincipal() principal: Principal,
    @Param('table') table: string,
    @Query() query: OmopExportQueryDto,
  ): Promise<string> {
    if (!(OMOP_FILES as readonly string[]).includes(table)) {
      throw new BadRequestException(`table must be one of ${OMOP_FILES.join(', ')}`);
    }
    return this.omop.csv(principal, table as OmopFile, query);
  }
}
