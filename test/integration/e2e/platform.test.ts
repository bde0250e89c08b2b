import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';
import { hardCases } from '../../helpers/shop-cases.js';
import { createTopicsReady } from '../../helpers/kafka.js';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { computeMarts, countOps, generateShop } from '../../../src/lib/shop/index.js';
import { encodeChange } from '../../helpers/debezium.js';
import { decodeMessage } from '../../../src/lib/debezium/decode.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { testDatabases } from '../../../src/lib/vault/tables.js';
import { compareMarts, readMarts } from '../../../src/lib/demo/marts.js';
import type { CanonicalRow, SourceChange, SourceTable } from '../../../src/lib/vault/types.js';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { SeedResult } from '../../../src/lib/shop/seed.js';
import type { CheckReport } from '../../../src/lib/check/types.js';
import {
  clickhouseText,
  dumpDatabases,
  endOffsets,
  produce,
  readAll,
  tail,
  waitForCounts,
  withAdmin,
} from './support.js';

// The acceptance test of the real platform (issues 5 and 9): the built CLI against the local stack.
//   warehouse migrate → connectors apply (Debezium PostgreSQL on Kafka Connect) → seed (PostgreSQL
//   and FerretDB) → Debezium streams every c/u/d into Kafka → MongoDB-connector events produced in
//   Debezium's format (FerretDB has no change streams) → stream --until-idle → ClickHouse 18.16 →
//   marts = the generator's ground truth, no password_hash anywhere but PostgreSQL → vault check →
//   connectors delete --drop-slot and cleanup.
// Isolation: its own PostgreSQL database (built from templates/postgres/shop.sql, so the shipped
// connector template with schema `public` and the database's own publication apply unchanged),
// replication slot, connector name, topic prefixes, consumer group, DLQ topic, FerretDB database
// and ClickHouse databases vault_/mart_/ops_<id> (--db-suffix).
// The connector runs before the seed: streaming carries every insert, update and delete (with
// REPLICA IDENTITY FULL before-images), whereas a snapshot of a seeded database would only see
// the final rows and miss deleted products' categories.

const id = uniqueName('e2e');
// Any seed must pass (SHOPDATA_E2E_SEED): every generated shop has the hard cases of the marts by
// construction (a bought product re-categorised and then deleted, ratings, cancellations).
const SEED = Number(process.env.SHOPDATA_E2E_SEED ?? 30);
const DAYS = 2;
const SALT = randomBytes(32).toString('hex');
// A fixed start, never today's date: the generated shop, and so this test, is the same on any day.
// SHOPDATA_E2E_START tries another (a month-end, a leap day).
const START = process.env.SHOPDATA_E2E_START ?? '2026-12-02';

const pgDatabase = id;
const mongoDatabase = `${id}_ev`;
const connector = id.replace(/_/g, '-');
const slot = id;
const pgPrefix = id;
const mongoPrefix = `${id}ev`;
const group = `${id}-stream`;
const dlqTopic = `${id}.dlq`;
const dbs = testDatabases(id);
const router = new TopicRouter({
  postgres: `${pgPrefix}.public.`,
  mongo: `${mongoPrefix}.${mongoDatabase}.`,
});
const PG_TABLES: SourceTable[] = ['sellers', 'users', 'auth_credentials', 'products'];
const MONGO_TABLES: SourceTable[] = ['purchases', 'cancellations', 'ratings'];

const adminUrl = stack.postgresUrl;
const sourceUrl = adminUrl.replace(/\/shop$/, `/${pgDatabase}`);
const dir = mkdtempSync(join(tmpdir(), `${id}-`));
const secretsFile = join(dir, 'connect-secrets.properties');

