import { ApiKey } from '../auth/api-key.entity';
import { REGISTRY_ENTITIES } from '../registry/registry.entities';

/** Entities mapped through TypeORM. Ingestion tables are written with set-based SQL, not entities. */
export const ENTITIES = [...REGISTRY_ENTITIES, ApiKey];
