import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, type Decoded } from '../../../src/lib/debezium/decode.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { deleteTopics, testKafka } from './support.js';

// The decoder against events the real Debezium 3.6.1 PostgreSQL connector emits (the stack's
// Connect worker and PostgreSQL 15), in two configurations: decimal.handling.mode=precise with
// the schema wrapper, and decimal.handling.mode=string without it. Tables live in a private
// schema with a private slot and publication. Covers snapshot reads, inserts, updates, deletes
// and tombstones, a real unchanged-TOAST placeholder, and password_hash being dropped.

const id = uniqueName('dbz');
const schema = id;
const pgUrl = stack.postgresUrl;
const kafka = testKafka();
const BIG = randomBytes(15_000).toString('base64'); // ~20 kB of incompressible text: stored out of line (TOAST)

const us = (iso: string) =>
  Date.parse(iso) * 1000 + Number((/\.(\d{4,6})/.exec(iso)?.[1] ?? '').padEnd(6, '0').slice(3));
const T1 = '2026-11-25T10:00:00.123456Z';
const T2 = '2026-11-25T11:30:00.000001Z';

interface Flavour {
  name: string;
  prefix: string;
  config: Record<string, string>;
}
const flavours: Flavour[] = [
  {
    name: 'precise + schema',
    prefix: `${id}a`,
    config: {
      'decimal.handling.mode': 'precise',
      'key.converter.schemas.enable': 'true',
      'value.converter.schemas.enable': 'true',
    },
  },
  {
    name: 'string, no schema',
    prefix: `${id}b`,
    config: {
      'decimal.handling.mode': 'string',
      'key.converter.schemas.enable': 'false',
      'value.converter.schemas.enable': 'false',
    },
  },
];

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  return c;
}

async function connectRest(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${stack.connectUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok && res.status !== 404) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

function connectorConfig(f: Flavour): Record<string, string> {
  const u = new URL(pgUrl);
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'database.hostname': u.hostname,
    'database.port': u.port,
    'database.user': decodeURIComponent(u.username),
    'database.password': decodeURIComponent(u.password),
    'database.dbname': u.pathname.slice(1),
    'topic.prefix': f.prefix,
    'plugin.name': 'pgoutput',
    'slot.name': f.prefix,
    'slot.drop.on.stop': 'true',
    'publication.name': f.prefix,
    'publication.autocreate.mode': 'filtered',
    'schema.include.list': schema,
    'snapshot.mode': 'initial',
    'tombstones.on.delete': 'true',
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'topic.creation.default.replication.factor': '-1',
    'topic.creation.default.partitions': '1',
    ...f.config,
  };
}

