import { corsOrigins, decodeKey, loadConfig } from './config';

const keys = { FW_PSEUDONYM_KEY: 'ab'.repeat(32), FW_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };

describe('loadConfig', () => {
  it('applies defaults and converts numbers', () => {
    const config = loadConfig({ ...keys, PORT: '8080' });
    expect(config.PORT).toBe(8080);
    expect(config.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/fieldwatch');
    expect(config.KAFKA_BROKERS).toBe('127.0.0.1:19092');
    expect(config.FW_PROCESS_ROLE).toBe('all');
    expect(config.FW_EVIDENCE_AUDIT_COVERAGE).toBe('complete-bases');
    expect(
      loadConfig({ ...keys, FW_EVIDENCE_AUDIT_COVERAGE: 'complete-cross' }).FW_EVIDENCE_AUDIT_COVERAGE,
    ).toBe('complete-cross');
    // Older coverages only re-run the queries stored with them; a deployment cannot choose them for new ones.
    expect(() => loadConfig({ ...keys, FW_EVIDENCE_AUDIT_COVERAGE: 'pairs' })).toThrow(
      /FW_EVIDENCE_AUDIT_COVERAGE/,
    );
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every invalid variable at once and never echoes a secret', () => {
    const attempt = () =>
      loadConfig({
        FW_MASTER_KEY: 'too-short-secret-value',
        PORT: 'eighty',
        KAFKA_BROKERS: 'no port',
        FW_PROCESS_ROLE: 'x',
      });
    expect(attempt).toThrow(/FW_PSEUDONYM_KEY: FW_PSEUDONYM_KEY must be 32 bytes/);
    expect(attempt).toThrow(/FW_MASTER_KEY: FW_MASTER_KEY must be 32 bytes/);
    expect(attempt).toThrow(/PORT: /);
    expect(attempt).toThrow(/KAFKA_BROKERS must be host:port/);
    expect(attempt).toThrow(/FW_PROCESS_ROLE must be one of/);
    expect(attempt).not.toThrow(/too-short-secret-value/);
  });

  it('refuses a short bootstrap admin token', () => {
    expect(() => loadConfig({ ...keys, FW_BOOTSTRAP_ADMIN_TOKEN: 'admin' })).toThrow(
      /at least 24 characters/,
    );
  });

  it('requires FW_AUDIT_SIGNING_KEY in production only, and checks its form without echoing it', () => {
    expect(loadConfig({ ...keys }).FW_AUDIT_SIGNING_KEY).toBeUndefined();
    expect(() => loadConfig({ ...keys, NODE_ENV: 'production' })).toThrow(
      /FW_AUDIT_SIGNING_KEY: is required when NODE_ENV=production/,
    );
    const seed = '5a'.repeat(32);
    expect(
      loadConfig({ ...keys, NODE_ENV: 'production', FW_AUDIT_SIGNING_KEY: seed }).FW_AUDIT_SIGNING_KEY,
    ).toBe(seed);
    const attempt = () => loadConfig({ ...keys, FW_AUDIT_SIGNING_KEY: 'not-a-key-0123456789' });
    expect(attempt).toThrow(/FW_AUDIT_SIGNING_KEY must be an Ed25519 PKCS#8 PEM key/);
    expect(attempt).not.toThrow(/not-a-key-0123456789/);
    expect(loadConfig({ ...keys }).FW_AUDIT_CHECKPOINT_EVERY).toBe(100);
    expect(() => loadConfig({ ...keys, FW_AUDIT_TRUSTED_PUBLIC_KEYS: 'abc' })).toThrow(
      /FW_AUDIT_TRUSTED_PUBLIC_KEYS/,
    );
  });

  it('allows no CORS origin by default and only exact origins when listed, never a wildcard', () => {
    expect(corsOrigins(loadConfig({ ...keys }))).toEqual([]);
    expect(
      corsOrigins(
        loadConfig({
          ...keys,
          FW_CORS_ORIGINS: 'https://Dash.Example.org, http://127.0.0.1:8080,http://[::1]:3000',
        }),
      ),
    ).toEqual(['https://dash.example.org', 'http://127.0.0.1:8080', 'http://[::1]:3000']);
    for (const refused of [
      '*',
      'https://*.example.org',
      'https://dash.example.org/',
      'https://dash.example.org/app',
      'null',
      'dash.example.org',
      'ftp://dash.example.org',
      'https://a.example.org,*',
    ]) {
      expect(() => loadConfig({ ...keys, FW_CORS_ORIGINS: refused })).toThrow(
        /FW_CORS_ORIGINS must be comma-separated exact origins/,
      );
    }
  });

  it('checks the vigilance settings: IMDRF table path, clock schedule, due-soon window', () => {
    const defaults = loadConfig({ ...keys });
    expect(defaults.FW_IMDRF_CODE_TABLE).toBeUndefined();
    expect(defaults.FW_VIGILANCE_CLOCK_CRON).toBe('*/15 * * * *');
    expect(defaults.FW_VIGILANCE_DUE_SOON_HOURS).toBe(48);
    const set = loadConfig({
      ...keys,
      FW_IMDRF_CODE_TABLE: '/srv/imdrf/imdrf_aet_2023.json',
      FW_VIGILANCE_CLOCK_CRON: '0 */5 * * * *',
      FW_VIGILANCE_DUE_SOON_HOURS: '24',
    });
    expect([set.FW_IMDRF_CODE_TABLE, set.FW_VIGILANCE_CLOCK_CRON, set.FW_VIGILANCE_DUE_SOON_HOURS]).toEqual([
      '/srv/imdrf/imdrf_aet_2023.json',
      '0 */5 * * * *',
      24,
    ]);
    expect(() => loadConfig({ ...keys, FW_IMDRF_CODE_TABLE: '/srv/imdrf/aet.xlsx' })).toThrow(
      /FW_IMDRF_CODE_TABLE must be the path of the IMDRF code table file, \.json or \.csv/,
    );
    for (const cron of ['every 15 minutes', '*/15 * * *', '61 * * * *']) {
      expect(() => loadConfig({ ...keys, FW_VIGILANCE_CLOCK_CRON: cron })).toThrow(
        /FW_VIGILANCE_CLOCK_CRON must be a cron expression/,
      );
    }
    expect(() => loadConfig({ ...keys, FW_VIGILANCE_DUE_SOON_HOURS: '0' })).toThrow(
      /FW_VIGILANCE_DUE_SOON_HOURS/,
    );
  });

  it('takes the periodic-report schedule from FW_REPORTS_SCHEDULE_CRON (daily 02:41 UTC by default)', () => {
    expect(loadConfig({ ...keys }).FW_REPORTS_SCHEDULE_CRON).toBe('41 2 * * *');
    expect(loadConfig({ ...keys, FW_REPORTS_SCHEDULE_CRON: '0 6 * * 1' }).FW_REPORTS_SCHEDULE_CRON).toBe(
      '0 6 * * 1',
    );
    for (const cron of ['daily', '41 2 * *', '41 25 * * *']) {
      expect(() => loadConfig({ ...keys, FW_REPORTS_SCHEDULE_CRON: cron })).toThrow(
        /FW_REPORTS_SCHEDULE_CRON must be a cron expression/,
      );
    }
  });

  it('decodes 32-byte keys from hex or base64', () => {
    expect(decodeKey(keys.FW_PSEUDONYM_KEY)).toEqual(Buffer.alloc(32, 0xab));
    expect(decodeKey(keys.FW_MASTER_KEY)).toEqual(Buffer.alloc(32, 7));
  });
});
