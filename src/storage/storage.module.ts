import { Module } from '@nestjs/common';
import { PartitionMaintenanceJob } from './partition-maintenance.job';

/** Event-table partitions ahead of time and retention (docs/storage/partitioning.md). */
@Module({
  providers: [PartitionMaintenanceJob],
  exports: [PartitionMaintenanceJob],
})
export class StorageModule {}
