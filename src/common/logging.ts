import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppConfig } from '../config/config';

/**
 * Query parameters whose values the request log keeps. They name products, devices, sites and time
 * windows, never a person or a secret. Any other parameter (one added later, or one a client invents,
 * such as `?apiKey=`) is logged by name with its value replaced: an allow-list, so a new parameter is
 * private until someone decides otherwise.
 */
export const LOGGED_QUERY_PARAMETERS: ReadonlySet<string> = new Set([
  'productId',
  'deviceId',
  'siteId',
  'sourceId',
  'manufacturerId',
  'from',
  'to',
  'limit',
  'threshold',
  'groupBy',
  'status',
  'action',
  'entityType',
]);

export const REDACTED = '[redacted]';

/** The request URL for the log: the path, and the query with every value not on the allow-list replaced. */
export function loggableUrl(url: string | undefined): string {
  const raw = url ?? '';
  const mark = raw.indexOf('?');
  if (mark < 0) return raw.slice(0, 512);
  const path = raw.slice(0, mark);
  const query = raw
    .slice(mark + 1)
    .split('&')
    .filter((pair) => pair.length > 0)
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // A malformed name stays as sent and its value is redacted like any unknown parameter's.
      }
      return LOGGED_QUERY_PARAMETERS.has(decoded) ? pair : `${name}=${REDACTED}`;
    })
    .join('&');
  return `${path}?${query}`.slice(0, 512);
}

/**
 * What the log keeps of an error: its class and a string code (SQLSTATE, errno), never its message or
 * stack. Messages of database errors quote SQL, constraint and column names and sometimes values; stacks
 * name the code's files. The HTTP exception filter logs what an operator needs (class and SQLSTATE).
 */
export function loggableError(error: unknown): { type: string; code?: string } {
  if (error === null || typeof error !== 'object') return { type: typeof error };
  // pino-http hands custom serializers pino's standard serialisation ({ type, message, stack, … });
  // pino itself may hand the Error.
  const { type: serialisedType, name, code } = error as { type?: unknown; name?: unknown; code?: unknown };
  const candidate = typeof serialisedType === 'string' ? serialisedType : name;
  const type = typeof candidate === 'string' && candidate.length > 0 ? candidate : 'Error';
  return typeof code === 'string' || typeof code === 'number' ? { type, code: String(code) } : { type };
}

/**
 * The platform's logger (pino through nestjs-pino): one JSON line per event. Request lines hold the
 * method, the URL (query values redacted, see loggableUrl), the status and the time taken: no headers
 * (so no Authorization, X-Api-Key or cookies), no bodies. Errors lose their message and stack
 * (loggableError). Server errors log at `error`, everything else at `info`. `destination` is for tests
 * that capture the log.
 */
export function loggerParams(config: Pick<AppConfig, 'LOG_LEVEL'>, destination?: DestinationStream): Params {
  const options = {
    level: config.LOG_LEVEL,
    // Belt and braces: the serializers below already keep no header.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
      ],
      remove: true,
    },
    serializers: {
      req: (req: { method?: string; url?: string }) => ({ method: req.method, url: loggableUrl(req.url) }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      err: loggableError,
    },
    // A 503 with Retry-After is backpressure the app chose (busy.exception.ts), not a failure: a warning.
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) => {
      if (res.statusCode === 503 && res.getHeader('Retry-After') !== undefined) return 'warn' as const;
      return error || res.statusCode >= 500 ? ('error' as const) : ('info' as const);
    },
    // pino-http's own text for a 5xx, instead of an invented Error with pino-http's stack.
    customErrorMessage: (_req: IncomingMessage, res: ServerResponse) =>
      `request failed with status ${res.statusCode}`,
    autoLogging: { ignore: (req: IncomingMessage) => (req.url ?? '').startsWith('/health') },
  };
  return { pinoHttp: destination ? [options, destination] : options };
}
