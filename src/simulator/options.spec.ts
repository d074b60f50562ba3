import { addCalendarMonths, HELP_TEXT, parseSimulatorArgs, UsageError } from './options';

const NOW = Date.parse('2026-07-15T12:34:56.789Z');
const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseSimulatorArgs(argv, env, NOW);

describe('parseSimulatorArgs', () => {
  it('defaults to the six months before now, ten sites, a random seed and a two-minute wall-clock run', () => {
    const options = parse([]);
    expect(options.end).toBe(Date.parse('2026-07-15T12:34:56Z'));
    expect(options.start).toBe(Date.parse('2026-01-15T12:34:56Z'));
    expect(options.sites).toBe(10);
    expect(options.seed).toMatch(/^[0-9a-f]{12}$/);
    expect(parse([]).seed).not.toBe(options.seed);
    expect(options.pacing).toEqual({ mode: 'wall-clock', speed: (options.end - options.start) / 120_000 });
    expect(options.register).toBe(true);
    expect(options.brokers).toEqual(['127.0.0.1:19092']);
    expect(options.apiUrl).toBe('http://127.0.0.1:3000');
    expect(options.streams).toEqual({ analyses: true, outcomes: true, deviceEvents: true });
    expect(options.stateFile).toMatch(/\.local\/simulator\/state\.json$/);
  });

  it('reads --start/--months, pacing and the Kafka and API settings (with environment fallbacks)', () => {
    const options = parse(['--start', '2026-01-01', '--months', '12', '--speed', '86400', '--seed', 'x'], {
      KAFKA_BROKERS: 'a:9092, b:9092',
      KAFKA_TOPIC_PREFIX: 'ci-',
      FW_API_KEY: 'fwk_env',
      FW_BOOTSTRAP_ADMIN_TOKEN: 'admin',
    });
    expect(options.start).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(options.end).toBe(Date.parse('2027-01-01T00:00:00Z'));
    expect(options.pacing).toEqual({ mode: 'wall-clock', speed: 86400 });
    expect(options.brokers).toEqual(['a:9092', 'b:9092']);
    expect(options.topicPrefix).toBe('ci-');
    expect(options.apiKey).toBe('fwk_env');
    expect(options.bootstrapAdminToken).toBe('admin');
    expect(parse(['--api-key', 'cli', '--brokers', 'c:1'], { FW_API_KEY: 'env' })).toMatchObject({
      apiKey: 'cli',
      brokers: ['c:1'],
    });
    expect(parse(['--as-fast-as-possible']).pacing).toEqual({ mode: 'as-fast-as-possible' });
    expect(parse(['--dry-run']).pacing).toEqual({ mode: 'as-fast-as-possible' });
    expect(parse(['--duration-seconds', '60', '--months', '1', '--start', '2026-03-01']).pacing).toEqual({
      mode: 'wall-clock',
      speed: (31 * 86_400_000) / 60_000,
    });
  });

  it('parses the drift injections, including date-times that contain colons', () => {
    const options = parse([
      '--site-bias',
      'SH-RJ:2026-06-01:-0.05',
      '--site-bias',
      'BJ-AZ:2026-06-01T08:00:00Z:+0.03',
      '--hr-shift',
      'BJ-AZ:2026-04-01:+12',
      '--scanner-change',
      'DE-MUC-1:2026-05-01:united-imaging',
      '--bad-model',
      'ffrnet-2026.2:2026-05-15:-0.04',
    ]);
    expect(options.injections.siteBiases).toEqual([
      { siteId: 'SH-RJ', from: Date.parse('2026-06-01T00:00:00Z'), bias: -0.05 },
      { siteId: 'BJ-AZ', from: Date.parse('2026-06-01T08:00:00Z'), bias: 0.03 },
    ]);
    expect(options.injections.heartRateShifts).toEqual([
      { siteId: 'BJ-AZ', from: Date.parse('2026-04-01T00:00:00Z'), shiftBpm: 12 },
    ]);
    expect(options.injections.scannerChanges).toEqual([
      { siteId: 'DE-MUC-1', from: Date.parse('2026-05-01T00:00:00Z'), vendor: 'United Imaging' },
    ]);
    expect(options.injections.badModels).toEqual([
      { version: 'ffrnet-2026.2', from: Date.parse('2026-05-15T00:00:00Z'), bias: -0.04 },
    ]);
  });

  it('parses fault rates and streams', () => {
    const options = parse([
      '--malformed-rate',
      '0.01',
      '--unsigned-rate',
      '0.002',
      '--forged-rate',
      '0.003',
      '--tampered-rate',
      '0.004',
      '--duplicate-rate',
      '0.05',
      '--schema-invalid-rate',
      '0.006',
      '--bad-burst-size',
      '10',
      '--streams',
      'analyses,device-events',
    ]);
    expect(options.faults).toEqual({
      malformed: 0.01,
      schemaInvalid: 0.006,
      unsigned: 0.002,
      forged: 0.003,
      tampered: 0.004,
      duplicate: 0.05,
      burstSize: 10,
    });
    expect(options.streams).toEqual({ analyses: true, outcomes: false, deviceEvents: true });
  });

  it.each([
    [['--months', '0']],
    [['--sites', '2.5']],
    [['--malformed-rate', '1.5']],
    [['--site-bias', 'SH-RJ:2026-06-01']],
    [['--site-bias', 'SH-RJ:June:-0.05']],
    [['--hr-shift', 'SH-RJ:2026-06-01:fast']],
    [['--scanner-change', 'SH-RJ:2026-06-01:Hitachi']],
    [['--bad-model', 'ffrnet 2026:2026-06-01:-0.04']],
    [['--speed', '10', '--duration-seconds', '5']],
    [['--streams', 'analyses,images']],
    [['--vessel-mix', 'cath-lab']],
    [['--unknown-option']],
    [['--api-url', 'ftp://x']],
  ])('rejects %j with a usage error', (argv) => {
    expect(() => parse(argv)).toThrow(UsageError);
  });

  it('documents every switch in --help', () => {
    for (const option of [
      '--seed',
      '--months',
      '--start',
      '--sites',
      '--site-bias',
      '--hr-shift',
      '--scanner-change',
      '--bad-model',
      '--malformed-rate',
      '--unsigned-rate',
      '--forged-rate',
      '--tampered-rate',
      '--duplicate-rate',
      '--speed',
      '--duration-seconds',
      '--as-fast-as-possible',
      '--api-url',
      '--api-key',
      '--no-register',
      '--dry-run',
      '--brokers',
      '--topic-prefix',
      '--quiet',
    ]) {
      expect(HELP_TEXT).toContain(option);
    }
  });
});

describe('addCalendarMonths', () => {
  it('moves by calendar months in UTC', () => {
    expect(addCalendarMonths(Date.parse('2026-01-31T00:00:00Z'), 1)).toBe(Date.parse('2026-03-03T00:00:00Z'));
    expect(addCalendarMonths(Date.parse('2026-07-15T00:00:00Z'), -6)).toBe(
      Date.parse('2026-01-15T00:00:00Z'),
    );
  });
});

describe('--referral-if-negative', () => {
  it('is the model default unless given, and a probability when given', () => {
    expect(parse([]).referralIfNegative).toBeUndefined();
    expect(parse(['--referral-if-negative', '1']).referralIfNegative).toBe(1);
    expect(() => parse(['--referral-if-negative', '1.5'])).toThrow(UsageError);
    expect(HELP_TEXT).toContain('--referral-if-negative');
  });
});
