import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import analysisSchema from './ingestion/schemas/analysis.v1.schema.json';
import deviceEventSchema from './ingestion/schemas/device-event.v1.schema.json';
import outcomeSchema from './ingestion/schemas/outcome.v1.schema.json';

/** Largest JSON body the API reads; registry and query bodies are small. */
const MAX_BODY = '256kb';

/** Builds the HTTP application (used by main.ts and by the integration tests alike). */
export async function createApp(): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bufferLogs: true, bodyParser: false });
  app.useLogger(app.get(Logger));
  app.useBodyParser('json', { limit: MAX_BODY });
  app.disable('x-powered-by');
  app.useGlobalPipes(
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, stopAtFirstError: false }),
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
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs/openapi.json' });
  return app;
}
