import { Module } from '@nestjs/common';
import { PerformanceModule } from '../performance/performance.module';
import { RegistryModule } from '../registry/registry.module';
import { VigilanceModule } from '../vigilance/vigilance.module';
import { ReportDataService } from './report-data.service';
import { ReportsController } from './reports.controller';
import { ReportsScheduleJob } from './reports-schedule.job';
import { ReportsService } from './reports.service';

/** Periodic regulator-facing reports: PSUR and NMPA periodic risk evaluation report (DESIGN.md §3 `reports`). */
@Module({
  imports: [RegistryModule, PerformanceModule, VigilanceModule],
  controllers: [ReportsController],
  providers: [ReportDataService, ReportsService, ReportsScheduleJob],
  exports: [ReportsService, ReportsScheduleJob],
})
export class ReportsModule {}
