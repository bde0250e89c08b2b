import { readFileSync } from 'node:fs';
import pg from 'pg';
import { MongoClient } from 'mongodb';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';

/**
 * A private copy of the shop's source schema for one test: a PostgreSQL schema built from
 * templates/postgres/shop.sql and a MongoDB database, both with unique names, dropped afterwards.
 */
export interface TestSources {
  schema: string;
  mongoDatabase: string;
  pg: pg.Client;
  mongo: MongoClient;
  drop(): Promise<void>;
}

export async function createTestSources(prefix = 'seed'): Promise<TestSources> {
  const schema = uniqueName(prefix);
  const mongoDatabase = uniqueName(`${prefix}_ev`);
  const client = new pg.Client({ connectionString: stack.postgresUrl });
  await client.connect();
  const ddl = readFileSync(`${REPO_ROOT}templates/postgres/shop.sql`, 'utf8');
  // shop.sql names its tables unqualified: run it with the test schema first on the search path.
  // Its publication block only creates shopdata_publication when missing (the stack made it for public).
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(`SET search_path TO ${schema}`);
  await client.query(ddl);
  const mongo = new MongoClient(stack.mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  return {
    schema,
    mongoDatabase,
    pg: client,
    mongo,
    async drop() {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await client.end().catch(() => undefined);
      await mongo
        .db(mongoDatabase)
        .dropDatabase()
        .catch(() => undefined);
      await mongo.close().catch(() => undefined);
    },
  };
}
