import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { DriftAlertsService } from './drift-alerts.service';
import { DriftConfigurationsService } from './drift-configurations.service';
import { DriftEvaluationService } from './drift-evaluation.service';
import { DriftEvaluationJob } from './drift.job';
import { DriftController } from './drift.controller';
import { LabelFreeAccuracyController } from './label-free-accuracy.controller';
import { LabelFreeAccuracyService } from './label-free-accuracy.service';
import { ReferenceWindowsService } from './reference-windows.service';

/** Reference windows, monitors, scheduled evaluations and alerts (DESIGN.md §3 `drift`; src/drift/README.md). */
@Module({
  imports: [RegistryModule],
  controllers: [DriftController, LabelFreeAccuracyController],
  providers: [
    DriftConfigurationsService,
    ReferenceWindowsService,
    DriftAlertsService,
    DriftEvaluationService,
    DriftEvaluationJob,
    LabelFreeAccuracyService,
  ],
  exports: [
    DriftEvaluationService,
    ReferenceWindowsService,
    DriftConfigurationsService,
    DriftAlertsService,
    DriftEvaluationJob,
  ],
})
export class DriftModule {}
