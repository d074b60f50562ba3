import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { EvidenceController } from './evidence.controller';
import { EvidenceService } from './evidence.service';
import { OmopController } from './omop/omop.controller';
import { OmopService } from './omop/omop.service';

@Module({
  imports: [RegistryModule],
  controllers: [EvidenceController, OmopController],
  providers: [EvidenceService, OmopService],
})
export class EvidenceModule {}
