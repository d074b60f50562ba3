import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const TODAY = '2026-06-01';

/** An `npm audit --json` report (auditReportVersion 2) as npm 10/11 print it. */
function auditReport(): object {
  const advisory = (source: number, ghsa: string, name: string, severity: string) => ({
    source,
    name,
    dependency: name,
    title: `Example ${severity} flaw in ${name}`,
    url: `https://github.com/advisories/${ghsa}`,
    severity,
    cwe: ['CWE-400'],
    cvss: { score: 7.5, vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' },
    range: '<1.2.3',
  });
  return {
    auditReportVersion: 2,
    vulnerabilities: {
      'parser-lib': {
        name: 'parser-lib',
        severity: 'high',
        isDirect: false,
        via: [advisory(1100001, 'GHSA-2222-3333-4444', 'parser-lib', 'high')],
        effects: ['web-framework'],
        range: '<1.2.3',
        nodes: ['node_modules/parser-lib'],
        fixAvailable: true,
      },
      'web-framework': {
        name: 'web-framework',
        severity: 'high',
        isDirect: true,
        via: ['parser-lib'],
        effects: [],
        range: '4.0.0 - 4.2.0',
        nodes: ['node_modules/web-framework'],
        fixAvailable: true,
      },
      'crypto-lib': {
        name: 'crypto-lib',
        severity: 'critical',
        isDirect: true,
        via: [advisory(1100002, 'GHSA-5555-6666-7777', 'crypto-lib', 'critical')],
        effects: [],
        range: '<2.0.0',
        nodes: ['node_modules/crypto-lib'],
        fixAvailable: false,
      },
      'log-lib': {
        name: 'log-lib',
        severity: 'moderate',
        isDirect: true,
        via: [advisory(1100003, 'GHSA-8888-9999-cccc', 'log-lib', 'moderate')],
        effects: [],
        range: '<3.0.0',
        nodes: ['node_modules/log-lib'],
        fixAvailable: true,
      },
    },
    metadata: {
      vulnerabilities: { info: 0, low: 0, moderate: 1, high: 2, critical: 1, total: 4 },
      dependencies: { prod: 245, dev: 0, optional: 0, peer: 0, peerOptional: 0, total: 244 },
    },
  };
}

const exception = (id: string, pkg: string, expires: string) => ({
  id,
  package: pkg,
  reason: `Not reachable: we never call the vulnerable API of ${pkg}; upgrade tracked in the issue tracker`,
  expires,
  approvedBy: 'security officer',
});

describe('integrity: supply chain — npm audit gate and CycloneDX SBOM', () => {
  const directory = mkdtempSync(join(tmpdir(), 'fieldwatch-supply-'));
  const reportPath = join(directory, 'audit.json');
  writeFileSync(reportPath, JSON.stringify(auditReport()));

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  function gate(exceptions: object, ...extra: string[]) {
    const exceptionsPath = join(directory, `exceptions-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(exceptionsPath, JSON.stringify(exceptions));
    const result = spawnSync(
      process.execPath,
      ['scripts/audit-gate.js', '--exceptions', exceptionsPath, '--today', TODAY, ...extra],
      { cwd: root, encoding: 'utf8', env: { ...process.env, npm_config_fetch_retries: '0' } },
    );
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  it('blocks high and critical advisories of production dependencies that have no exception', () => {
    const { status, output } = gate({ exceptions: [] }, '--report', reportPath);
    expect(status).toBe(1);
    expect(output).toContain('BLOCKING HIGH GHSA-2222-3333-4444 in parser-lib');
    expect(output).toContain('BLOCKING CRITICAL GHSA-5555-6666-7777 in crypto-lib');
    expect(output).not.toContain('GHSA-8888-9999-cccc'); // moderate: reported in the counts only
  });

  it('lets through advisories excepted with a reason until a date, and warns of unused exceptions', () => {
    const { status, output } = gate(
      {
        exceptions: [
          exception('GHSA-2222-3333-4444', 'parser-lib', '2026-07-01'),
          exception('1100002', 'crypto-lib', '2026-06-01'),
          exception('GHSA-aaaa-bbbb-cccc', 'gone-lib', '2026-07-01'),
        ],
      },
      '--report',
      reportPath,
    );
    expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('audit-gate: passed') });
    expect(output).toContain('excepted until 2026-07-01: HIGH GHSA-2222-3333-4444');
    expect(output).toContain('unused exception GHSA-aaaa-bbbb-cccc (gone-lib): remove it');
  });

  it('fails on an expired, unexplained, too distant or mismatched exception', () => {
    const expired = gate(
      {
        exceptions: [
          exception('GHSA-2222-3333-4444', 'parser-lib', '2026-05-31'),
          exception('GHSA-5555-6666-7777', 'crypto-lib', '2026-07-01'),
        ],
      },
      '--report',
      reportPath,
    );
    expect(expired.status).toBe(1);
    expect(expired.output).toContain('(GHSA-2222-3333-4444) expired on 2026-05-31');
    expect(expired.output).toContain('BLOCKING HIGH GHSA-2222-3333-4444');

    const malformed = gate(
      {
        exceptions: [
          { ...exception('GHSA-2222-3333-4444', 'parser-lib', '2026-07-01'), reason: 'ok' },
          exception('GHSA-5555-6666-7777', 'crypto-lib', '2027-06-01'),
          exception('GHSA-5555-6666-7777', 'other-lib', '2026-07-01'),
          { id: 'GHSA-5555-6666-7777' },
        ],
      },
      '--report',
      reportPath,
    );
    expect(malformed.status).toBe(1);
    expect(malformed.output).toContain('the reason must say why');
    expect(malformed.output).toContain('more than 180 days ahead');
    expect(malformed.output).toContain('lacks package, reason, expires, approvedBy');
    expect(malformed.output).toContain('BLOCKING CRITICAL GHSA-5555-6666-7777 in crypto-lib');
  });

  it('fails loudly (exit 2) when the audit endpoint cannot be reached, unless told to tolerate it', () => {
    const unreachable = ['--', '--registry', 'http://127.0.0.1:9/'];
    const refused = gate({ exceptions: [] }, ...unreachable);
    expect(refused.status).toBe(2);
    expect(refused.output).toContain('AUDIT UNAVAILABLE');
    expect(refused.output).toContain('a gate that cannot see is not a pass');
    const tolerated = gate({ exceptions: [] }, '--allow-unavailable', ...unreachable);
    expect(tolerated.status).toBe(0);
    expect(tolerated.output).toContain('Passing only because --allow-unavailable was given');
  });

  it('keeps the committed exceptions file valid', () => {
    const committed = JSON.parse(readFileSync(join(root, 'security', 'audit-exceptions.json'), 'utf8'));
    expect(Array.isArray(committed.exceptions)).toBe(true);
    const today = new Date().toISOString().slice(0, 10);
    const result = spawnSync(
      process.execPath,
      ['scripts/audit-gate.js', '--today', today, '--report', reportPath],
      { cwd: root, encoding: 'utf8' },
    );
    expect(`${result.stdout}${result.stderr}`).not.toMatch(
      /expired on|lacks|must say why|days ahead|cannot read/,
    );
  });

  it('writes a CycloneDX SBOM of every production package from the lockfile alone, offline', () => {
    const output = join(directory, 'fieldwatch.cdx.json');
    const result = spawnSync(process.execPath, ['scripts/sbom.js', '--output', output], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, npm_config_registry: 'http://127.0.0.1:9/' },
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({
      status: 0,
      stderr: expect.any(String),
    });
    const bom = JSON.parse(readFileSync(output, 'utf8'));
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.specVersion).toMatch(/^1\.[5-9]/);
    const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(bom.metadata.component).toMatchObject({ name: 'fieldwatch', version: packageJson.version });
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
    const refs = new Set(bom.components.map((component: { 'bom-ref': string }) => component['bom-ref']));
    // Every direct production dependency, at the version the lockfile pins…
    for (const name of Object.keys(packageJson.dependencies)) {
      const pinned = lock.packages[`node_modules/${name}`].version;
      expect({ name, present: refs.has(`${name}@${pinned}`) }).toEqual({ name, present: true });
    }
    // …and no development-only package.
    for (const name of Object.keys(packageJson.devDependencies)) {
      const entry = lock.packages[`node_modules/${name}`];
      if (entry?.dev === true) expect(refs.has(`${name}@${entry.version}`)).toBe(false);
    }
    for (const component of bom.components) {
      expect(component.purl).toMatch(/^pkg:npm\//);
      expect(component.hashes?.length ?? 0).toBeGreaterThan(0);
    }
  });
});
