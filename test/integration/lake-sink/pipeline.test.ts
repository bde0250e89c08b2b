import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, s3Env, stack, uniqueName } from '../../helpers/stack.js';
import { openWarehouse } from '../../../src/lib/warehouse/index.js';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { createTopicsReady } from '../../helpers/kafka.js';
import { computeMarts, countOps, generateShop } from '../../../src/lib/shop/index.js';
import { compareMarts, readMarts } from '../../../src/lib/demo/marts.js';
import { testDatabases } from '../../../src/lib/vault/tables.js';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import { encodeChange } from '../../../src/lib/debezium/encode.js';
import { decodeMessage } from '../../../src/lib/debezium/decode.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';
import { SOURCE_TABLES, type SourceTable } from '../../../src/lib/vault/types.js';
import {
  clickhouseText,
  produce,
  readAll,
  tail,
  waitForCounts,
  withAdmin,
  type RawMessage,
} from '../e2e/support.js';
import { PrivateConnect } from './private-connect.js';
import {
  catalogGet,
  catalogUri,
  dropNamespaces,
  keyOf,
  lakeTotals,
  scanLake,
  sleep,
  waitFor,
} from './support.js';

// The lake leg of the platform for real (issue 14 §5): seed → PostgreSQL → Debezium (the stack's
// Connect worker) → Kafka → Apache Iceberg's sink (a private Connect worker) → S3 through the REST
// catalog. MongoDB events are produced in Debezium's format into their topics (no MongoDB server
// here, FerretDB has no change streams) and archived by the same sink. The sink's worker is killed
// with SIGKILL in the middle of the load; afterwards pyiceberg (not shopdata's reader) must find
// every change exactly once, by table, key, operation and __ts.
// Needs: scripts/stack/up (postgres kafka connect s3 iceberg-rest python ferretdb); npm run build.

const id = uniqueName('lkp');
const SEED = 30;
const DAYS = 2;
const START = '2026-03-02';
const pgDatabase = id;
const mongoDatabase = `${id}_ev`;
const debezium = id.replace(/_/g, '-');
const sink = `${debezium}-lake`;
const slot = id;
const pgPrefix = id;
const mongoPrefix = `${id}ev`;
const ns = id;
const router = new TopicRouter({
  postgres: `${pgPrefix}.public.`,
  mongo: `${mongoPrefix}.${mongoDatabase}.`,
});
const PG_TABLES: SourceTable[] = ['sellers', 'users', 'auth_credentials', 'products'];
const MONGO_TABLES: SourceTable[] = ['purchases', 'cancellations', 'ratings'];
const COMMIT_MS = 2000;
const BCRYPT = /\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}/;

const adminUrl = stack.postgresUrl;
const sourceUrl = adminUrl.replace(/\/shop$/, `/${pgDatabase}`);
const dir = mkdtempSync(join(tmpdir(), `${id}-`));
const secretsFile = join(dir, 'connect-secrets.properties');
const worker = new PrivateConnect(`${id}-connect`);

