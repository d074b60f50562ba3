import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { FullDetailPool } from './full-detail.pool';
import { PerformanceRollupWorker } from './performance-rollup.worker';
import { PerformanceController } from './performance.controller';
import { PerformanceService } from './performance.service';

@Module({
  imports: [RegistryModule],
  controllers: [PerformanceController],
  providers: [PerformanceService, PerformanceRollupWorker, FullDetailPool],
  exports: [PerformanceRollupWorker, PerformanceService],
})
export class PerformanceModule {}
