import { BadRequestException, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { actorOf, AuditService } from '../audit/audit.service';
import { Principal } from '../auth/roles';
import {
  configurationHash,
  DEFAULT_DRIFT_CONFIGURATION,
  DriftConfiguration,
  DriftConfigurationError,
  isChartMonitor,
  monitorSegments,
  parseDriftConfiguration,
  sequentialHorizon,
} from './drift-config';
import type { Queryable } from './drift-queries';

/** A product's configuration in force: the stored version, or the built-in default (version 0). */
export interface EffectiveConfiguration {
  readonly productId: string;
  readonly version: number;
  readonly configurationHash: string;
  readonly configuration: DriftConfiguration;
  readonly setAt: string | null;
  readonly setBy: string | null;
  readonly reason: string | null;
}

export const DEFAULT_CONFIGURATION_HASH = configurationHash(DEFAULT_DRIFT_CONFIGURATION);

/** Versioned monitor configurations (drift-config.ts): read the one in force, store a new version with its reason. */
@Injectable()
export class DriftConfigurationsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async effective(productId: string, db: Queryable = this.dataSource): Promise<EffectiveConfiguration> {
    const rows = await db.query<
      Array<{
        version: number;
        configuration: DriftConfiguration;
        configuration_hash: string;
        created_at: Date;
        created_by: string;
        reason: string;
      }>
    >(
      `SELECT version, configuration, configuration_hash, created_at, created_by, reason
         FROM drift_monitor_configs WHERE product_id = $1 ORDER BY version DESC LIMIT 1`,
      [productId],
    );
    if (rows.length === 0) {
      return {
        productId,
        version: 0,
        configurationHash: DEFAULT_CONFIGURATION_HASH,
        configuration: DEFAULT_DRIFT_CONFIGURATION,
        setAt: null,
        setBy: null,
        reason: null,
      };
    }
    const row = rows[0];
    return {
      productId,
      version: row.version,
      configurationHash: row.configuration_hash,
      configuration: row.configuration,
      setAt: new Date(row.created_at).toISOString(),
      setBy: row.created_by,
      reason: row.reason,
    };
  }

  /** The manufacturer's products (first 500 by creation), for the listing without a productId. */
  async productIds(manufacturerId: string): Promise<string[]> {
    const rows = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT id::text AS id FROM products WHERE manufacturer_id = $1 ORDER BY created_at, id LIMIT 500`,
      [manufacturerId],
    );
    return rows.map((r) => r.id);
  }

  /** Stores a new version (validated; audited with its reason). An identical document is not stored twice. */
  async put(
    principal: Principal,
    manufacturerId: string,
    productId: string,
    document: unknown,
    reason: string,
  ): Promise<EffectiveConfiguration> {
    let configuration: DriftConfiguration;
    try {
      configuration = parseDriftConfiguration(document);
    } catch (error) {
      if (error instanceof DriftConfigurationError) throw new BadRequestException(error.problems);
      throw error;
    }
    const hash = configurationHash(configuration);
    return this.dataSource.transaction(async (manager) => {
      // One writer per product at a time, so versions are consecutive.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('drift_config:' || $1, 0))`, [
        productId,
      ]);
      const current = await this.effective(productId, manager);
      if (current.configurationHash === hash) return current;
      const version = current.version + 1;
      await manager.query(
        `INSERT INTO drift_monitor_configs (manufacturer_id, product_id, version, configuration, configuration_hash,
                                            reason, created_by)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)`,
        [manufacturerId, productId, version, JSON.stringify(configuration), hash, reason, principal.apiKeyId],
      );
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'drift_configuration.update',
          entityId: productId,
          manufacturerId,
          before: { version: current.version, configurationHash: current.configurationHash },
          after: { version, configurationHash: hash },
          reason,
          details: { version, configurationHash: hash, previousHash: current.configurationHash },
        },
        manager,
      );
      return this.effective(productId, manager);
    });
  }
}

/** The monitors of a configuration as the API lists them. */
export function describeMonitors(configuration: DriftConfiguration) {
  return configuration.monitors.map((m) => ({
    ...m,
    segments: monitorSegments(configuration, m),
    weight: m.weight ?? 1,
    budget: isChartMonitor(m)
      ? {
          kind: 'sequential',
          familyArl0: configuration.sequential.familyArl0,
          split: configuration.sequential.split,
          horizon: sequentialHorizon(configuration),
        }
      : {
          kind: 'batch',
          familyAlphaPerRun: configuration.batch.familyAlpha,
          split: configuration.batch.split,
        },
  }));
}
