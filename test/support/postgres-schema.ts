import { Client } from 'pg';
import { randomUUID } from 'node:crypto';
import type { PostgresOptions } from '../../infra/postgresql/postgres-database';
import { serverUrls, skipOrFail } from './servers';

/** The server integration suites use; CI starts it with `npm run services:up`. */
export const postgresTestUrl = serverUrls.postgresql;

const shownUrl = postgresTestUrl.replace(/\/\/[^/@\s]*@/, '//***@');

/**
 * Registers hooks on the enclosing suite: before it, skip (or, under CREST_REQUIRE_SERVERS=1, fail) unless PostgreSQL
 * answers, and create a schema of its own with a random name; after it, drop that schema. Runs never see each other's
 * tables, nor those of a running Crest.
 */
export const isolatedPostgresSchema = (): PostgresOptions & { readonly schema: string } => {
  const schema = `crest_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  let created = false;
  before(async function () {
    const client = new Client({ connectionString: postgresTestUrl, connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(`CREATE SCHEMA ${schema}`);
      created = true;
    } catch (error) {
      skipOrFail(this, `needs PostgreSQL at ${shownUrl} (${(error as Error).message}); start it with npm run services:up or set CREST_TEST_POSTGRES_URL`);
    } finally {
      await client.end().catch(() => undefined);
    }
  });
  after(async () => {
    if (!created) return;
    const client = new Client({ connectionString: postgresTestUrl, connectionTimeoutMillis: 2000 });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  });
  return { connectionString: postgresTestUrl, schema };
};
