import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';
import { BusyException } from './busy.exception';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

/** PostgreSQL errors a client caused, translated to the 4xx it should see (SQLSTATE, PostgreSQL appendix A). */
const CLIENT_SQLSTATES: Record<string, { status: number; message: string }> = {
  '23505': { status: HttpStatus.CONFLICT, message: 'An object with this identifier already exists' },
  '23503': { status: HttpStatus.CONFLICT, message: 'The request refers to an object that does not exist' },
  '22P02': { status: HttpStatus.BAD_REQUEST, message: 'A parameter has an invalid format' },
  '22007': { status: HttpStatus.BAD_REQUEST, message: 'A date parameter has an invalid format' },
  '22008': { status: HttpStatus.BAD_REQUEST, message: 'A date parameter is out of range' },
  // A NUL character (or one the database encoding lacks) in a text value: valid JSON, not storable text.
  '22021': {
    status: HttpStatus.BAD_REQUEST,
    message: 'A text value contains a character that is not allowed',
  },
  '22P05': {
    status: HttpStatus.BAD_REQUEST,
    message: 'A text value contains a character that is not allowed',
  },
  '57014': { status: HttpStatus.SERVICE_UNAVAILABLE, message: 'The query took too long; narrow the request' },
};

/**
 * Every error leaves as `{ statusCode, error, message }` (DESIGN.md §5). Database and unexpected
 * errors never leak SQL, values, stack traces or secrets: the client gets a stable message, the log
 * gets the error's class and SQLSTATE.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception);
    if (exception instanceof BusyException) {
      response.setHeader('Retry-After', String(exception.retryAfterSeconds));
    } else if (body.statusCode >= 500) {
      const name = exception instanceof Error ? exception.name : typeof exception;
      const code = (exception as { code?: unknown })?.code;
      this.logger.error(`Unhandled ${name}${typeof code === 'string' ? ` (SQLSTATE ${code})` : ''}`);
    }
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const payload = exception.getResponse();
      const message =
        typeof payload === 'string'
          ? payload
          : ((payload as { message?: string | string[] }).message ?? exception.message);
      return { statusCode: status, error: httpErrorName(status), message };
    }
    // TypeORM wraps what it runs; the performance and ingestion paths query through pg's own pool, whose errors
    // arrive unwrapped. Both carry the SQLSTATE — a statement timeout on either path is a 503, not a 500 (bench:soak
    // found GET /performance answering 500 on pg's unwrapped 57014).
    if (exception instanceof QueryFailedError || exception instanceof DatabaseError) {
      const code = (exception as { code?: string }).code ?? '';
      const known = CLIENT_SQLSTATES[code];
      if (known)
        return { statusCode: known.status, error: httpErrorName(known.status), message: known.message };
    }
    // body-parser signals an oversized or unreadable body with a status property (Nest itself maps
    // invalid JSON to a 400 before it gets here).
    const status = (exception as { status?: unknown; type?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const type = (exception as { type?: unknown }).type;
      const message =
        type === 'entity.too.large' ? 'Request body is too large' : 'Request body could not be read';
      return { statusCode: status, error: httpErrorName(status), message };
    }
    return { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' };
  }
}

function httpErrorName(status: number): string {
  const names: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Entity',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
  };
  return names[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
}
