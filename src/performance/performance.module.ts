import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { PerformanceController } from './performance.controller';
import { PerformanceService } from './performance.service';

@Module({ imports: [RegistryModule], controllers: [PerformanceController], providers: [PerformanceService] })
export class PerformanceModule {}
