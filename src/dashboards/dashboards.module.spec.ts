import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chartJsBundle, dashboardsDirectory } from './dashboards.module';

const root = resolve(__dirname, '..', '..');

describe('dashboards files', () => {
  it('are found from the sources (ts-node, tests) and from the build (dist/src/dashboards)', () => {
    expect(dashboardsDirectory(__dirname)).toBe(join(root, 'dashboards'));
    expect(dashboardsDirectory(join(root, 'dist', 'src', 'dashboards'))).toBe(join(root, 'dashboards'));
  });

  it('serve chart.js from node_modules at the pinned version', () => {
    const pinned = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    ).dependencies['chart.js'];
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(existsSync(chartJsBundle())).toBe(true);
    expect(readFileSync(chartJsBundle(), 'utf8').slice(0, 200)).toContain(`Chart.js v${pinned}`);
  });

  it('have no inline script and no script from another origin in any page', () => {
    for (const page of ['index', 'fleet', 'performance', 'drift', 'vigilance', 'reports']) {
      const html = readFileSync(join(root, 'dashboards', `${page}.html`), 'utf8');
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(body.trim()).toBe('');
        expect(attributes).toMatch(/src="(vendor|assets)\//);
      }
      expect(html).not.toMatch(/\son[a-z]+=|style=/i);
    }
  });
});
