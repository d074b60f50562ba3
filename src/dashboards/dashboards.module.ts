import { Logger, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ExpressAdapter } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DASHBOARDS_PATH } from '../common/security-headers';
import { SessionController } from './session.controller';

/**
 * Where the static pages are: `dashboards/` at the repository root, reached from `src/dashboards` (ts-node, tests)
 * and from `dist/src/dashboards` (npm start) alike.
 */
export function dashboardsDirectory(from: string = __dirname): string {
  const candidates = [resolve(from, '..', '..', 'dashboards'), resolve(from, '..', '..', '..', 'dashboards')];
  const found = candidates.find((candidate) => existsSync(join(candidate, 'index.html')));
  if (!found) throw new Error(`Dashboards not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** chart.js's UMD bundle from node_modules (exact-pinned in package.json), served from this origin: no CDN. */
export function chartJsBundle(): string {
  return join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

/**
 * Serves the dashboards as public static files under /dashboards. They hold no data and no key: each page asks the
 * JSON API with the key the user types at sign-in (kept in sessionStorage), so every figure passes the same
 * authentication, roles and tenant scoping as any other API call. The CSP for these paths is in
 * src/common/security-headers.ts (own scripts and styles only, no inline script, fetches to this origin only).
 */
@Module({ controllers: [SessionController] })
export class DashboardsModule implements OnModuleInit {
  private readonly logger = new Logger(DashboardsModule.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as ExpressAdapter | undefined;
    // Registered during init, before Nest's not-found handler: unknown paths under /dashboards still get its JSON 404.
    if (typeof adapter?.useStaticAssets !== 'function') return;
    const directory = dashboardsDirectory();
    const bundle = chartJsBundle();
    adapter.get(`${DASHBOARDS_PATH}/vendor/chart.umd.min.js`, (_request: Request, response: Response) => {
      response.sendFile(bundle, { maxAge: '1h' });
    });
    adapter.useStaticAssets(directory, {
      prefix: DASHBOARDS_PATH,
      index: 'index.html',
      dotfiles: 'ignore',
      fallthrough: true,
      // Pages change with each release and must never be served stale against a newer API.
      setHeaders: (response: Response) => response.setHeader('Cache-Control', 'no-cache'),
    });
    this.logger.log(`Dashboards served under ${DASHBOARDS_PATH}/ from ${directory}`);
  }
}