// The shop the seed writes, generated here independently of the CLI.
const shop = generateShop({ seed: SEED, days: DAYS, start: START });
const pgChanges = shop.changes.filter((c) => PG_TABLES.includes(c.table));
const mongoChanges = shop.changes.filter((c) => MONGO_TABLES.includes(c.table));
const ops = countOps(shop.changes);
const passwordHashes = [
  ...new Set(
    shop.changes
      .filter((c) => c.table === 'auth_credentials' && typeof c.row.password_hash === 'string')
      .map((c) => c.row.password_hash as string),
  ),
];
const emails = [
  ...new Set(
    shop.changes
      .filter((c) => c.table === 'users' && typeof c.row.email === 'string')
      .map((c) => c.row.email as string),
  ),
];
const BCRYPT = /\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}/;

/** SHOPDATA_E2E_KEEP=1 keeps the databases, topics and FerretDB data for a look after a failure. */
const KEEP = process.env.SHOPDATA_E2E_KEEP === '1';
const timings: Record<string, number> = {};
const runs: Array<{ args: string[]; result: CliResult }> = [];
let wh: Warehouse;

/** The environment of every CLI run: this test's sources, warehouse and names, nothing inherited. */
function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    SHOPDATA_POSTGRES_URL: sourceUrl,
    SHOPDATA_MONGO_URL: stack.mongoUrl,
    SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl,
    SHOPDATA_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    SHOPDATA_CONNECT_URL: stack.connectUrl,
    SHOPDATA_PII_SALT: SALT,
    SHOPDATA_LAKE: undefined,
    SHOPDATA_S3_ENDPOINT: undefined,
    SHOPDATA_CONNECT_TEMPLATES: undefined,
    SHOPDATA_CONNECT_PG_NAME: connector,
    SHOPDATA_CONNECT_PG_SLOT: slot,
    SHOPDATA_CONNECT_PG_TOPIC_PREFIX: pgPrefix,
    SHOPDATA_CONNECT_PG_PUBLICATION: undefined,
    SHOPDATA_CONNECT_PG_PASSWORD_REF: `\${file:${secretsFile}:pg.password}`,
    SHOPDATA_STREAM_TOPICS: undefined,
    SHOPDATA_STREAM_GROUP: undefined,
    SHOPDATA_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Runs the built CLI from an empty directory (no ./shopdata.yaml, no ./.shopdata/lake) and times it. */
async function cli(step: string, args: string[], timeoutMs = 150_000): Promise<CliResult> {
  const t0 = Date.now();
  const result = await runCli(args, { env: env(), cwd: dir, timeoutMs });
  timings[step] = Date.now() - t0;
  runs.push({ args, result });
  return result;
}

function expectExit(r: CliResult, code: number, what: string): void {
  expect(
    r.code,
    `${what} exited ${r.code} (signal ${r.signal}); stderr tail:\n${tail(r.stderr)}\nstdout tail:\n${tail(r.stdout, 20)}`,
  ).toBe(code);
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

/** A row without nulls and without password_hash: what must survive from PostgreSQL to Kafka. */
function comparable(row: CanonicalRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row))
    if (v !== null && v !== undefined && k !== 'password_hash')
      out[k] = typeof v === 'bigint' ? Number(v) : v;
  return out;
}

const KEY: Record<string, string> = {
  sellers: 'id',
  users: 'id',
  products: 'id',
  auth_credentials: 'user_id',
};

/**
 * Per table and key, the sequence of (op, row) — the order that logical decoding must keep.
 * auth_credentials has REPLICA IDENTITY DEFAULT: its delete's old row is the key only, which
 * Debezium fills up with the NOT NULL column's default (`failed_logins: 0`) and nulls; the
 * generator models it as `{user_id}`. Those deletes are compared by key.
 */
function histories(
  changes: SourceChange[],
): Map<string, Array<{ op: string; row: Record<string, unknown> }>> {
  const m = new Map<string, Array<{ op: string; row: Record<string, unknown> }>>();
  for (const c of changes) {
    const key = KEY[c.table]!;
    const k = `${c.table}:${String(c.row[key])}`;
    let list = m.get(k);
    if (!list) m.set(k, (list = []));
    const keyOnly = c.table === 'auth_credentials' && c.op === 'd';
    list.push({ op: c.op, row: keyOnly ? { [key]: Number(c.row[key]) } : comparable(c.row) });
  }
  return m;
}

