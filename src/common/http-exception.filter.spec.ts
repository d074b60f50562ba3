import { ArgumentsHost, NotFoundException } from '@nestjs/common';
import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';
import { BusyException } from './busy.exception';
import { HttpExceptionFilter } from './http-exception.filter';

/** What the filter sends for an exception: the status and the JSON body. */
function answer(exception: unknown): { status: number; body: unknown; headers?: Record<string, string> } {
  const sent: { status: number; body: unknown; headers?: Record<string, string> } = {
    status: 0,
    body: undefined,
  };
  const response = {
    setHeader(name: string, value: string) {
      sent.headers = { ...sent.headers, [name]: value };
      return this;
    },
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: unknown) {
      sent.body = body;
      return this;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  new HttpExceptionFilter().catch(exception, host);
  return sent;
}

function pgError(code: string): DatabaseError {
  const error = new DatabaseError('canceling statement due to statement timeout', 0, 'error');
  error.code = code;
  return error;
}

describe('HttpExceptionFilter', () => {
  it("answers a statement timeout with 503 whether TypeORM wrapped it or it came from pg's own pool", () => {
    const expected = {
      status: 503,
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'The query took too long; narrow the request',
      },
    };
    expect(answer(pgError('57014'))).toEqual(expected);
    expect(answer(new QueryFailedError('SELECT 1', [], pgError('57014')))).toEqual(expected);
  });

  it('answers backpressure with 503 and Retry-After, and a statement timeout without it', () => {
    expect(answer(new BusyException('Too many queries are in progress; retry shortly', 5))).toEqual({
      status: 503,
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'Too many queries are in progress; retry shortly',
      },
      headers: { 'Retry-After': '5' },
    });
    expect(answer(pgError('57014')).headers).toBeUndefined();
  });

  it('maps client-caused SQLSTATEs to 4xx and keeps SQL and values out of the body', () => {
    const conflict = answer(pgError('23505'));
    expect(conflict.status).toBe(409);
    expect(JSON.stringify(conflict.body)).not.toMatch(/SELECT|timeout/);
  });

  it('answers anything else with a bare 500', () => {
    expect(answer(pgError('XX000'))).toEqual({
      status: 500,
      body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' },
    });
    expect(answer(new Error('secret detail'))).toEqual({
      status: 500,
      body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' },
    });
  });

  it('passes HTTP exceptions through', () => {
    expect(answer(new NotFoundException('No such device'))).toEqual({
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'No such device' },
    });
  });
});
