/**
 * `seed` throughput next to a plain bulk insert of the same rows, in the same run, as a ratio.
 *
 *   npm run build && npx node bench/seed.ts [--days 14] [--events-per-day 3000] [--users 2000] [--products 1000]
 *
 * Needs the local PostgreSQL and FerretDB (scripts/stack/up postgres ferretdb). Each phase writes
 * into its own fresh schema/database (dropped afterwards):
 *   1. seed: the generated history as seed writes it (INSERT/UPDATE/DELETE in commit order, batches
 *      of 2000 changes with progress committed, MongoDB inserts idempotent by _id);
 *   2. bulk: the same shop's rows written plainly — every row a seed insert writes (the rows as first
 *      inserted, no updates or deletes), PostgreSQL by multi-row INSERT … unnest in 10 000-row
 *      statements, MongoDB by insertMany of 10 000 documents.
 * Runs from dist/ (Node strips the types of this file); the types come from src/.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { MongoClient } from 'mongodb';
import type * as ShopIndex from '../src/lib/shop/index.js';
import type * as ShopSeed from '../src/lib/shop/seed.js';
import type * as ShopMongo from '../src/lib/shop/mongo-writer.js';
import type * as ShopPg from '../src/lib/shop/postgres-writer.js';

const dist = (p: string) => new URL(`../dist/lib/shop/${p}`, import.meta.url).href;
const shop = (await import(dist('index.js'))) as typeof ShopIndex;
const { seedHistory } = (await import(dist('seed.js'))) as typeof ShopSeed;
const { MongoSourceWriter, toMongoDocument } = (await import(dist('mongo-writer.js'))) as typeof ShopMongo;
const { PostgresSourceWriter } = (await import(dist('postgres-writer.js'))) as typeof ShopPg;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const ports = Object.fromEntries(
  readFileSync(new URL('../scripts/stack/ports.env', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_]+=\d+/.test(l))
    .map((l) => l.split('=') as [string, string]),
);
const postgresUrl =
  process.env.SHOPDATA_POSTGRES_URL ?? `postgres://shopdata:shopdata@127.0.0.1:${ports.PG_PORT}/shop`;
const mongoUrl = process.env.SHOPDATA_MONGO_URL ?? `mongodb://127.0.0.1:${ports.FERRETDB_PORT}/shop_events`;
const options = {
  seed: 42,
  start: '2026-01-01',
  days: arg('days', 14),
  eventsPerDay: arg('events-per-day', 3000),
  users: arg('users', 2000),
  products: arg('products', 1000),
};

const admin = new pg.Client({ connectionString: postgresUrl });
await admin.connect();
const mongoAdmin = new MongoClient(mongoUrl);
await mongoAdmin.connect();
const ddl = readFileSync(new URL('../templates/postgres/shop.sql', import.meta.url), 'utf8');
const made: Array<{ schema: string; db: string }> = [];
async function freshTarget(label: string): Promise<{ schema: string; db: string }> {
  const id = `bench_${label}_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${id}`);
  await admin.query(`SET search_path TO ${id}`);
  await admin.query(ddl);
  made.push({ schema: id, db: id });
  return { schema: id, db: id };
}

try {
  const t0 = performance.now();
  const generated = shop.generateShop(options);
  const generateMs = performance.now() - t0;
  const changes = generated.changes;

  // 1. seed
  const a = await freshTarget('seed');
  const seeded = await seedHistory({
    shop: options,
    target: { postgresUrl, pgSchema: a.schema, mongoUrl, mongoDatabase: a.db },
  });

  // 2. plain bulk insert of the same rows (every inserted row, as inserted)
  const b = await freshTarget('bulk');
  const inserts = changes.filter((c) => c.op === 'c' || c.op === 'r');
  const pgw = await PostgresSourceWriter.connect(postgresUrl, b.schema);
  const tPg = performance.now();
  for (const table of ['sellers', 'users', 'auth_credentials', 'products'] as const) {
    const rows = inserts.filter((c) => c.table === table).map((c) => c.row);
    for (let i = 0; i < rows.length; i += 10_000) await pgw.insertRows(table, rows.slice(i, i + 10_000));
  }
  const bulkPgMs = performance.now() - tPg;
  await pgw.close();
  const mw = await MongoSourceWriter.connect(mongoUrl, b.db);
  const tMongo = performance.now();
  for (const table of ['purchases', 'cancellations', 'ratings'] as const) {
    const docs = inserts
      .filter((c) => c.table === table)
      .map((c) => toMongoDocument(table, c.row, mw.decimals));
    for (let i = 0; i < docs.length; i += 10_000)
      await mw.db.collection(table).insertMany(docs.slice(i, i + 10_000), { ordered: false });
  }
  const bulkMongoMs = performance.now() - tMongo;
  await mw.close();

  const pgInserts = inserts.filter((c) =>
    ['sellers', 'users', 'auth_credentials', 'products'].includes(c.table),
  ).length;
  const mongoInserts = inserts.length - pgInserts;
  const pgChanges = changes.filter((c) =>
    ['sellers', 'users', 'auth_credentials', 'products'].includes(c.table),
  ).length;
  const mongoChanges = changes.length - pgChanges;
  const seedWriteMs = seeded.durationMs - seeded.timings.generateMs;
  const perSec = (n: number, ms: number) => Math.round((n * 1000) / ms);
  const report = {
    bench: 'seed',
    at: new Date().toISOString(),
    node: process.version,
    options,
    mongoServer: seeded.target.mongoServer,
    generate: {
      changes: changes.length,
      ms: Math.round(generateMs),
      changesPerSecond: perSec(changes.length, generateMs),
    },
    seed: {
      events: seeded.written,
      ms: seedWriteMs,
      eventsPerSecond: perSec(seeded.written, seedWriteMs),
      postgres: {
        events: pgChanges,
        ms: seeded.timings.postgresMs,
        eventsPerSecond: perSec(pgChanges, seeded.timings.postgresMs),
      },
      mongo: {
        events: mongoChanges,
        ms: seeded.timings.mongoMs,
        eventsPerSecond: perSec(mongoChanges, seeded.timings.mongoMs),
      },
    },
    bulk: {
      rows: inserts.length,
      ms: Math.round(bulkPgMs + bulkMongoMs),
      rowsPerSecond: perSec(inserts.length, bulkPgMs + bulkMongoMs),
      postgres: { rows: pgInserts, ms: Math.round(bulkPgMs), rowsPerSecond: perSec(pgInserts, bulkPgMs) },
      mongo: {
        rows: mongoInserts,
        ms: Math.round(bulkMongoMs),
        rowsPerSecond: perSec(mongoInserts, bulkMongoMs),
      },
    },
  };
  const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
  const ratios = {
    total: ratio(report.seed.eventsPerSecond, report.bulk.rowsPerSecond),
    postgres: ratio(report.seed.postgres.eventsPerSecond, report.bulk.postgres.rowsPerSecond),
    mongo: ratio(report.seed.mongo.eventsPerSecond, report.bulk.mongo.rowsPerSecond),
  };
  console.log(JSON.stringify({ ...report, ratioSeedToBulk: ratios }));
  console.error(
    [
      `seed bench: ${options.days} days × ${options.eventsPerDay} actions/day → ${changes.length} changes (generated in ${report.generate.ms} ms)`,
      `                 seed events/s   bulk rows/s   ratio`,
      `  total        ${String(report.seed.eventsPerSecond).padStart(14)} ${String(report.bulk.rowsPerSecond).padStart(13)}   ${ratios.total}`,
      `  PostgreSQL   ${String(report.seed.postgres.eventsPerSecond).padStart(14)} ${String(report.bulk.postgres.rowsPerSecond).padStart(13)}   ${ratios.postgres}`,
      `  ${(report.mongoServer ?? 'MongoDB').padEnd(12)} ${String(report.seed.mongo.eventsPerSecond).padStart(14)} ${String(report.bulk.mongo.rowsPerSecond).padStart(13)}   ${ratios.mongo}`,
    ].join('\n'),
  );
} finally {
  for (const { schema, db } of made) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await mongoAdmin
      .db(db)
      .dropDatabase()
      .catch(() => undefined);
  }
  await admin.end();
  await mongoAdmin.close();
}
