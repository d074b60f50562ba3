import { Module } from '@nestjs/common';
import { AnalysesService } from './analyses.service';
import { IngestionStatsService } from './ingestion-stats.service';
import { IngestionController } from './ingestion.controller';
import { IngestionConsumer } from './ingestion.consumer';

@Module({
  controllers: [IngestionController],
  providers: [IngestionConsumer, IngestionStatsService, AnalysesService],
  exports: [IngestionConsumer],
})
export class IngestionModule {}
