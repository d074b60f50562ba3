/// <reference lib="dom" />
import { INestApplication } from '@nestjs/common';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from 'pg';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { parseSimulatorArgs, runSimulator } from '../src/simulator';
import { ingestionStatsByTopic, registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { pollUntil } from './helpers/poll';
import {
  isolatedEnvironment,
  TEST_ADMIN_TOKEN,
  TEST_DATABASE_URL,
  TEST_KAFKA_BROKERS,
} from './helpers/test-environment';

/**
 * Issue 7, "done when" for the dashboards: headless Chromium (Debian's package, driven by playwright-core, which
 * never downloads a browser) against a seeded instance — a tenant registered through the API and three months of
 * simulator traffic through Kafka, ingestion and linkage, plus incidents with open and overdue deadlines. Every
 * page loads without a console error (CSP violations and failed requests are console errors too), its charts draw
 * (pixels on the canvas), filters change what is shown, and a visitor without a key sees the sign-in only.
 *
 * FW_DASHBOARD_SCREENSHOTS=<dir> also saves a screenshot of each page there (the README's docs/dashboards/*.png).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PAGES = ['fleet', 'performance', 'drift', 'vigilance', 'reports'] as const;
/** The charts each page must draw with the seeded data (drift and reports draw once their APIs exist). */
const CHARTS: Record<(typeof PAGES)[number], string[]> = {
  fleet: ['#volumes', '#rates', '#by-site'],
  performance: ['#claims', '#roc', '#bland-altman', '#bland-altman-sites', '#forest'],
  drift: [],
  vigilance: ['#clock'],
  reports: [],
};
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const isoDay = (date: Date) => date.toISOString().slice(0, 10);

describe('dashboards in a real browser', () => {
  const environment = isolatedEnvironment('dash');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const stateDirectory = mkdtempSync(join(tmpdir(), 'fw-dash-'));
  let app: INestApplication;
  let baseUrl: string;
  let browser: Browser;
  let fleet: RegisteredFleet;
  let qualityKey: string;
  let simulatedProductId: string;
  let start: Date;
  let driftEvaluated = false;
  let reportGenerated = false;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}. npm test installs Debian's package when run as root (scripts/ensure-deps.js); ` +
          'otherwise: apt-get install -y chromium, or set CHROMIUM_PATH.',
      );
    }
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    await app.listen(0, '127.0.0.1');
    baseUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const server = app.getHttpServer();
    fleet = await registerFleet(app, `Dash-${Date.now().toString(36)}`, [
      { siteId: `DASH-${Date.now().toString(36)}`, devices: [], dataSources: [] },
    ]);

    // Three months ending about a week ago: every event is in the past, inside the fleet page's period, and the last
    // weeks fall in the drift monitors' current window (30 days before the evaluation).
    start = new Date(
      Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() - 100),
    );
    const options = parseSimulatorArgs(
      [
        '--api-url',
        baseUrl,
        '--api-key',
        fleet.manufacturerKey,
        '--brokers',
        TEST_KAFKA_BROKERS,
        '--topic-prefix',
        environment.KAFKA_TOPIC_PREFIX,
        '--state-file',
        join(stateDirectory, 'state.json'),
        '--seed',
        'dashboards',
        '--start',
        isoDay(start),
        '--months',
        '3',
        '--sites',
        '4',
        // Site and device codes are global across tenants: this tenant's fleet must not take the catalogue's codes,
        // which the simulated manufacturer of the other simulator tests registers.
        '--code-prefix',
        'DSIM-',
        '--heartbeat-minutes',
        '0',
        // A second model version and a second scanner vendor, so the performance filters have something to select.
        '--bad-model',
        `ffrnet-2026.9:${isoDay(new Date(start.getTime() + 30 * 86_400_000))}:-0.03`,
        '--as-fast-as-possible',
        '--quiet',
      ],
      {},
      Date.now(),
    );
    const { summary } = (await runSimulator(options, {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stderrIsTty: false,
      stop: new AbortController().signal,
    })) as unknown as {
      summary: { topics: Record<string, { genuine: number }>; registration: { productId: string } };
    };
    simulatedProductId = summary.registration.productId;
    await pollUntil(
      () => ingestionStatsByTopic(server),
      (stats) =>
        Object.entries(summary.topics).every(([topic, sent]) => (stats[topic]?.stored ?? 0) >= sent.genuine),
      { timeoutMs: 180_000, intervalMs: 500, what: 'the platform to store every simulated event' },
    );
    const database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    try {
      await pollUntil(
        async () =>
          (await database.query<{ n: number }>('SELECT count(*)::int AS n FROM linkage_pending')).rows[0].n,
        (pending) => pending === 0,
        { timeoutMs: 120_000, intervalMs: 500, what: 'the linkage inbox to empty' },
      );
    } finally {
      await database.end();
    }

    // Incidents: one past its MDR 15-day clock, one just opened.
    const day = (daysAgo: number) => isoDay(new Date(Date.now() - daysAgo * 86_400_000));
    for (const [title, awarenessDate] of [
      ['Missed ischaemia reported by the cardiology department', day(25)],
      ['CT-FFR far above invasive FFR in the RCA', day(1)],
    ]) {
      await request(server)
        .post('/api/v1/incidents')
        .set(bearer(fleet.manufacturerKey))
        .send({
          productId: fleet.productId,
          title,
          seriousness: 'serious_deterioration',
          awarenessDate,
          countries: ['DE'],
        })
        .expect(201);
    }
    const key = await request(server)
      .post('/api/v1/api-keys')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ manufacturerId: fleet.manufacturerId, role: 'quality', name: 'dashboards e2e' })
      .expect(201);
    qualityKey = key.body.key;

    // Drift and reports, where this deployment serves them: a reference window (the first month), one evaluation now,
    // and a PSUR for the simulated period, so their pages have something real to show.
    const paths = Object.keys(
      ((await request(server).get('/api/docs/openapi.json').expect(200)).body as { paths: object }).paths,
    );
    if (
      paths.includes('/api/v1/drift/evaluations') &&
      paths.includes('/api/v1/drift/reference-windows/period')
    ) {
      await request(server)
        .post('/api/v1/drift/reference-windows/period')
        .set(bearer(qualityKey))
        .send({
          productId: simulatedProductId,
          label: 'First month of the simulated fleet',
          from: start.toISOString(),
          to: new Date(start.getTime() + 30 * 86_400_000).toISOString(),
        })
        .expect(201);
      await request(server)
        .post('/api/v1/drift/evaluations')
        .set(bearer(qualityKey))
        .send({ productId: simulatedProductId })
        .expect((response) => expect([200, 201]).toContain(response.status));
      driftEvaluated = true;
    }
    if (paths.includes('/api/v1/reports')) {
      await request(server)
        .post('/api/v1/reports')
        .set(bearer(qualityKey))
        .send({
          type: 'psur',
          productId: simulatedProductId,
          from: isoDay(start),
          to: isoDay(new Date(start.getTime() + 89 * 86_400_000)),
        })
        .expect((response) => expect([200, 201]).toContain(response.status));
      reportGenerated = true;
    }

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    rmSync(stateDirectory, { recursive: true, force: true });
  });

  /** A fresh tab that records console errors, uncaught exceptions and every API request it makes. */
  async function openTab(): Promise<{
    context: BrowserContext;
    page: Page;
    errors: string[];
    apiCalls: string[];
  }> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    // The machine is shared: GET /performance (detail=full) can take tens of seconds under load.
    page.setDefaultTimeout(240_000);
    const errors: string[] = [];
    const apiCalls: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`${message.text()} @ ${message.location().url}`);
    });
    page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
    page.on('request', (call) => {
      if (new URL(call.url()).pathname.startsWith('/api/v1/')) apiCalls.push(call.url());
    });
    return { context, page, errors, apiCalls };
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.goto(`${baseUrl}/dashboards/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/fleet\.html$/);
  }

  async function loaded(page: Page): Promise<void> {
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 240_000 });
  }

  /** Painted pixels and distinct colours on a chart's canvas: a blank or single-colour canvas draws nothing. */
  async function canvasInk(page: Page, figure: string): Promise<{ painted: number; colours: number }> {
    return page.$eval(`${figure} canvas`, (canvas) => {
      const element = canvas as HTMLCanvasElement;
      const pixels = element.getContext('2d')!.getImageData(0, 0, element.width, element.height).data;
      let painted = 0;
      const colours = new Set<number>();
      for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] === 0) continue;
        painted += 1;
        colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
      }
      return { painted, colours: colours.size };
    });
  }

  it('shows a visitor without a key the sign-in only, and asks the API nothing', async () => {
    const { context, page, errors, apiCalls } = await openTab();
    try {
      for (const name of PAGES) {
        await page.goto(`${baseUrl}/dashboards/${name}.html`);
        await page.waitForURL(new RegExp(`/dashboards/index\\.html\\?next=${name}\\.html`));
        await expect(page.getByLabel('API key').isVisible()).resolves.toBe(true);
        expect(await page.locator('#site-header').count()).toBe(0);
        expect(await page.locator('canvas').count()).toBe(0);
      }
      expect(apiCalls).toEqual([]);
      expect(errors).toEqual([]);
      // The pages themselves hold no data and no key: what a visitor can fetch is markup and code.
      const html = await (await fetch(`${baseUrl}/dashboards/performance.html`)).text();
      expect(html).not.toMatch(/Bearer|api[-_]?key\s*[:=]/i);
      const headers = (await fetch(`${baseUrl}/dashboards/fleet.html`)).headers;
      expect(headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(headers.get('content-security-policy')).not.toContain('unsafe-inline');
    } finally {
      await context.close();
    }
  });

  it('refuses a wrong key and keeps nothing', async () => {
    const { context, page } = await openTab();
    try {
      await page.goto(`${baseUrl}/dashboards/`);
      await page.getByLabel('API key').fill('not-a-key-of-this-platform-0000000000');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('This key was not accepted').waitFor();
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
      expect(page.url()).toMatch(/\/dashboards\/$/);
    } finally {
      await context.close();
    }
  });

  it('loads every page without a console error, and draws its charts', async () => {
    const { context, page, errors } = await openTab();
    const screenshots = process.env.FW_DASHBOARD_SCREENSHOTS;
    if (screenshots) mkdirSync(screenshots, { recursive: true });
    try {
      await signIn(page, qualityKey);
      // The key lives in this tab's sessionStorage only: not in a cookie, not in the URL.
      expect(await context.cookies()).toEqual([]);
      expect(page.url()).not.toContain(qualityKey);
      for (const name of PAGES) {
        await page.goto(`${baseUrl}/dashboards/${name}.html`);
        await loaded(page);
        if (name === 'performance' || name === 'drift' || name === 'reports') {
          // The simulated product (the tenant's first product is registerFleet's, without traffic).
          await page.getByLabel('Product', { exact: true }).selectOption(simulatedProductId);
          await page.locator('#filters button[type="submit"]').click();
          await loaded(page);
        }
        const charts = [...CHARTS[name], ...(name === 'drift' && driftEvaluated ? ['#monitor-0'] : [])];
        await expect(page.locator('#main').isVisible()).resolves.toBe(true);
        expect({ name, failures: await page.locator('.notice.error').allTextContents() }).toEqual({
          name,
          failures: [],
        });
        for (const figure of charts) {
          const ink = await canvasInk(page, figure);
          expect({ figure, painted: ink.painted > 2_000, colours: ink.colours > 2 }).toEqual({
            figure,
            painted: true,
            colours: true,
          });
          // A text alternative for every chart.
          expect(await page.locator(`${figure} canvas`).getAttribute('aria-label')).toMatch(/^\S+( \S+){5,}/);
        }
        if (name === 'performance') {
          // The API's chart data drawn as such: the empirical ROC curve and the Bland–Altman density of the pairs.
          await expect(page.locator('#roc canvas').getAttribute('aria-label')).resolves.toMatch(
            /Empirical ROC curve \(all vessels\): \d+ CT-FFR cut-offs/,
          );
          await expect(page.locator('#bland-altman canvas').getAttribute('aria-label')).resolves.toMatch(
            /Bland–Altman plot \(all vessels\): [\d,]+ vessel pairs as counts in [1-9]\d* bins/,
          );
        }
        if (name === 'reports' && reportGenerated) {
          await expect(page.locator('#reports tbody tr').count()).resolves.toBeGreaterThan(0);
        }
        if (screenshots) await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
      }
      // Not built yet on this deployment (or not for this role): said in words, nothing drawn, nothing faked.
      for (const [name, text] of [
        ['drift', /Not available/],
        ['reports', /Not available/],
      ] as const) {
        const hasRoute = await page.evaluate(
          async (route) =>
            Object.keys(
              ((await (await fetch('/api/docs/openapi.json')).json()) as { paths: object }).paths,
            ).includes(route),
          name === 'drift' ? '/api/v1/drift/monitors' : '/api/v1/reports',
        );
        if (hasRoute) continue;
        await page.goto(`${baseUrl}/dashboards/${name}.html`);
        await loaded(page);
        await expect(page.locator('.notice.unavailable').first().textContent()).resolves.toMatch(text);
      }
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 600_000);

  it('changes what is shown when a filter changes', async () => {
    const { context, page, errors } = await openTab();
    try {
      await signIn(page, qualityKey);

      // Performance: the product, then one model version, then a shorter CTA period.
      await page.goto(`${baseUrl}/dashboards/performance.html`);
      await loaded(page);
      const figures = () => page.locator('#figures caption').textContent();
      const tiles = () => page.locator('#tiles').textContent();
      await page.getByLabel('Product', { exact: true }).selectOption(simulatedProductId);
      await page.getByRole('button', { name: 'Apply' }).click();
      await loaded(page);
      const allVessels = await tiles();
      const allFigures = await figures();
      expect(allVessels).toMatch(/linked vessels \(all vessels\)/);

      const versions = await page
        .locator('#model-version option')
        .evaluateAll((options) =>
          options.map((option) => (option as HTMLOptionElement).value).filter(Boolean),
        );
      expect(versions.length).toBeGreaterThanOrEqual(1);
      await page.getByLabel('Model version', { exact: true }).selectOption(versions[0]);
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForFunction(
        (version) =>
          (document.querySelector('#tiles')?.textContent ?? '').includes(`model version ${version}`),
        versions[0],
      );
      expect(await figures()).not.toEqual(allFigures);
      expect(await page.locator('#slice-note').textContent()).toContain(`model version ${versions[0]}`);

      await page.getByLabel('Model version', { exact: true }).selectOption('');
      await page
        .getByLabel('CTA from', { exact: true })
        .fill(isoDay(new Date(start.getTime() + 45 * 86_400_000)));
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForFunction(() =>
        /CTA \d{4}-\d\d-\d\d to/.test(document.querySelector('#slice-note')?.textContent ?? ''),
      );
      await page.waitForFunction(
        (before) => document.querySelector('#figures caption')?.textContent !== before,
        allFigures,
      );
      expect(await tiles()).not.toEqual(allVessels);

      // Fleet: one site instead of all of them.
      await page.goto(`${baseUrl}/dashboards/fleet.html`);
      await loaded(page);
      const allDevices = await page.locator('#devices caption').textContent();
      const volumesAll = await page.locator('#volumes canvas').getAttribute('aria-label');
      const sites = await page
        .locator('#site option')
        .evaluateAll((options) =>
          options.map((option) => (option as HTMLOptionElement).value).filter(Boolean),
        );
      const busiest = sites.find((site) => !site.startsWith('DASH-'))!;
      await page.getByLabel('Site', { exact: true }).selectOption(busiest);
      await page.getByRole('button', { name: 'Show' }).click();
      await page.waitForFunction(
        (site) =>
          (document.querySelector('#volumes canvas')?.getAttribute('aria-label') ?? '').includes(
            ` at ${site}`,
          ),
        busiest,
      );
      expect(await page.locator('#devices caption').textContent()).not.toEqual(allDevices);
      expect(await page.locator('#volumes canvas').getAttribute('aria-label')).not.toEqual(volumesAll);

      // Vigilance: the overdue incident first, said in words; a state filter that matches nothing empties the queue.
      await page.goto(`${baseUrl}/dashboards/vigilance.html`);
      await loaded(page);
      const firstRow = page.locator('#queue tbody tr').first();
      await expect(firstRow.textContent()).resolves.toMatch(/OVERDUE.*Missed ischaemia/);
      await expect(firstRow.getAttribute('class')).resolves.toBe('overdue');
      expect(await page.locator('#queue tbody tr').count()).toBe(2);
      await page.getByLabel('State', { exact: true }).selectOption('closed');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByText('No incidents (state closed).').waitFor();
      expect(await page.locator('#queue tbody tr').count()).toBe(0);

      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 600_000);

  it('downloads a report and verifies the copy, in the browser and on the platform', async () => {
    if (!reportGenerated) return; // This deployment has no reports routes yet: the page says so (checked above).
    const { context, page, errors } = await openTab();
    try {
      await signIn(page, qualityKey);
      await page.goto(`${baseUrl}/dashboards/reports.html`);
      await loaded(page);
      await page.getByLabel('Product', { exact: true }).selectOption(simulatedProductId);
      await page.locator('#filters button[type="submit"]').click();
      await loaded(page);
      const row = page.locator('#reports tbody tr').first();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        row.getByRole('button', { name: /Download JSON/ }).click(),
      ]);
      const copy = join(stateDirectory, download.suggestedFilename());
      await download.saveAs(copy);
      await page.locator('#verify-file').setInputFiles(copy);
      await page.locator('#verify-form button[type="submit"]').click();
      await page.getByText(/^VERIFIED: .* is the JSON of /).waitFor();

      // A copy changed by one byte is not the recorded document.
      const altered = join(stateDirectory, 'altered.json');
      const bytes = readFileSync(copy);
      bytes[bytes.length - 2] ^= 1;
      writeFileSync(altered, bytes);
      await page.locator('#verify-file').setInputFiles(altered);
      await page.locator('#verify-form button[type="submit"]').click();
      await page.getByText(/^NOT VERIFIED: altered\.json/).waitFor();

      // The platform's own check: recomputed from the stored data, artefacts intact.
      await row.getByRole('button', { name: /Verify report/ }).click();
      await page.getByText(/^VERIFIED: .* recomputed from the stored data: identical/).waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 600_000);

  it('signs out: the key is gone and the pages go back to the sign-in', async () => {
    const { context, page } = await openTab();
    try {
      await signIn(page, qualityKey);
      await loaded(page);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/index\.html\?next=fleet\.html&reason=signed-out/);
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
      await page.goto(`${baseUrl}/dashboards/vigilance.html`);
      await page.waitForURL(/index\.html\?next=vigilance\.html/);
    } finally {
      await context.close();
    }
  });
});
