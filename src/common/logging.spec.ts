import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import pinoHttp, { Options } from 'pino-http';
import { loggableError, loggableUrl, loggerParams, REDACTED } from './logging';

describe('loggableUrl', () => {
  it('keeps the path and allow-listed query values, and redacts every other value', () => {
    expect(loggableUrl('/api/v1/products')).toBe('/api/v1/products');
    expect(loggableUrl('/api/v1/analyses?deviceId=DEV-1&limit=25&cursor=abc&patientRef=p-8c1f0e')).toBe(
      `/api/v1/analyses?deviceId=DEV-1&limit=25&cursor=${REDACTED}&patientRef=${REDACTED}`,
    );
    expect(loggableUrl('/api/v1/products?apiKey=fwk_secret&%ZZ=1&flag')).toBe(
      `/api/v1/products?apiKey=${REDACTED}&%ZZ=${REDACTED}&flag=${REDACTED}`,
    );
    expect(loggableUrl(undefined)).toBe('');
    expect(loggableUrl(`/x?${'a'.repeat(2000)}`).length).toBe(512);
  });
});

describe('loggableError', () => {
  it('keeps the class and code, never the message or stack', () => {
    const error = Object.assign(new Error('duplicate key value violates unique constraint "x"'), {
      code: '23505',
    });
    expect(loggableError(error)).toEqual({ type: 'Error', code: '23505' });
    expect(loggableError({ type: 'QueryFailedError', message: 'SELECT 1', stack: 'at x' })).toEqual({
      type: 'QueryFailedError',
    });
    expect(loggableError('text')).toEqual({ type: 'string' });
  });
});

describe('loggerParams (pino-http as the app configures it)', () => {
  let server: Server;
  let lines: Array<Record<string, unknown>>;
  let base: string;

  beforeAll(async () => {
    lines = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        callback();
      },
    });
    const params = loggerParams({ LOG_LEVEL: 'info' });
    const logger = pinoHttp(params.pinoHttp as Options, destination);
    server = createServer((request, response) => {
      logger(request, response);
      if (request.url?.startsWith('/fail')) {
        logger.logger.error(new Error('relation "secrets" does not exist'));
        response.statusCode = 500;
      }
      if (request.url?.startsWith('/busy')) {
        response.statusCode = 503;
        response.setHeader('Retry-After', '5');
      }
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('logs requests without headers, and server errors without message or stack', async () => {
    await fetch(`${base}/api/v1/products?limit=1&key=fwk_secret`, {
      headers: { Authorization: 'Bearer fwk_secret', 'X-Api-Key': 'fwk_secret', Cookie: 'a=fwk_secret' },
    });
    await fetch(`${base}/fail`);
    await fetch(`${base}/health/live`);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('fwk_secret');
    expect(text).not.toMatch(/ {4}at |stack|relation "/);
    expect(lines.find((line) => (line.req as { url?: string })?.url?.startsWith('/api'))).toMatchObject({
      level: 30,
      req: { method: 'GET', url: `/api/v1/products?limit=1&key=${REDACTED}` },
      res: { statusCode: 200 },
    });
    expect(lines.find((line) => line.msg === 'request failed with status 500')).toMatchObject({
      level: 50,
      err: { type: 'Error' },
    });
    expect(lines.some((line) => JSON.stringify(line.req ?? '').includes('/health'))).toBe(false);
    // Backpressure (a 503 with Retry-After) is a warning; a 503 without it stays an error.
    await fetch(`${base}/busy`);
    expect(lines.find((line) => (line.req as { url?: string })?.url === '/busy')).toMatchObject({
      level: 40,
      res: { statusCode: 503 },
    });
    expect(pino.levels.values.error).toBe(50);
  });
});
