import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { Public } from '../auth/decorators';
import { IngestionConsumer } from '../ingestion/ingestion.consumer';

type ComponentState = 'up' | 'down' | 'disabled';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly consumer: IngestionConsumer,
  ) {}

  /** Liveness: the process answers. Orchestrators restart it only when this fails. */
  @Public()
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Readiness and a summary: 200 with `ok` when PostgreSQL and Kafka answer, 200 with `degraded`
   * when only Kafka is away (the API still serves stored data; ingestion resumes by itself), 503
   * when PostgreSQL is unreachable. No versions, hosts or errors that would help an attacker.
   */
  @Public()
  @Get()
  async health(@Res({ passthrough: true }) response: Response) {
    const database: ComponentState = await this.dataSource
      .query('SELECT 1')
      .then(() => 'up' as const)
      .catch(() => 'down' as const);
    const kafka: ComponentState = this.consumer.status.enabled
      ? (await this.consumer.isKafkaReachable())
        ? 'up'
        : 'down'
      : 'disabled';
    const consumer: ComponentState = this.consumer.status.enabled
      ? this.consumer.status.running
        ? 'up'
        : 'down'
      : 'disabled';
    const status = database === 'down' ? 'down' : kafka === 'down' || consumer === 'down' ? 'degraded' : 'ok';
    if (status === 'down') response.status(HttpStatus.SERVICE_UNAVAILABLE);
    return {
      status,
      components: { database, kafka, consumer },
      lastBatchAt: this.consumer.status.lastBatchAt,
    };
  }
}
