import { databaseUrlFrom } from './config/config';
import { createDataSource } from './database/data-source';
import { ensureDatabaseExists } from './database/ensure-database';

/** `npm run migrate`: creates the database if absent and applies pending migrations. */
async function migrate(): Promise<void> {
  const databaseUrl = databaseUrlFrom();
  await ensureDatabaseExists(databaseUrl);
  const dataSource = createDataSource({ DATABASE_URL: databaseUrl });
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    const names = applied.map((migration) => migration.name);
    console.log(
      names.length > 0 ? `Applied migrations: ${names.join(', ')}` : 'Database schema is up to date.',
    );
  } finally {
    await dataSource.destroy();
  }
}

migrate().catch((error: unknown) => {
  console.error(`Migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