const shop = generateShop({ seed: SEED, days: DAYS, start: START });
const ops = countOps(shop.changes);
const mongoChanges = shop.changes.filter((c) => MONGO_TABLES.includes(c.table));
const rowsOf = (t: SourceTable) => ops[t].c + ops[t].u + ops[t].d;
const timings: Record<string, number> = {};
const dbs = testDatabases(id);
/** The Kafka events of the seed, read once by the exactly-once check and replayed by `stream`. */
let kafkaMessages: RawMessage[] = [];
/** UTC days of the lake's __ts values: what backfill must rebuild. */
let lakeDays: string[] = [];
/** Per table, what pyiceberg read: key, op, deleted, __ts and __ts_us of every row. */
const pyRows: Record<string, string[]> = {};

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    SHOPDATA_POSTGRES_URL: sourceUrl,
    SHOPDATA_MONGO_URL: `${stack.mongoUrl.replace(/\/[^/]*$/, '')}/${mongoDatabase}`,
    SHOPDATA_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    SHOPDATA_CONNECT_URL: stack.connectUrl,
    SHOPDATA_CONNECT_TEMPLATES: undefined,
    SHOPDATA_CONNECT_PG_NAME: debezium,
    SHOPDATA_CONNECT_PG_SLOT: slot,
    SHOPDATA_CONNECT_PG_TOPIC_PREFIX: pgPrefix,
    SHOPDATA_CONNECT_PG_PUBLICATION: undefined,
    SHOPDATA_CONNECT_PG_PASSWORD_REF: `\${file:${secretsFile}:pg.password}`,
    SHOPDATA_CONNECT_MONGO_TOPIC_PREFIX: mongoPrefix,
    // The sink reads Debezium's events with the schema wrapper (templates/connectors/README.md).
    SHOPDATA_CONNECT_JSON_SCHEMAS: 'true',
    SHOPDATA_ICEBERG_CATALOG_URI: catalogUri,
    SHOPDATA_ICEBERG_CATALOG_NAMESPACE: ns,
    SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
    SHOPDATA_CONNECT_LAKE_NAME: sink,
    SHOPDATA_CONNECT_LAKE_COMMIT_INTERVAL_MS: String(COMMIT_MS),
    SHOPDATA_PII_SALT: `salt-${id}`,
    SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl,
    SHOPDATA_LAKE: undefined,
    ...s3Env,
    SHOPDATA_LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function cli(
  step: string,
  args: string[],
  extra: Record<string, string | undefined> = {},
): Promise<CliResult> {
  const t0 = Date.now();
  const r = await runCli(args, { env: env(extra), cwd: dir, timeoutMs: 170_000 });
  timings[step] = Date.now() - t0;
  return r;
}

function expectExit(r: CliResult, code: number, what: string): void {
  expect(r.code, `${what} exited ${r.code}; stderr:\n${tail(r.stderr)}\nstdout:\n${tail(r.stdout, 20)}`).toBe(
    code,
  );
}

async function pgQuery<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** One change as the lake must hold it: table, key, op, commit time in µs. */
function changeId(table: SourceTable, key: string, op: string, tsUs: number): string {
  return `${table}|${key}|${op}|${tsUs}`;
}

