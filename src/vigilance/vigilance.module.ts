import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { VigilanceClockJob } from './clock-alerts.job';
import { VigilanceDetectionJob } from './detection.job';
import { DetectionService } from './detection.service';
import { imdrfCodeTableProvider } from './imdrf-table.provider';
import { IncidentsService } from './incidents.service';
import { TrendsService } from './trends.service';
import { VigilanceAnalyticsController } from './vigilance-analytics.controller';
import { VigilanceAnalyticsService } from './vigilance-analytics.service';
import { VigilanceController } from './vigilance.controller';

/** Incidents, complaints, triage, reporting clocks and their alerts, detection, trends, exports (DESIGN.md §3 `vigilance`). */
@Module({
  imports: [RegistryModule],
  // The analytics controller first: its `incidents/detections` and `incidents/:id/mir.*` routes are literal.
  controllers: [VigilanceAnalyticsController, VigilanceController],
  providers: [
    imdrfCodeTableProvider,
    IncidentsService,
    VigilanceClockJob,
    DetectionService,
    TrendsService,
    VigilanceAnalyticsService,
    VigilanceDetectionJob,
  ],
  exports: [IncidentsService, VigilanceClockJob, VigilanceDetectionJob, VigilanceAnalyticsService],
})
export class VigilanceModule {}
