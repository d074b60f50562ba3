import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Principal } from '../auth/roles';
import { runsBackgroundWork, runWithAdvisoryLock, scheduleUtcCron } from '../common/singleton-schedule';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { runAsSystem, runAsTenant } from '../database/tenant-context';
import { addDays, addMonths } from './report-period';
import { NMPA_REPORT_DUE_DAYS_AFTER_YEAR, PSUR_PERIOD_MONTHS, ReportType } from './report-rules';
import { ReportsService } from './reports.service';

export const REPORTS_SCHEDULE_JOB = 'periodic-reports';
const LOCK_KEY = `fieldwatch:${REPORTS_SCHEDULE_JOB}`;
/** NMPA: annual reports during the first five-year registration cycle, then one per renewal (reference/regulatory.md §3.2). */
const NMPA_ANNUAL_REPORTS = 5;

export interface DueReport {
  type: ReportType;
  from: string;
  to: string;
}

/**
 * Which reports are due on `today` for a product, from rules as data (report-rules.ts). The period anchor is the date
 * the product was registered on the platform — the platform holds no certificate or registration-certificate date,
 * so the first period starts there and the periods follow contiguously, without gaps or overlaps (MDCG 2022-21 §5).
 *   - PSUR (EU jurisdiction, class with a PSUR): the latest completed period of PSUR_PERIOD_MONTHS months.
 *   - NMPA (CN jurisdiction): the latest completed registration year, while today is within the 60 days after it,
 *     for the first five years.
 */
export function dueReports(
  product: { riskClass: string; jurisdictions: readonly string[]; anchor: string },
  today: string,
): DueReport[] {
  const due: DueReport[] = [];
  const months = PSUR_PERIOD_MONTHS[product.riskClass];
  if (product.jurisdictions.includes('EU') && months) {
    let start = product.anchor;
    let latest: DueReport | null = null;
    for (let k = 1; ; k++) {
      const end = addDays(addMonths(product.anchor, k * months), -1);
      if (end >= today) break;
      latest = { type: 'psur', from: start, to: end };
      start = addDays(end, 1);
    }
    if (latest) due.push(latest);
  }
  if (product.jurisdictions.includes('CN')) {
    for (let year = 1; year <= NMPA_ANNUAL_REPORTS; year++) {
      const from = addMonths(product.anchor, 12 * (year - 1));
      const to = addDays(addMonths(product.anchor, 12 * year), -1);
      if (today > to && today <= addDays(to, NMPA_REPORT_DUE_DAYS_AFTER_YEAR)) {
        due.push({ type: 'nmpa-periodic-risk', from, to });
      }
    }
  }
  return due;
}

export interface ReportsRunResult {
  ran: boolean;
  today: string;
  generated: Array<{ productId: string; type: ReportType; from: string; to: string; reportId: string }>;
  failures: number;
}

/**
 * Drafts the periodic reports that are due (FW_PROCESS_ROLE processes that run background work; one instance at a time
 * by advisory lock). A report already generated for the period — draft or final — is left alone: regenerating a draft
 * is the quality team's decision, and a final one never changes. Each product's report is built as its own tenant.
 */
@Injectable()
export class ReportsScheduleJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReportsScheduleJob.name);
  private current: Promise<ReportsRunResult> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly scheduler: SchedulerRegistry,
    private readonly reports: ReportsService,
  ) {}

  onApplicationBootstrap(): void {
    if (!runsBackgroundWork(this.config.FW_PROCESS_ROLE)) return;
    scheduleUtcCron(this.scheduler, REPORTS_SCHEDULE_JOB, this.config.FW_REPORTS_SCHEDULE_CRON, () =>
      this.tick(),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.current?.catch(() => undefined);
  }

  runOnce(today: string = new Date().toISOString().slice(0, 10)): Promise<ReportsRunResult> {
    const run = runAsSystem(() => this.runLocked(today));
    this.current = run;
    return run.finally(() => {
      if (this.current === run) this.current = null;
    });
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.runOnce();
      if (result.generated.length > 0 || result.failures > 0) {
        this.logger.log(`Periodic reports: ${result.generated.length} drafted, ${result.failures} failures`);
      }
    } catch (error) {
      this.logger.error(`Periodic report run failed: ${error instanceof Error ? error.name : typeof error}`);
    }
  }

  private async runLocked(today: string): Promise<ReportsRunResult> {
    const result: ReportsRunResult = { ran: false, today, generated: [], failures: 0 };
    const locked = await runWithAdvisoryLock(this.dataSource, LOCK_KEY, { wait: false }, async () => {
      for (const product of await this.reports.scheduledProducts()) {
        const due = dueReports(
          { riskClass: product.risk_class, jurisdictions: product.jurisdictions, anchor: product.created_at },
          today,
        );
        for (const report of due) {
          const principal: Principal = {
            apiKeyId: 'schedule:periodic-reports',
            role: 'quality',
            manufacturerId: product.manufacturer_id,
          };
          try {
            // Least privilege: the product's own tenant, not every tenant.
            const generated = await runAsTenant(product.manufacturer_id, async () => {
              if (
                await this.reports.reportExists(
                  product.manufacturer_id,
                  product.id,
                  report.type,
                  report.from,
                  report.to,
                )
              )
                return null;
              return this.reports.generate(principal, { ...report, productId: product.id }, 'schedule');
            });
            if (generated)
              result.generated.push({ productId: product.id, ...report, reportId: generated.id });
          } catch (error) {
            result.failures++;
            this.logger.error(
              `Scheduled ${report.type} for product ${product.id} failed: ${error instanceof Error ? error.name : typeof error}`,
            );
          }
        }
      }
    });
    result.ran = locked.ran;
    return result;
  }
}