async function cleanUp(): Promise<void> {
  await fetch(`${stack.connectUrl}/connectors/${debezium}`, { method: 'DELETE' }).catch(() => undefined);
  for (let i = 0; i < 60; i++) {
    const r = await pgQuery<{ active: boolean }>(
      adminUrl,
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    ).catch(() => []);
    if (r.length === 0) break;
    if (!r[0]!.active)
      await pgQuery(adminUrl, 'SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
    else await sleep(500);
  }
  await pgQuery(adminUrl, `DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`).catch(() => undefined);
  const mongo = new MongoClient(stack.mongoUrl, { serverSelectionTimeoutMS: 5000 });
  await mongo
    .connect()
    .then(() => mongo.db(mongoDatabase).dropDatabase())
    .catch(() => undefined)
    .finally(() => mongo.close().catch(() => undefined));
  const topics = await withAdmin(async (admin) =>
    (await admin.listTopics()).filter(
      (t) =>
        t.startsWith(`${pgPrefix}.`) ||
        t.startsWith(`${mongoPrefix}.`) ||
        t.startsWith(`${sink}-`) ||
        t.endsWith(`.${pgPrefix}`),
    ),
  ).catch(() => [] as string[]);
  await worker.destroy({ topics, groups: [`connect-${sink}`] });
  for (const db of [dbs.mart, dbs.vault, dbs.ops])
    await clickhouseText(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
  await dropNamespaces([ns]);
  rmSync(dir, { recursive: true, force: true });
}

describe(`the lake leg end to end: Debezium → Kafka → Iceberg sink → REST catalog (seed ${SEED}, ${DAYS} days from ${START}, names ${id})`, () => {
  beforeAll(async () => {
    writeFileSync(secretsFile, 'pg.password=shopdata\n', { mode: 0o600 });
    await worker.init();
    const started = worker.start();
    await pgQuery(adminUrl, `CREATE DATABASE ${pgDatabase}`);
    await pgQuery(sourceUrl, readFileSync(join(REPO_ROOT, 'templates/postgres/shop.sql'), 'utf8'));
    await started;
  });

  afterAll(async () => {
    await cleanUp();
    console.log(`lake-sink pipeline timings (ms): ${JSON.stringify(timings)}`);
  });

  it('connectors apply starts the Debezium PostgreSQL connector with the schema wrapper', async () => {
    const r = await cli('applyDebezium', ['connectors', 'apply', 'shop-postgres', '--json']);
    expectExit(r, 0, 'connectors apply shop-postgres');
    const live = (await (await fetch(`${stack.connectUrl}/connectors/${debezium}/config`)).json()) as Record<
      string,
      string
    >;
    expect(live).toMatchObject({ 'topic.prefix': pgPrefix, 'value.converter.schemas.enable': 'true' });
  });

  it(`seed writes ${DAYS} days of the shop; Debezium delivers every change to Kafka`, async () => {
    const r = await cli('seed', [
      'seed',
      '--days',
      String(DAYS),
      '--seed',
      String(SEED),
      '--start',
      START,
      '--mongo-db',
      mongoDatabase,
      '--json',
    ]);
    expectExit(r, 0, 'seed');
    expect(JSON.parse(r.stdout)).toMatchObject({ complete: true, written: shop.changes.length });
    // Every insert, update and delete, and a tombstone after each delete.
    const expected = Object.fromEntries(
      PG_TABLES.map((t) => [router.topicFor(t), ops[t].c + ops[t].u + 2 * ops[t].d]),
    );
    timings.debeziumCatchUp = (await waitForCounts(expected, 150_000)).waitedMs;
  });

  it('connectors apply shop-lake creates the lake tables and starts the sink on its own worker', async () => {
    await withAdmin((admin) =>
      createTopicsReady(
        admin,
        MONGO_TABLES.map((t) => ({ topic: router.topicFor(t), numPartitions: 2, replicationFactor: 1 })),
      ),
    );
    const r = await cli('applySink', ['connectors', 'apply', 'shop-lake', '--json'], {
      SHOPDATA_CONNECT_URL: worker.url,
    });
    expectExit(r, 0, 'connectors apply shop-lake');
    const out = JSON.parse(r.stdout) as {
      connectors: Array<{ action: string; state: string; lakeTables: Array<{ state: string }> }>;
    };
    expect(out.connectors[0]).toMatchObject({ action: 'created', state: 'RUNNING, task 0 RUNNING' });
    expect(out.connectors[0]!.lakeTables.map((t) => t.state)).toEqual(SOURCE_TABLES.map(() => 'created'));
  });

  it('kill -9 of the sink worker in the middle of the load loses and doubles nothing', async () => {
    const t0 = Date.now();
    const events = mongoChanges.map((c) => encodeChange(c, { router }));
    const a = Math.floor(events.length * 0.4);
    const b = Math.floor(events.length * 0.7);
    await produce(events.slice(0, a));
    // A first commit that holds part of the load (and the PostgreSQL tables) ...
    await waitFor('a first commit of MongoDB events', 90_000, async () => {
      const n = await lakeTotals(ns, ['purchases']);
      return n.purchases! > 0 ? n : undefined;
    });
    // ... then more events, and SIGKILL while the sink writes them: files written, not committed.
    timings.firstMongoCommit = Date.now() - t0;
    await produce(events.slice(a, b));
    await sleep(COMMIT_MS / 2);
    await worker.kill9();
    const atKill = await lakeTotals(ns, SOURCE_TABLES);
    const total = (n: Record<string, number>) => Object.values(n).reduce((s, x) => s + x, 0);
    const wanted = SOURCE_TABLES.reduce((s, t) => s + rowsOf(t), 0);
    expect(total(atKill), JSON.stringify(atKill)).toBeLessThan(wanted);
    // The rest arrives while the sink is down; then its worker comes back.
    await produce(events.slice(b));
    const restart = Date.now();
    await worker.start();
    timings.workerRestart = Date.now() - restart;
    const done = await waitFor(
      'every change in the lake after the restart',
      180_000,
      async () => {
        const n = await lakeTotals(ns, SOURCE_TABLES);
        return SOURCE_TABLES.every((t) => n[t]! >= rowsOf(t)) ? n : undefined;
      },
      1000,
    );
    timings.recovered = Date.now() - restart;
    // Two more commit intervals: nothing further may arrive.
    await sleep(3 * COMMIT_MS);
    expect(await lakeTotals(ns, SOURCE_TABLES)).toEqual(done);
    expect(done).toEqual(Object.fromEntries(SOURCE_TABLES.map((t) => [t, rowsOf(t)])));
    timings.killAndRecover = Date.now() - t0;
    console.log(`lake at kill -9: ${JSON.stringify(atKill)}; after recovery: ${JSON.stringify(done)}`);
  });

  it('pyiceberg reads every Kafka change exactly once, by table, key, op and commit time, with its values and no password hash', async () => {
    const t0 = Date.now();
    const messages = (kafkaMessages = await readAll(router.allTopics()));
    // Each change: its identity (table, key, op, commit ms) and its values. One transaction of the
    // seed may change a row twice at one commit time, so identities repeat: compare multisets.
    const values = (t: SourceTable, row: Record<string, unknown>) =>
      JSON.stringify(
        LAKE_SCHEMAS[t].fields.filter((f) => !f.name.startsWith('__')).map((f) => normalise(row[f.name])),
      );
    const expectedIds: string[] = [];
    const expectedRows: string[] = [];
    for (const m of messages) {
      const d = decodeMessage(
        { topic: m.topic, partition: m.partition, offset: m.offset, key: m.key, value: m.value },
        { router },
      );
      if (d.kind === 'reject') throw new Error(`${m.topic}/${m.offset} does not decode: ${d.error.message}`);
      if (d.kind === 'skip') continue;
      const c = d.change;
      const cid = changeId(c.table, keyOf(c.table, c.row), c.op, c.commitTsUs);
      expectedIds.push(cid);
      expectedRows.push(`${cid} ${values(c.table, c.row)}`);
    }
    expect(expectedIds.length).toBe(shop.changes.length);
    const lake = await scanLake(ns, SOURCE_TABLES);
    const gotIds: string[] = [];
    const gotRows: string[] = [];
    for (const t of SOURCE_TABLES) {
      for (const row of lake[t]!.rows) {
        const op = row.__deleted === true ? 'd' : String(row.__op);
        // __ts_us is the exact commit time; __ts the same time in milliseconds.
        expect(row.__ts).toBe(Math.floor((row.__ts_us as number) / 1000) * 1000);
        const cid = changeId(t, keyOf(t, row), op, row.__ts_us as number);
        gotIds.push(cid);
        gotRows.push(`${cid} ${values(t, row)}`);
        (pyRows[t] ??= []).push(
          [keyOf(t, row), row.__op, row.__deleted === true ? 1 : 0, row.__ts, row.__ts_us].join('|'),
        );
      }
      expect(lake[t]!.schema.fields.map((f) => f.name)).not.toContain('password_hash');
      expect(JSON.stringify(lake[t]!.rows)).not.toMatch(BCRYPT);
    }
    expect(gotIds.sort()).toEqual(expectedIds.sort());
    expect(gotRows.sort()).toEqual(expectedRows.sort());
    lakeDays = [
      ...new Set(
        SOURCE_TABLES.flatMap((t) =>
          lake[t]!.rows.map((r) => new Date((r.__ts as number) / 1000).toISOString().slice(0, 10)),
        ),
      ),
    ].sort();
    // Several commits happened (before and after the kill), each one snapshot per table.
    expect(lake.purchases!.snapshots.length).toBeGreaterThan(1);
    timings.verify = Date.now() - t0;
  });

  it("chDB (ClickHouse 26, icebergS3) reads the same rows from the sink's tables as pyiceberg", async () => {
    const wh = await openWarehouse(`chdb:${join(dir, 'chdb')}`);
    try {
      for (const t of SOURCE_TABLES) {
        const { body } = await catalogGet(`/v1/namespaces/${ns}/tables/${t}`);
        const location = (body as { metadata: { location: string } }).metadata.location;
        const url = `${stack.s3Endpoint}/${location.replace(/^s3:\/\//, '')}/`;
        const key = LAKE_SCHEMAS[t].key[0]!;
        const rows = await wh.query<{ r: string }>(
          `SELECT concat(toString(${key}), '|', __op, '|', toString(toUInt8(__deleted)), '|', toString(toUnixTimestamp64Micro(__ts)), '|', toString(__ts_us)) AS r ` +
            `FROM icebergS3('${url}', '${s3Env.AWS_ACCESS_KEY_ID}', '${s3Env.AWS_SECRET_ACCESS_KEY}')`,
        );
        expect(rows.map((x) => x.r).sort(), t).toEqual([...pyRows[t]!].sort());
        expect(rows.length, t).toBe(rowsOf(t));
      }
    } finally {
      await wh.close();
    }
  });

  it('stream loads the vault from the same events with some deliberately lost: the marts are wrong', async () => {
    const migrated = await cli('migrate', ['warehouse', 'migrate', '--db-suffix', id, '--json']);
    expectExit(migrated, 0, 'warehouse migrate');
    // Lost: every 4th purchase, every 3rd rating, every 2nd product update (categories, prices).
    const nth = new Map<string, number>();
    const lost = (m: RawMessage): boolean => {
      if (m.value === null) return false;
      const op = (JSON.parse(m.value) as { payload?: { op?: string } }).payload?.op;
      const kind = `${m.topic}|${op}`;
      const n = (nth.get(kind) ?? 0) + 1;
      nth.set(kind, n);
      if (m.topic === router.topicFor('purchases')) return n % 4 === 0;
      if (m.topic === router.topicFor('ratings')) return n % 3 === 0;
      return m.topic === router.topicFor('products') && op === 'u' && n % 2 === 0;
    };
    const kept = kafkaMessages.filter((m) => !lost(m));
    const dropped = kafkaMessages.length - kept.length;
    expect(dropped).toBeGreaterThan(0);
    const file = join(dir, 'replay-with-losses.jsonl');
    writeFileSync(file, kept.map((m) => JSON.stringify(m)).join('\n') + '\n');
    const r = await cli('stream', [
      'stream',
      '--from-file',
      file,
      '--until-idle',
      '--postgres-topic-prefix',
      router.prefixes.postgres,
      '--mongo-topic-prefix',
      router.prefixes.mongo,
      '--db-suffix',
      id,
      '--json',
    ]);
    expectExit(r, 0, 'stream --from-file');
    const out = JSON.parse(r.stdout) as StreamResult;
    const loaded = Object.values(out.topics).reduce((n, t) => n + t.loaded, 0);
    expect(loaded).toBe(shop.changes.length - dropped);
    const wh = await openWarehouse(stack.clickhouseUrl);
    try {
      const diffs = compareMarts(await readMarts(wh, dbs.mart), computeMarts(shop.changes));
      expect(diffs.length, 'the marts miss the lost events').toBeGreaterThan(0);
    } finally {
      await wh.close();
    }
  });

  it('backfill --format iceberg through the REST catalog corrects the vault: the marts equal the ground truth', async () => {
    expect(lakeDays.length).toBeGreaterThanOrEqual(DAYS);
    for (const day of lakeDays) {
      const r = await cli(`backfill ${day}`, [
        'backfill',
        '--date',
        day,
        '--format',
        'iceberg',
        '--db-suffix',
        id,
        '--json',
      ]);
      expectExit(r, 0, `backfill --date ${day}`);
    }
    const wh = await openWarehouse(stack.clickhouseUrl);
    try {
      const truth = computeMarts(shop.changes);
      const actual = await readMarts(wh, dbs.mart);
      const diffs = compareMarts(actual, truth);
      expect(diffs, JSON.stringify(diffs.slice(0, 20), null, 1)).toEqual([]);
      expect(actual.daily_orders).toEqual(truth.daily_orders);
      expect(actual.daily_sales_by_category).toEqual(truth.daily_sales_by_category);
      expect(actual.product_ratings).toEqual(truth.product_ratings);
    } finally {
      await wh.close();
    }
  });
});

/** Canonical values of both sides compared as text: decimals "12.50", ids and timestamps as integers. */
function normalise(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v;
  if (Array.isArray(v)) return v.map(normalise);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}
