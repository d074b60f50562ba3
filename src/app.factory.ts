import { BadRequestException, INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { runInRequestScope } from './database/tenant-context';
import { corsOptions, DOCS_PATH, securityHeaders } from './common/security-headers';
import { AppConfig, corsOrigins } from './config/config';
import { APP_CONFIG } from './config/config.module';
import analysisSchema from './ingestion/schemas/analysis.v1.schema.json';
import deviceEventSchema from './ingestion/schemas/device-event.v1.schema.json';
import outcomeSchema from './ingestion/schemas/outcome.v1.schema.json';

/** Largest JSON body the API reads; registry and query bodies are small. */
const MAX_BODY = '256kb';
/** Largest CSV body (a drift reference dataset). */
const MAX_CSV_BODY = '32mb';

/** Builds the HTTP application (used by main.ts and by the integration tests alike). */
export async function createApp(): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  const config = app.get<AppConfig>(APP_CONFIG);
  app.disable('x-powered-by');
  // Each request gets its own tenant scope, filled in by the API-key guard (src/database/tenant-context.ts).
  app.use((_request: Request, _response: Response, next: NextFunction) => runInRequestScope(next));
  // Before everything else, so error answers (401, 404, 413…) carry the headers too.
  app.use(securityHeaders());
  app.enableCors(corsOptions(corsOrigins(config)));
  app.useBodyParser('json', { limit: MAX_BODY });
  // Reference datasets for drift monitoring (POST /drift/reference-windows/dataset) are CSV, up to 200,000 rows.
  app.useBodyParser('text', { type: 'text/csv', limit: MAX_CSV_BODY });
  app.use(unreadableJson);
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
    }),
  );
  app.useGlobalFilters(new HttpExceptionFilter());
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Fieldwatch API')
      .setDescription(
        'Post-market surveillance of CT-FFR software. Every route except /health and these docs needs ' +
          '`Authorization: Bearer <api key>`. Kafka event contracts are published below as components ' +
          'AnalysisEventV1, OutcomeEventV1 and DeviceEventV1.',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  document.components = {
    ...document.components,
    schemas: {
      ...(document.components?.schemas ?? {}),
      AnalysisEventV1: analysisSchema as object,
      OutcomeEventV1: outcomeSchema as object,
      DeviceEventV1: deviceEventSchema as object,
    },
  };
  SwaggerModule.setup(DOCS_PATH.slice(1), app, document, {
    jsonDocumentUrl: `${DOCS_PATH.slice(1)}/openapi.json`,
  });
  return app;
}

/**
 * Invalid JSON gets a fixed message: the parser's own (V8's) quotes the start of the body back, and
 * which part it quotes changes between Node versions. Other body errors (too large, wrong charset)
 * pass on to the exception filter, which answers them with fixed messages too.
 */
function unreadableJson(error: unknown, _request: Request, _response: Response, next: NextFunction): void {
  const type = (error as { type?: unknown } | null)?.type;
  next(type === 'entity.parse.failed' ? new BadRequestException('Request body is not valid JSON') : error);
}