/** Removes whatever the test left, in any state: connector, slot, databases, topics, group, files. */
async function cleanUp(): Promise<void> {
  await fetch(`${stack.connectUrl}/connectors/${connector}`, { method: 'DELETE' }).catch(() => undefined);
  for (let i = 0; i < 60; i++) {
    const r = await pgQuery<{ active: boolean }>(
      adminUrl,
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    ).catch(() => []);
    if (r.length === 0) break;
    if (!r[0]!.active)
      await pgQuery(adminUrl, 'SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
    else await new Promise((res) => setTimeout(res, 500));
  }
  if (KEEP) {
    console.log(
      `SHOPDATA_E2E_KEEP: kept PostgreSQL database ${pgDatabase}, FerretDB database ${mongoDatabase}, ClickHouse ${dbs.vault}/${dbs.mart}/${dbs.ops}, topics ${pgPrefix}.* and ${mongoPrefix}.*`,
    );
    return;
  }
  await pgQuery(adminUrl, `DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`).catch(() => undefined);
  const mongo = new MongoClient(stack.mongoUrl, { serverSelectionTimeoutMS: 5000 });
  await mongo
    .connect()
    .then(() => mongo.db(mongoDatabase).dropDatabase())
    .catch(() => undefined)
    .finally(() => mongo.close().catch(() => undefined));
  for (const db of [dbs.mart, dbs.vault, dbs.ops])
    await clickhouseText(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
  await withAdmin(async (admin) => {
    const mine = (await admin.listTopics()).filter(
      (t) =>
        t.startsWith(`${pgPrefix}.`) ||
        t.startsWith(`${mongoPrefix}.`) ||
        t.endsWith(`.${pgPrefix}`) ||
        t === dlqTopic,
    );
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 15_000 });
    await admin.deleteGroups([group]).catch(() => undefined);
  }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}

describe(`the platform end to end (seed ${SEED}, ${DAYS} days from ${START}, names ${id})`, () => {
  beforeAll(async () => {
    const t0 = Date.now();
    writeFileSync(secretsFile, 'pg.password=shopdata\n', { mode: 0o600 });
    await pgQuery(adminUrl, `CREATE DATABASE ${pgDatabase}`);
    await pgQuery(sourceUrl, readFileSync(join(REPO_ROOT, 'templates/postgres/shop.sql'), 'utf8'));
    wh = await openWarehouse(stack.clickhouseUrl);
    timings.setup = Date.now() - t0;
  });

  afterAll(async () => {
    await wh?.close();
    await cleanUp();
    console.log(`e2e timings (ms): ${JSON.stringify(timings)}`);
  });

  it('warehouse migrate creates vault/mart/ops with the suffix on ClickHouse 18.16', async () => {
    const r = await cli('migrate', ['warehouse', 'migrate', '--db-suffix', id, '--json']);
    expectExit(r, 0, 'warehouse migrate');
    const out = JSON.parse(r.stdout) as { serverVersion: string; applied: unknown[] };
    expect(out.serverVersion).toMatch(/^18\.16\./);
    expect(out.applied.length).toBeGreaterThan(0);
    const views = await wh.query<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = '${dbs.mart}' ORDER BY name`,
    );
    expect(views.map((v) => v.name)).toEqual(
      expect.arrayContaining(['daily_orders', 'daily_sales_by_category', 'product_ratings']),
    );
  });

  it('the source database has the contract tables, replica identities and the password-free publication', async () => {
    const ident = await pgQuery<{ relname: string; relreplident: string }>(
      sourceUrl,
      `SELECT relname, relreplident::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname = ANY($1) ORDER BY relname`,
      [PG_TABLES],
    );
    expect(Object.fromEntries(ident.map((r) => [r.relname, r.relreplident]))).toEqual({
      auth_credentials: 'd',
      products: 'f',
      sellers: 'f',
      users: 'f',
    });
    const cols = await pgQuery<{ tablename: string; attnames: string[] }>(
      sourceUrl,
      `SELECT tablename, attnames FROM pg_publication_tables WHERE pubname = 'shopdata_publication' AND tablename = 'auth_credentials'`,
    );
    expect(cols[0]?.attnames).toBeDefined();
    expect(cols[0]!.attnames).not.toContain('password_hash');
  });

  it('connectors apply starts the Debezium PostgreSQL connector from the shipped template', async () => {
    const r = await cli('connectorsApply', ['connectors', 'apply', 'shop-postgres', '--json'], 170_000);
    expectExit(r, 0, 'connectors apply');
    const out = JSON.parse(r.stdout) as {
      connectors: Array<{ connector: string; action: string; state: string }>;
    };
    expect(out.connectors).toEqual([
      expect.objectContaining({ connector, action: 'created', state: 'RUNNING, task 0 RUNNING' }),
    ]);
    const live = (await (await fetch(`${stack.connectUrl}/connectors/${connector}/config`)).json()) as Record<
      string,
      string
    >;
    expect(live).toMatchObject({
      'topic.prefix': pgPrefix,
      'slot.name': slot,
      'database.dbname': pgDatabase,
      'database.password': `\${file:${secretsFile}:pg.password}`,
    });
    // The slot exists once the task runs: every commit from now on reaches Kafka.
    const slots = await pgQuery<{ database: string }>(
      adminUrl,
      'SELECT database FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    expect(slots).toEqual([{ database: pgDatabase }]);
  });

  it(`seed writes ${DAYS} days of the shop into PostgreSQL and FerretDB`, async () => {
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
    const out = JSON.parse(r.stdout) as SeedResult;
    expect(out).toMatchObject({
      mode: 'history',
      complete: true,
      total: shop.changes.length,
      written: shop.changes.length,
      start: START,
      seed: SEED,
    });
    expect(out.tables).toEqual(ops);
    // The shop has the kinds of change the marts depend on.
    expect(ops.products.d).toBeGreaterThan(0);
    expect(ops.products.u).toBeGreaterThan(0);
    expect(ops.auth_credentials.u).toBeGreaterThan(0);
    expect(ops.purchases.c).toBeGreaterThan(0);
  });

  it('the shop covers the hard cases of the marts', () => {
    const cases = hardCases(shop.changes);
    // Several versions of a product in one seed transaction share a commit time in the vault.
    expect(cases.recategorised, 'products whose category changed').toBeGreaterThan(0);
    expect(cases.deletedBought, 'purchased products deleted later').toBeGreaterThan(0);
    expect(cases.deletedBoughtRecategorised, 'purchased, re-categorised, then deleted').toBeGreaterThan(0);
    expect(cases.ratings).toBe(ops.ratings.c);
    expect(cases.ratings).toBeGreaterThan(0);
    expect(cases.cancellations).toBeGreaterThan(0);
  });

  it('Debezium delivers every c/u/d (plus tombstones) of the seed, faithfully and without password_hash', async () => {
    const expected = Object.fromEntries(
      PG_TABLES.map((t) => [router.topicFor(t), ops[t].c + ops[t].u + 2 * ops[t].d]),
    );
    const t0 = Date.now();
    const { waitedMs } = await waitForCounts(expected, 120_000);
    timings.debeziumCatchUp = waitedMs;
    const messages = await readAll(Object.keys(expected));
    timings.readPgTopics = Date.now() - t0 - waitedMs;
    expect(messages.length).toBe(Object.values(expected).reduce((a, b) => a + b, 0));

    const decoded: SourceChange[] = [];
    let tombstones = 0;
    for (const m of messages) {
      const d = decodeMessage(
        { topic: m.topic, partition: m.partition, offset: m.offset, key: m.key, value: m.value },
        { router },
      );
      if (d.kind === 'reject')
        throw new Error(
          `${m.topic}/${m.offset} does not decode: ${d.error.message}\n${m.value?.slice(0, 500)}`,
        );
      if (d.kind === 'skip') tombstones++;
      else decoded.push(d.change);
    }
    expect(tombstones).toBe(PG_TABLES.reduce((n, t) => n + ops[t].d, 0));
    expect(decoded.every((c) => c.op !== 'r')).toBe(true); // nothing was there at the snapshot
    // Per row, the same sequence of operations and values the generator made (commit times differ:
    // Debezium stamps the real commit time; timestamps columns keep the generator's values).
    const got = histories(decoded);
    const want = histories(pgChanges);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, list] of want) expect(got.get(k), k).toEqual(list);

    // Products' deletes carry the whole old row (REPLICA IDENTITY FULL), with the category.
    const productDeletes = decoded.filter((c) => c.table === 'products' && c.op === 'd');
    expect(productDeletes.length).toBe(ops.products.d);
    for (const d of productDeletes) expect(typeof d.row.category).toBe('string');
    for (const m of messages.filter(
      (x) => x.topic === router.topicFor('auth_credentials') && x.value?.includes('"op":"d"'),
    )) {
      const before = (JSON.parse(m.value!) as { before: Record<string, unknown> }).before;
      expect(Object.keys(before).sort()).toEqual(['failed_logins', 'last_login_at', 'updated_at', 'user_id']);
    }

    // password_hash never leaves PostgreSQL.
    for (const m of messages.filter(
      (x) => x.topic === router.topicFor('auth_credentials') && x.value !== null,
    )) {
      const v = JSON.parse(m.value!) as {
        before: Record<string, unknown> | null;
        after: Record<string, unknown> | null;
      };
      expect(v.after ?? {}).not.toHaveProperty('password_hash');
      expect(v.before ?? {}).not.toHaveProperty('password_hash');
      expect(m.value).not.toMatch(BCRYPT);
    }
  });

  it("the MongoDB connector's events for purchases, cancellations and ratings are produced in Debezium's format", async () => {
    const t0 = Date.now();
    const topics = MONGO_TABLES.map((t) => router.topicFor(t));
    await withAdmin((admin) =>
      createTopicsReady(
        admin,
        // The broker stamps the messages with its own clock: this process may run under another one
        // (scripts/test-dates.sh), and the broker refuses create times over an hour in its future.
        topics.map((topic) => ({
          topic,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
        })),
      ),
    );
    // As the shipped shop-mongodb.yaml configures the connector: JSON converter without the schema
    // wrapper; Debezium writes `after` as relaxed extended JSON.
    await produce(
      mongoChanges.map((c) => encodeChange(c, { router, withSchema: false, extendedJson: 'relaxed' })),
    );
    const counts = await withAdmin((admin) => endOffsets(admin, topics));
    expect(counts).toEqual(
      Object.fromEntries(MONGO_TABLES.map((t) => [router.topicFor(t), ops[t].c + ops[t].u + ops[t].d])),
    );
    timings.produceMongo = Date.now() - t0;
  });

  it('stream --until-idle loads every event into the vault on ClickHouse 18.16, no dead letters', async () => {
    const r = await cli(
      'stream',
      [
        'stream',
        '--until-idle',
        '--idle-ms',
        '2000',
        '--postgres-topic-prefix',
        router.prefixes.postgres,
        '--mongo-topic-prefix',
        router.prefixes.mongo,
        '--group',
        group,
        '--dlq-topic',
        dlqTopic,
        '--db-suffix',
        id,
        '--json',
      ],
      170_000,
    );
    expectExit(r, 0, 'stream');
    const out = JSON.parse(r.stdout) as StreamResult;
    expect(out.stoppedBy, tail(r.stderr)).toBe('idle');
    expect(out.dlq.count, JSON.stringify(out.dlq)).toBe(0);
    const loaded = Object.fromEntries(Object.entries(out.topics).map(([t, c]) => [t, c.loaded]));
    const skipped = Object.fromEntries(Object.entries(out.topics).map(([t, c]) => [t, c.skipped]));
    expect(loaded).toEqual(
      Object.fromEntries(
        [...PG_TABLES, ...MONGO_TABLES].map((t) => [router.topicFor(t), ops[t].c + ops[t].u + ops[t].d]),
      ),
    );
    expect(skipped).toEqual(
      Object.fromEntries(
        [...PG_TABLES, ...MONGO_TABLES].map((t) => [
          router.topicFor(t),
          PG_TABLES.includes(t) ? ops[t].d : 0,
        ]),
      ),
    );
    // Committed up to the end of every topic.
    await withAdmin(async (admin) => {
      const topics = router.allTopics();
      const committed = await admin.fetchOffsets({ groupId: group, topics });
      for (const t of topics) {
        for (const e of await admin.fetchTopicOffsets(t)) {
          const c = committed.find((x) => x.topic === t)?.partitions.find((p) => p.partition === e.partition);
          expect(c?.offset, `${t}/${e.partition}`).toBe(e.high);
        }
      }
    });
  });

  it('the marts equal the ground truth computed from the generated changes', async () => {
    const truth = computeMarts(shop.changes);
    const actual = await readMarts(wh, dbs.mart);
    expect(truth.daily_orders.map((d) => d.day)).toEqual(
      Array.from({ length: DAYS }, (_, i) =>
        new Date(Date.parse(START) + i * 86_400_000).toISOString().slice(0, 10),
      ),
    );
    const diffs = compareMarts(actual, truth);
    expect(diffs, JSON.stringify(diffs.slice(0, 20), null, 1)).toEqual([]);
    expect(actual.daily_orders).toEqual(truth.daily_orders);
    expect(actual.daily_sales_by_category).toEqual(truth.daily_sales_by_category);
    expect(actual.product_ratings.length).toBe(truth.product_ratings.length);
  });

  it('password_hash (and clear-text e-mail) exist only in PostgreSQL: no ClickHouse table, no Kafka topic holds them', async () => {
    expect(passwordHashes.length).toBeGreaterThan(ops.users.c - 1);
    const stored = await pgQuery<{ n: string }>(
      sourceUrl,
      'SELECT count(*)::text AS n FROM auth_credentials WHERE password_hash = ANY($1)',
      [passwordHashes],
    );
    expect(Number(stored[0]!.n)).toBeGreaterThan(0); // the hashes are real and in PostgreSQL

    const dumps = await dumpDatabases([dbs.vault, dbs.mart, dbs.ops]);
    expect(dumps.size).toBeGreaterThan(10);
    const hashSet = new Set(passwordHashes);
    for (const [table, text] of dumps) {
      expect(text, table).not.toMatch(BCRYPT);
      for (const token of text.split(/[\t\n]/)) {
        expect(hashSet.has(token), `${table} holds a password hash`).toBe(false);
      }
      for (const e of emails)
        if (text.includes(e)) throw new Error(`${table} holds the clear e-mail address ${e}`);
    }
    const satAuth = dumps.get(`${dbs.vault}.sat_user_auth`);
    expect(satAuth?.length ?? 0, 'the vault has user auth rows').toBeGreaterThan(0);

    const topics = await withAdmin(async (admin) =>
      (await admin.listTopics()).filter(
        (t) =>
          t.startsWith(`${pgPrefix}.`) ||
          t.startsWith(`${mongoPrefix}.`) ||
          t.endsWith(`.${pgPrefix}`) ||
          t === dlqTopic,
      ),
    );
    expect(topics).toEqual(expect.arrayContaining(router.allTopics()));
    const messages = await readAll([...topics, `__debezium-heartbeat.${pgPrefix}`]);
    expect(messages.length).toBeGreaterThan(shop.changes.length);
    for (const m of messages) {
      const text = `${m.key ?? ''}\n${m.value ?? ''}`;
      if (BCRYPT.test(text) || passwordHashes.some((h) => text.includes(h)))
        throw new Error(`${m.topic}/${m.partition}/${m.offset} holds a password hash`);
      expect(text.includes('password_hash'), `${m.topic}/${m.offset}`).toBe(false);
    }
  });

  it('vault check passes with the PostgreSQL and FerretDB sources configured for reconciliation', async () => {
    const r = await cli('vaultCheck', [
      'vault',
      'check',
      '--db-suffix',
      id,
      '--mongo-db',
      mongoDatabase,
      '--format',
      'json',
      '--json',
    ]);
    const parsed = (r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : undefined) as
      CheckReport | { error: { details?: { report?: CheckReport } } } | undefined;
    const report = parsed && 'checks' in parsed ? parsed : parsed?.error.details?.report;
    const failing = (report?.checks ?? [])
      .filter((c) => c.status !== 'pass')
      .map((c) => `${c.id}: ${c.status} ${c.message}`);
    expectExit(r, 0, `vault check (${failing.join('; ')})`);
    const ok = report!;
    expect(ok.ok).toBe(true);
    const status = Object.fromEntries(ok.checks.map((c) => [c.id, c.status]));
    expect(
      status['reconcile-sources'],
      JSON.stringify(ok.checks.find((c) => c.id === 'reconcile-sources')),
    ).toBe('pass');
    expect(status['reconcile-marts']).toBe('pass');
    // Without a lake (none is configured here) only the lake checks may be skipped, and on one
    // server the replica agreement, saying why.
    const skipped = ok.checks.filter((c) => c.status === 'skip').map((c) => c.id);
    expect(
      skipped.every((c) => ['reconcile-lake', 'lost-changes', 'replica-agreement'].includes(c)),
      skipped.join(', '),
    ).toBe(true);
    expect(ok.checks.find((c) => c.id === 'replica-agreement')?.message).toBe(
      'the vault is on one server, not a cluster',
    );
    for (const c of ok.checks.filter((x) => x.severity === 'error' && x.status !== 'skip'))
      expect(c.status, `${c.id}: ${c.message}`).toBe('pass');
    const counts = ok.checks.find((c) => c.id === 'reconcile-sources')!.details!.counts as Array<{
      table: string;
      source: number;
      vault: number;
    }>;
    expect(new Set(counts.map((c) => c.table))).toEqual(new Set([...PG_TABLES, ...MONGO_TABLES]));
    expect(counts.filter((c) => c.table === 'purchases').reduce((n, c) => n + c.source, 0)).toBe(
      ops.purchases.c,
    );
  });

  it('connectors delete --drop-slot removes the connector and its slot; the publication and database go too', async () => {
    const r = await cli('connectorsDelete', [
      'connectors',
      'delete',
      connector,
      '--yes',
      '--drop-slot',
      '--json',
    ]);
    expectExit(r, 0, 'connectors delete');
    expect(JSON.parse(r.stdout)).toEqual({
      connectors: [{ connector, deleted: true, slot: { name: slot, outcome: 'dropped' } }],
    });
    expect((await fetch(`${stack.connectUrl}/connectors/${connector}`)).status).toBe(404);
    expect(
      await pgQuery(adminUrl, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]),
    ).toEqual([]);
    if (!KEEP) {
      await pgQuery(sourceUrl, 'DROP PUBLICATION shopdata_publication');
      await pgQuery(adminUrl, `DROP DATABASE ${pgDatabase} WITH (FORCE)`);
      expect(await pgQuery(adminUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [pgDatabase])).toEqual(
        [],
      );
    }
    // No output of any run shows a password hash.
    for (const { args, result } of runs) {
      expect(result.stdout + result.stderr, args.join(' ')).not.toMatch(BCRYPT);
    }
  });
});
