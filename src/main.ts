import 'reflect-metadata';
import { createApp } from './app.factory';
import { loadConfig } from './config/config';

/** `npm start`: API and consumers (FW_PROCESS_ROLE=all), or one of them, from the environment. */
async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp();
  await app.listen(config.PORT, '0.0.0.0');
  console.log(`Fieldwatch ${config.FW_PROCESS_ROLE} listening on :${config.PORT} (API docs at /api/docs)`);
}

main().catch((error: unknown) => {
  console.error(`Fieldwatch failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
