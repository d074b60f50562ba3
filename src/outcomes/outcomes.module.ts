import { Module } from '@nestjs/common';
import { LinkageWorker } from './linkage.worker';

@Module({ providers: [LinkageWorker], exports: [LinkageWorker] })
export class OutcomesModule {}
