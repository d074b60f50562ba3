import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RegistryController } from './registry.controller';
import { REGISTRY_ENTITIES } from './registry.entities';
import { RegistryService } from './registry.service';

@Module({
  imports: [TypeOrmModule.forFeature(REGISTRY_ENTITIES)],
  controllers: [RegistryController],
  providers: [RegistryService],
  exports: [RegistryService],
})
export class RegistryModule {}
