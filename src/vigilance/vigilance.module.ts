import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { VigilanceClockJob } from './clock-alerts.job';
import { imdrfCodeTableProvider } from './imdrf-table.provider';
import { IncidentsService } from './incidents.service';
import { VigilanceController } from './vigilance.controller';

/** Incidents, complaints, triage, reporting clocks and their alerts (DESIGN.md §3 `vigilance`). */
@Module({
  imports: [RegistryModule],
  controllers: [VigilanceController],
  providers: [imdrfCodeTableProvider, IncidentsService, VigilanceClockJob],
  exports: [IncidentsService, VigilanceClockJob],
})
export class VigilanceModule {}
