import { Logger, Provider } from '@nestjs/common';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ImdrfCodeTable, loadImdrfCodeTable } from './imdrf-codes';

/** The IMDRF code table named by FW_IMDRF_CODE_TABLE, or null when none is configured. */
export const IMDRF_CODE_TABLE = Symbol('IMDRF_CODE_TABLE');

/**
 * Loaded once at start: a missing, unreadable or malformed table stops the process with the loader's message (path
 * and reason), instead of failing on the first coded incident.
 */
export const imdrfCodeTableProvider: Provider = {
  provide: IMDRF_CODE_TABLE,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig): ImdrfCodeTable | null => {
    const logger = new Logger('ImdrfCodeTable');
    if (!config.FW_IMDRF_CODE_TABLE) {
      logger.warn('FW_IMDRF_CODE_TABLE is not set: incidents with IMDRF codes are refused until it is');
      return null;
    }
    const table = loadImdrfCodeTable(config.FW_IMDRF_CODE_TABLE);
    logger.log(
      `IMDRF code table ${table.source}: release ${table.release ?? 'unknown'}, annexes ${table.annexes.join('')}, ` +
        `${table.terms.size} terms`,
    );
    return table;
  },
};