/** Every message of the flavour's topics, in order per topic, until `expected` arrived. */
async function collect(
  f: Flavour,
  expected: number,
): Promise<Array<{ topic: string; key: Buffer | null; value: Buffer | null; offset: string }>> {
  // kafkajs resolves a subscription once: wait until Connect created every table's topic.
  const wanted = ['sellers', 'users', 'products', 'auth_credentials'].map(
    (t) => `${f.prefix}.${schema}.${t}`,
  );
  for (const deadline = Date.now() + 120_000; ;) {
    const admin = kafka.admin();
    await admin.connect();
    const topics = new Set(await admin.listTopics());
    await admin.disconnect();
    if (wanted.every((t) => topics.has(t))) break;
    if (Date.now() > deadline)
      throw new Error(`topics missing: ${wanted.filter((t) => !topics.has(t)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const consumer = kafka.consumer({ groupId: `${f.prefix}-reader` });
  const out: Array<{ topic: string; key: Buffer | null; value: Buffer | null; offset: string }> = [];
  await consumer.connect();
  await consumer.subscribe({ topics: wanted, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, message }) =>
      void out.push({ topic, key: message.key, value: message.value, offset: message.offset }),
  });
  const deadline = Date.now() + 120_000;
  while (out.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 1500));
  await consumer.disconnect();
  return out;
}

describe('decoding real Debezium 3.6 PostgreSQL events', () => {
  let db: pg.Client;

  beforeAll(async () => {
    db = await connect();
    await db.query(`CREATE SCHEMA ${schema}`);
    await db.query(`
      CREATE TABLE ${schema}.sellers (id bigint PRIMARY KEY, name text NOT NULL, country char(2), created_at timestamptz, updated_at timestamptz);
      CREATE TABLE ${schema}.users (id bigint PRIMARY KEY, email text UNIQUE NOT NULL, full_name text, city text, created_at timestamptz, updated_at timestamptz);
      CREATE TABLE ${schema}.auth_credentials (user_id bigint PRIMARY KEY, password_hash text NOT NULL, last_login_at timestamptz, failed_logins int NOT NULL DEFAULT 0, updated_at timestamptz);
      CREATE TABLE ${schema}.products (id bigint PRIMARY KEY, seller_id bigint, sku text UNIQUE NOT NULL, name text, category text NOT NULL, price numeric(12,2) NOT NULL, active boolean NOT NULL DEFAULT true, created_at timestamptz, updated_at timestamptz);
      ALTER TABLE ${schema}.sellers REPLICA IDENTITY FULL;
      ALTER TABLE ${schema}.products REPLICA IDENTITY FULL;
      ALTER TABLE ${schema}.users REPLICA IDENTITY DEFAULT;
    `);
    // Snapshot rows (op r).
    await db.query(`INSERT INTO ${schema}.sellers VALUES (1, $1, 'FR', $2, $2)`, [BIG, T1]);
    await db.query(`INSERT INTO ${schema}.users VALUES (1001, 'anne@example.org', $1, 'Lyon', $2, $2)`, [
      BIG,
      T1,
    ]);
    for (const f of flavours) await connectRest('PUT', `/connectors/${f.prefix}/config`, connectorConfig(f));
    // Wait until both snapshots are out before changing rows.
    for (const f of flavours) {
      for (const deadline = Date.now() + 120_000; ;) {
        const status = (await connectRest('GET', `/connectors/${f.prefix}/status`)) as
          { tasks?: Array<{ state: string; trace?: string }> } | undefined;
        const task = status?.tasks?.[0];
        if (task?.state === 'FAILED')
          throw new Error(`connector ${f.prefix} failed: ${task.trace?.slice(0, 1000)}`);
        const admin = kafka.admin();
        await admin.connect();
        const topics = await admin.listTopics();
        await admin.disconnect();
        if (task?.state === 'RUNNING' && topics.includes(`${f.prefix}.${schema}.users`)) break;
        if (Date.now() > deadline) throw new Error(`connector ${f.prefix} did not start`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await new Promise((r) => setTimeout(r, 3000)); // streaming phase started
    await db.query(
      `INSERT INTO ${schema}.products VALUES (501, 1, 'SKU-501', 'Cups', 'kitchen', 12.50, true, $1, $1)`,
      [T1],
    );
    await db.query(
      `UPDATE ${schema}.products SET price = 19.99, active = false, updated_at = $1 WHERE id = 501`,
      [T2],
    );
    await db.query(`UPDATE ${schema}.users SET city = 'Paris', updated_at = $1 WHERE id = 1001`, [T2]); // full_name unchanged and TOASTed
    await db.query(`UPDATE ${schema}.sellers SET country = 'DE', updated_at = $1 WHERE id = 1`, [T2]);
    await db.query(
      `INSERT INTO ${schema}.auth_credentials VALUES (1001, '$2b$10$secretsecretsecretsecret', $1, 3, $1)`,
      [T2],
    );
    await db.query(`DELETE FROM ${schema}.products WHERE id = 501`);
  }, 300_000);

  afterAll(async () => {
    for (const f of flavours) await connectRest('DELETE', `/connectors/${f.prefix}`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 3000));
    for (const f of flavours) {
      await db
        .query(
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
          [f.prefix],
        )
        .catch(() => undefined);
      await db.query(`DROP PUBLICATION IF EXISTS ${f.prefix}`).catch(() => undefined);
    }
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
    const admin = kafka.admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => flavours.some((f) => t.startsWith(`${f.prefix}.`)));
    await admin.disconnect();
    await deleteTopics(kafka, mine);
  });

  for (const f of flavours) {
    it(`decodes every event (${f.name})`, async () => {
      // 2 snapshot reads, product c/u/d + tombstone, users u, sellers u, auth c = 9 messages
      const messages = await collect(f, 9);
      const router = new TopicRouter({ postgres: `${f.prefix}.${schema}.`, mongo: `${f.prefix}.none.` });
      const decoded = messages.map((m) => ({
        topic: m.topic.slice(router.prefixes.postgres.length),
        d: decodeMessage({ ...m, partition: 0 }, { router }),
      }));
      const changes = (t: string) =>
        decoded
          .filter((x) => x.topic === t && x.d.kind === 'change')
          .map((x) => (x.d as Extract<Decoded, { kind: 'change' }>).change);

      const sellers = changes('sellers');
      expect(sellers.map((c) => c.op)).toEqual(['r', 'u']);
      expect(sellers[0]!.row).toEqual({
        id: 1,
        name: BIG,
        country: 'FR',
        created_at: us(T1),
        updated_at: us(T1),
      });
      expect(sellers[1]!.row).toEqual({
        id: 1,
        name: BIG,
        country: 'DE',
        created_at: us(T1),
        updated_at: us(T2),
      });

      const products = changes('products');
      expect(products.map((c) => c.op)).toEqual(['c', 'u', 'd']);
      const p = {
        id: 501,
        seller_id: 1,
        sku: 'SKU-501',
        name: 'Cups',
        category: 'kitchen',
        price: '12.50',
        active: true,
        created_at: us(T1),
        updated_at: us(T1),
      };
      expect(products[0]!.row).toEqual(p);
      expect(products[1]!.row).toEqual({ ...p, price: '19.99', active: false, updated_at: us(T2) });
      expect(products[2]!.row).toEqual({ ...p, price: '19.99', active: false, updated_at: us(T2) });
      expect(decoded.filter((x) => x.topic === 'products' && x.d.kind === 'skip')).toHaveLength(1); // the tombstone

      // REPLICA IDENTITY DEFAULT + unchanged TOASTed full_name: Debezium sends the placeholder.
      const users = decoded.filter((x) => x.topic === 'users');
      expect(users.map((x) => x.d.kind)).toEqual(['change', 'reject']);
      expect((users[0]!.d as Extract<Decoded, { kind: 'change' }>).change.row).toEqual({
        id: 1001,
        email: 'anne@example.org',
        full_name: BIG,
        city: 'Lyon',
        created_at: us(T1),
        updated_at: us(T1),
      });
      const reject = users[1]!.d as Extract<Decoded, { kind: 'reject' }>;
      expect(reject.error.reason).toBe('toast-unavailable');
      expect(reject.error.message).toContain('REPLICA IDENTITY FULL');

      const auth = changes('auth_credentials');
      expect(auth).toHaveLength(1);
      expect(auth[0]!.row).toEqual({
        user_id: 1001,
        last_login_at: us(T2),
        failed_logins: 3,
        updated_at: us(T2),
      });
      expect(JSON.stringify(decoded)).not.toContain('secretsecret');

      // Commit times come from source.ts_us: recent and ordered within a table.
      for (const c of [...products, sellers[1]!])
        expect(Math.abs(c.commitTsUs / 1000 - Date.now())).toBeLessThan(10 * 60_000);
      expect(products[0]!.commitTsUs).toBeLessThanOrEqual(products[1]!.commitTsUs);
    }, 180_000);
  }
});
