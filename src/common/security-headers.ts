import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';

/** Where the Swagger UI lives; its page needs a CSP that lets it load its own scripts and styles. */
export const DOCS_PATH = '/api/docs';

/**
 * The API answers JSON only, so its pages may load nothing at all: no scripts, no frames, no forms
 * (OWASP REST security cheat sheet). A JSON response rendered by mistake as HTML runs nothing.
 */
const API_CSP = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/**
 * Swagger UI (swagger-ui-dist, served by @nestjs/swagger from this origin): external scripts of its
 * own only (no inline script, no eval), inline styles (its page has a <style> block and React sets
 * style attributes), data: images for its icons, fetches of the OpenAPI document from this origin.
 */
const DOCS_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** Where the dashboards live (src/dashboards): static pages that read the JSON API of this origin. */
export const DASHBOARDS_PATH = '/dashboards';

/**
 * Dashboards: scripts and styles from this origin only (no inline script, no inline style attribute, no eval),
 * fetches to this origin only (the JSON API, with the key typed at sign-in), no frames, no plugins. chart.js draws
 * on canvas and sizes it through the CSSOM, which style-src does not restrict.
 */
const DASHBOARDS_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

function helmetWith(directives: Record<string, string[]>): RequestHandler {
  return helmet({
    // useDefaults: false, so helmet adds no `upgrade-insecure-requests`: the app is also reached over
    // plain HTTP (local stack, behind a TLS-terminating proxy), where that directive breaks the docs.
    contentSecurityPolicy: { useDefaults: false, directives },
    // Clickjacking: nothing here is meant to be framed (CSP frame-ancestors says the same to new browsers).
    frameguard: { action: 'deny' },
    // Not even the origin leaks to other sites from the docs page.
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS as helmet sets it (one year, subdomains): browsers honour it over HTTPS only.
  });
}

/**
 * Security headers on every response (helmet), with the strict API policy everywhere except the
 * Swagger UI page and its assets, and the dashboards. API responses also say `Cache-Control: no-store`: they carry
 * tenant data that a shared cache or the browser's disk must not keep.
 */
export function securityHeaders(): RequestHandler {
  const api = helmetWith(API_CSP);
  const docs = helmetWith(DOCS_CSP);
  const dashboards = helmetWith(DASHBOARDS_CSP);
  return (request: Request, response: Response, next: NextFunction) => {
    const path = request.path;
    if (path === DOCS_PATH || path.startsWith(`${DOCS_PATH}/`)) {
      docs(request, response, next);
      return;
    }
    if (path === DASHBOARDS_PATH || path.startsWith(`${DASHBOARDS_PATH}/`)) {
      dashboards(request, response, next);
      return;
    }
    if (path.startsWith('/api/')) response.setHeader('Cache-Control', 'no-store');
    api(request, response, next);
  };
}

/** Headers a browser may read from a cross-origin response: the rate-limit state. */
const EXPOSED_HEADERS = ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

/**
 * Strict CORS: only the exact origins of FW_CORS_ORIGINS (none by default) get
 * `Access-Control-Allow-Origin`, echoed one at a time (never `*`), and never with credentials: the API
 * authenticates by a bearer key, not cookies. A disallowed origin gets no CORS header at all, so the
 * browser keeps the response from the calling page.
 */
export function corsOptions(allowedOrigins: readonly string[]): CorsOptions {
  const allowed = new Set(allowedOrigins.map((origin) => origin.toLowerCase()));
  return {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin.toLowerCase())),
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
    optionsSuccessStatus: 204,
  };
}
