/**
 * Wiring of the clock job and the IMDRF table provider, without a database: which processes schedule the job, with
 * which cron time, and how a bad table path stops the start. The job's run itself is tested against PostgreSQL in
 * test/vigilance.integration-spec.ts.
 */
import { SchedulerRegistry } from '@nestjs/schedule';
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { type AppConfig, loadConfig } from '../config/config';
import { runsBackgroundWork } from '../common/singleton-schedule';
import { CLOCK_ALERTS_JOB, VigilanceClockJob } from './clock-alerts.job';
import { ImdrfTableError } from './imdrf-codes';
import { imdrfCodeTableProvider } from './imdrf-table.provider';
import type { IncidentsService } from './incidents.service';

const keys = { FW_PSEUDONYM_KEY: 'ab'.repeat(32), FW_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };

function jobFor(config: AppConfig, scheduler: SchedulerRegistry): VigilanceClockJob {
  return new VigilanceClockJob(
    config,
    {} as DataSource,
    scheduler,
    {} as IncidentsService,
    {} as AuditService,
  );
}

describe('vigilance clock job wiring', () => {
  it('runs only where FW_PROCESS_ROLE includes background work', () => {
    expect(runsBackgroundWork('api')).toBe(false);
    expect(runsBackgroundWork('ingest')).toBe(true);
    expect(runsBackgroundWork('all')).toBe(true);
  });

  it('schedules itself with the configured cron time in background processes, not in api ones', () => {
    const api = new SchedulerRegistry();
    jobFor(loadConfig({ ...keys, FW_PROCESS_ROLE: 'api' }), api).onApplicationBootstrap();
    expect(api.doesExist('cron', CLOCK_ALERTS_JOB)).toBe(false);

    const ingest = new SchedulerRegistry();
    jobFor(
      loadConfig({ ...keys, FW_PROCESS_ROLE: 'ingest', FW_VIGILANCE_CLOCK_CRON: '0 */5 * * * *' }),
      ingest,
    ).onApplicationBootstrap();
    const cron = ingest.getCronJob(CLOCK_ALERTS_JOB);
    try {
      expect(cron.isActive).toBe(true);
      expect(cron.cronTime.source).toBe('0 */5 * * * *');
      expect(cron.cronTime.timeZone).toBe('UTC');
    } finally {
      ingest.deleteCronJob(CLOCK_ALERTS_JOB);
    }
  });
});

describe('IMDRF code table provider', () => {
  const load = (config: AppConfig) =>
    (imdrfCodeTableProvider as { useFactory: (config: AppConfig) => unknown }).useFactory(config);

  it('gives no table when none is configured', () => {
    expect(load(loadConfig({ ...keys }))).toBeNull();
  });

  it('stops the start with the path and the reason when the table cannot be read', () => {
    const config = loadConfig({ ...keys, FW_IMDRF_CODE_TABLE: '/nonexistent/imdrf_aet_2023.json' });
    expect(() => load(config)).toThrow(ImdrfTableError);
    expect(() => load(config)).toThrow(
      /^Cannot read the IMDRF code table \/nonexistent\/imdrf_aet_2023\.json: /,
    );
  });
});
