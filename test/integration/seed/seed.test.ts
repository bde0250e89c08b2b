import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import bcrypt from 'bcryptjs';
import { Decimal128, Long, type Document } from 'mongodb';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT, stack } from '../../helpers/stack.js';
import { createTestSources, type TestSources } from './sources.js';
import { generateShop, applyChanges, countOps } from '../../../src/lib/shop/generator.js';
import { computeMarts } from '../../../src/lib/shop/ground-truth.js';
import { seedHistory } from '../../../src/lib/shop/seed.js';
import { InterruptedError } from '../../../src/lib/errors/index.js';
import type { CanonicalRow, SourceChange } from '../../../src/lib/vault/types.js';

// Integration: the real PostgreSQL and FerretDB of the local stack (scripts/stack/up postgres ferretdb).
const SHOP = { seed: 42, days: 3, start: '2026-11-01' } as const;
const expected = generateShop(SHOP);
const finalState = applyChanges(expected.changes);

function seedArgs(s: TestSources, extra: string[] = []): string[] {
  return [
    'seed',
    '--days',
    String(SHOP.days),
    '--seed',
    String(SHOP.seed),
    '--start',
    SHOP.start,
    '--pg-schema',
    s.schema,
    '--mongo-db',
    s.mongoDatabase,
    '--json',
    ...extra,
  ];
}
const env = {
  SHOPDATA_POSTGRES_URL: stack.postgresUrl,
  SHOPDATA_MONGO_URL: stack.mongoUrl,
  SHOPDATA_LOG_LEVEL: 'info',
};

/** PostgreSQL rows in canonical form, read with plain SQL (µs timestamps, numeric as text). */
async function pgRows(
  s: TestSources,
  table: string,
  cols: Record<string, 'int' | 'ts' | 'text' | 'bool'>,
): Promise<CanonicalRow[]> {
  const select = Object.entries(cols).map(([c, t]) =>
    t === 'ts'
      ? `(extract(epoch FROM ${c}) * 1000000)::bigint::text AS ${c}`
      : t === 'int'
        ? `${c}::text AS ${c}`
        : c,
  );
  const r = await s.pg.query(`SELECT ${select.join(', ')} FROM ${s.schema}.${table}`);
  const key = Object.keys(cols)[0]!;
  const rows = r.rows.map((row: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(cols).map(([c, t]) => [
        c,
        row[c] === null ? null : t === 'int' || t === 'ts' ? Number(row[c]) : (row[c] as string),
      ]),
    ),
  );
  return rows.sort((a, b) => byKey(a[key], b[key]));
}

const num = (v: unknown) => (v instanceof Long ? v.toNumber() : (v as number));
const dec = (v: unknown) => (v instanceof Decimal128 ? v.toString() : (v as string));

/** MongoDB documents in canonical form (µs timestamps, decimals as strings, ObjectId as hex). */
async function mongoRows(s: TestSources, collection: string): Promise<CanonicalRow[]> {
  const docs = await s.mongo.db(s.mongoDatabase).collection(collection).find({}).sort({ _id: 1 }).toArray();
  const rows = docs.map((d: Document) => {
    const out: CanonicalRow = { _id: d._id.toHexString() };
    for (const [k, v] of Object.entries(d)) {
      if (k === '_id') continue;
      if (k === 'ts') out.ts = (v as Date).getTime() * 1000;
      else if (k === 'items')
        out.items = (v as Document[]).map((i) => ({
          product_id: num(i.product_id),
          qty: num(i.qty),
          unit_price: dec(i.unit_price),
        }));
      else out[k] = typeof v === 'object' ? num(v) : (v as string | number);
    }
    if (collection === 'ratings' && !('comment' in out)) out.comment = null;
    return out;
  });
  return rows.sort((a, b) => byKey(a._id, b._id));
}

function byKey(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function sortedState(table: keyof typeof finalState): CanonicalRow[] {
  const rows = [...finalState[table].values()];
  const key =
    table === 'auth_credentials'
      ? 'user_id'
      : table === 'purchases' || table === 'cancellations' || table === 'ratings'
        ? '_id'
        : 'id';
  return rows.sort((a, b) => byKey(a[key], b[key]));
}

const PG_COLS = {
  sellers: { id: 'int', name: 'text', country: 'text', created_at: 'ts', updated_at: 'ts' },
  users: { id: 'int', email: 'text', full_name: 'text', city: 'text', created_at: 'ts', updated_at: 'ts' },
  auth_credentials: {
    user_id: 'int',
    password_hash: 'text',
    last_login_at: 'ts',
    failed_logins: 'int',
    updated_at: 'ts',
  },
  products: {
    id: 'int',
    seller_id: 'int',
    sku: 'text',
    name: 'text',
    category: 'text',
    price: 'text',
    active: 'bool',
    created_at: 'ts',
    updated_at: 'ts',
  },
} as const;

describe('shopdata seed --days 3 --seed 42 into a private schema and database', () => {
  let s: TestSources;
  let result: Record<string, unknown>;

  beforeAll(async () => {
    s = await createTestSources('seed');
    const r = await runCli(seedArgs(s), { env });
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    result = JSON.parse(r.stdout) as Record<string, unknown>;
  });
  afterAll(async () => s?.drop());

  it('reports what it wrote', () => {
    expect(result).toMatchObject({
      mode: 'history',
      seed: 42,
      start: '2026-11-01',
      end: '2026-11-03',
      complete: true,
      resumedFrom: 0,
    });
    expect(result.written).toBe(expected.changes.length);
    expect((result.tables as Record<string, { c: number }>).purchases!.c).toBe(finalState.purchases.size);
    expect(result.eventsPerSecond).toBeGreaterThan(0);
  });

  it('PostgreSQL holds exactly the generator final state (every row, every column)', async () => {
    for (const [table, cols] of Object.entries(PG_COLS)) {
      const rows = await pgRows(s, table, cols);
      expect(rows.length, table).toBe(finalState[table as keyof typeof finalState].size);
      expect(rows, table).toEqual(sortedState(table as keyof typeof finalState));
    }
  });

  it('MongoDB holds exactly the generated events (long ids, int qty, dates in ms)', async () => {
    for (const c of ['purchases', 'cancellations', 'ratings'] as const) {
      const rows = await mongoRows(s, c);
      expect(rows.length, c).toBe(finalState[c].size);
      expect(rows, c).toEqual(sortedState(c));
    }
    const doc = await s.mongo
      .db(s.mongoDatabase)
      .collection('purchases')
      .findOne({}, { promoteLongs: false });
    expect(doc!.user_id).toBeInstanceOf(Long);
    expect(doc!.items[0].product_id).toBeInstanceOf(Long);
    expect(doc!.ts).toBeInstanceOf(Date);
  });

  it('password_hash values are bcrypt hashes of cost 4', async () => {
    const r = await s.pg.query<{ password_hash: string }>(
      `SELECT password_hash FROM ${s.schema}.auth_credentials`,
    );
    expect(r.rows.length).toBeGreaterThan(100);
    for (const { password_hash } of r.rows) {
      expect(password_hash).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53}$/);
      expect(bcrypt.getRounds(password_hash)).toBe(4);
    }
  });

  it('marts computed by SQL from the source rows equal the generator ground truth', async () => {
    // Load the MongoDB events into the test schema so one SQL statement per mart can read them.
    const db = s.mongo.db(s.mongoDatabase);
    const items: unknown[][] = [[], [], [], [], [], []];
    for (const p of await db.collection('purchases').find({}).toArray()) {
      for (const i of p.items as Document[]) {
        items[0]!.push(p._id.toHexString());
        items[1]!.push(num(p.user_id));
        items[2]!.push((p.ts as Date).toISOString());
        items[3]!.push(num(i.product_id));
        items[4]!.push(num(i.qty));
        items[5]!.push(dec(i.unit_price));
      }
    }
    await s.pg.query(
      `CREATE TABLE ${s.schema}.t_items AS SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::int[], $6::numeric[])
      AS x(purchase_id, user_id, ts, product_id, qty, unit_price)`,
      items,
    );
    const canc = await db.collection('cancellations').find({}).toArray();
    await s.pg.query(
      `CREATE TABLE ${s.schema}.t_cancellations AS SELECT * FROM unnest($1::text[], $2::timestamptz[]) AS x(id, ts)`,
      [canc.map((c) => c._id.toHexString()), canc.map((c) => (c.ts as Date).toISOString())],
    );
    const rat = await db.collection('ratings').find({}).toArray();
    await s.pg.query(
      `CREATE TABLE ${s.schema}.t_ratings AS SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[], $5::timestamptz[]) AS x(id, user_id, product_id, stars, ts)`,
      [
        rat.map((r) => r._id.toHexString()),
        rat.map((r) => num(r.user_id)),
        rat.map((r) => num(r.product_id)),
        rat.map((r) => num(r.stars)),
        rat.map((r) => (r.ts as Date).toISOString()),
      ],
    );
    const sch = s.schema;
    const dailyOrders = await s.pg.query(`
      WITH o AS (
        SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(DISTINCT purchase_id)::int AS orders,
               count(DISTINCT user_id)::int AS buyers, sum(qty)::int AS units, sum(qty * unit_price)::numeric(18,2)::text AS gross_revenue
        FROM ${sch}.t_items GROUP BY 1),
      c AS (SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS cancellations FROM ${sch}.t_cancellations GROUP BY 1)
      SELECT coalesce(o.day, c.day) AS day, coalesce(orders, 0) AS orders, coalesce(buyers, 0) AS buyers, coalesce(units, 0) AS units,
             coalesce(gross_revenue, '0.00') AS gross_revenue, coalesce(cancellations, 0) AS cancellations
      FROM o FULL JOIN c ON o.day = c.day ORDER BY 1`);
    const ratings = await s.pg.query(`
      SELECT product_id::int, count(*)::int AS ratings, avg(stars)::float8 AS avg_stars FROM (
        SELECT DISTINCT ON (user_id, product_id) product_id, stars FROM ${sch}.t_ratings ORDER BY user_id, product_id, ts DESC, id DESC) l
      GROUP BY product_id ORDER BY product_id`);
    // Deleted products are gone from the source table, so their category is only in the change
    // history; compare the category mart over the items of products that still exist.
    const byCategory = await s.pg.query(`
      SELECT to_char(i.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, p.category, count(DISTINCT i.purchase_id)::int AS orders,
             sum(i.qty)::int AS units, sum(i.qty * i.unit_price)::numeric(18,2)::text AS gross_revenue
      FROM ${sch}.t_items i JOIN ${sch}.products p ON p.id = i.product_id GROUP BY 1, 2 ORDER BY 1, 2`);

    const truth = computeMarts(expected.changes);
    expect(dailyOrders.rows).toEqual(truth.daily_orders);
    expect(ratings.rows.length).toBe(truth.product_ratings.length);
    ratings.rows.forEach((r: { product_id: number; ratings: number; avg_stars: number }, k) => {
      const t = truth.product_ratings[k]!;
      expect([r.product_id, r.ratings]).toEqual([t.product_id, t.ratings]);
      expect(r.avg_stars).toBeCloseTo(t.avg_stars, 12);
    });
    const alive = new Set([...finalState.products.keys()].map(Number));
    const withoutDeleted: SourceChange[] = expected.changes.flatMap((c) => {
      if (c.table !== 'purchases') return [c];
      const kept = (c.row.items as CanonicalRow[]).filter((i) => alive.has(i.product_id as number));
      return kept.length > 0 ? [{ ...c, row: { ...c.row, items: kept } }] : [];
    });
    expect(alive.size).toBeLessThan(
      new Set(expected.changes.filter((c) => c.table === 'products').map((c) => c.row.id)).size,
    );
    expect(byCategory.rows).toEqual(computeMarts(withoutDeleted).daily_sales_by_category);
  });

  it('a second identical run writes nothing (already complete)', async () => {
    const r = await runCli(seedArgs(s), { env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { written: number; resumedFrom: number };
    expect(out.written).toBe(0);
    expect(out.resumedFrom).toBe(expected.changes.length);
    const n = await s.mongo.db(s.mongoDatabase).collection('purchases').countDocuments();
    expect(n).toBe(finalState.purchases.size);
  });

  it('refuses (exit 2) to write another shop over this one without --truncate, and --truncate starts over', async () => {
    const other = seedArgs(s).map((a) => (a === '42' ? '43' : a));
    const refused = await runCli(other, { env });
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.message).toMatch(/already holds shop data/);
    expect(Number((await s.pg.query(`SELECT count(*) FROM ${s.schema}.users`)).rows[0].count)).toBe(
      finalState.users.size,
    );
    const ok = await runCli([...other, '--truncate'], { env });
    expect(ok.code).toBe(0);
    const seed43 = applyChanges(generateShop({ ...SHOP, seed: 43 }).changes);
    expect(Number((await s.pg.query(`SELECT count(*) FROM ${s.schema}.users`)).rows[0].count)).toBe(
      seed43.users.size,
    );
    expect(await s.mongo.db(s.mongoDatabase).collection('ratings').countDocuments()).toBe(
      seed43.ratings.size,
    );
  });
});

describe('seed resume', () => {
  it('an interrupted run continues without duplicates, even when MongoDB lagged behind PostgreSQL', async () => {
    const s = await createTestSources('seedres');
    try {
      const target = {
        postgresUrl: stack.postgresUrl,
        pgSchema: s.schema,
        mongoUrl: stack.mongoUrl,
        mongoDatabase: s.mongoDatabase,
      };
      const stop = new AbortController();
      let batches = 0;
      const first = seedHistory({
        shop: SHOP,
        target,
        batchSize: 300,
        signal: stop.signal,
        onProgress: () => {
          if (++batches === 2) stop.abort();
        },
      });
      await expect(first).rejects.toBeInstanceOf(InterruptedError);
      const state = await s.pg.query(
        `SELECT pg_position::int AS pg, mongo_position::int AS mongo FROM ${s.schema}.shopdata_seed_state`,
      );
      expect(state.rows).toEqual([{ pg: 600, mongo: 600 }]);
      const partial = applyChanges(expected.changes.slice(0, 600));
      expect(Number((await s.pg.query(`SELECT count(*) FROM ${s.schema}.users`)).rows[0].count)).toBe(
        partial.users.size,
      );
      expect(await s.mongo.db(s.mongoDatabase).collection('purchases').countDocuments()).toBe(
        partial.purchases.size,
      );

      // As if the process died after committing PostgreSQL but before MongoDB recorded its part.
      await s.pg.query(`UPDATE ${s.schema}.shopdata_seed_state SET mongo_position = 0`);
      const resumed = await seedHistory({ shop: SHOP, target, batchSize: 300 });
      expect(resumed.resumedFrom).toBe(0);
      expect(resumed.written).toBe(
        expected.changes.length -
          600 +
          partial.purchases.size +
          partial.cancellations.size +
          partial.ratings.size,
      );
      for (const c of ['purchases', 'cancellations', 'ratings'] as const) {
        expect(await s.mongo.db(s.mongoDatabase).collection(c).countDocuments(), c).toBe(finalState[c].size);
      }
      for (const t of ['sellers', 'users', 'auth_credentials', 'products'] as const) {
        expect(Number((await s.pg.query(`SELECT count(*) FROM ${s.schema}.${t}`)).rows[0].count), t).toBe(
          finalState[t].size,
        );
      }
      const prices = await s.pg.query<{ id: string; price: string }>(
        `SELECT id, price::text FROM ${s.schema}.products ORDER BY id`,
      );
      expect(prices.rows.map((r) => [Number(r.id), r.price])).toEqual(
        sortedState('products').map((p) => [p.id, p.price]),
      );
    } finally {
      await s.drop();
    }
  });

  it('a longer run of the same shop extends a finished shorter one', async () => {
    const s = await createTestSources('seedext');
    try {
      const target = {
        postgresUrl: stack.postgresUrl,
        pgSchema: s.schema,
        mongoUrl: stack.mongoUrl,
        mongoDatabase: s.mongoDatabase,
      };
      const two = await seedHistory({ shop: { ...SHOP, days: 2 }, target });
      const three = await seedHistory({ shop: SHOP, target });
      expect(three.resumedFrom).toBe(two.total);
      expect(two.written + three.written).toBe(expected.changes.length);
      expect(await s.mongo.db(s.mongoDatabase).collection('ratings').countDocuments()).toBe(
        finalState.ratings.size,
      );
      const rows = await pgRows(s, 'products', PG_COLS.products);
      expect(rows).toEqual(sortedState('products'));
    } finally {
      await s.drop();
    }
  });

  it('SIGINT stops the CLI cleanly (exit 130) and the same command continues the run', async () => {
    const s = await createTestSources('seedint');
    try {
      const args = seedArgs(s, ['--batch-size', '25']);
      const child = spawn(process.execPath, [`${REPO_ROOT}bin/run.js`, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const code = await new Promise<number | null>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          // The first progress line comes after the first committed batch.
          if (/seed: \d+\/\d+ events/.test(stderr) && !child.killed) child.kill('SIGINT');
        });
        child.on('close', (c) => resolve(c));
      });
      expect(code).toBe(130);
      expect(JSON.parse(stdout).error.code).toBe('INTERRUPTED');
      const pos = Number(
        (await s.pg.query(`SELECT pg_position FROM ${s.schema}.shopdata_seed_state`)).rows[0].pg_position,
      );
      expect(pos).toBeGreaterThan(0);
      expect(pos).toBeLessThan(expected.changes.length);
      expect(pos % 25).toBe(0);

      const r = await runCli(args, { env });
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { resumedFrom: number; written: number };
      expect(out.resumedFrom).toBe(pos);
      expect(out.written).toBe(expected.changes.length - pos);
      expect(await s.mongo.db(s.mongoDatabase).collection('purchases').countDocuments()).toBe(
        finalState.purchases.size,
      );
      expect(
        Number((await s.pg.query(`SELECT count(*) FROM ${s.schema}.auth_credentials`)).rows[0].count),
      ).toBe(finalState.auth_credentials.size);
    } finally {
      await s.drop();
    }
  });
});

describe('seed --rate (live)', () => {
  it('continues the seeded shop at about the given rate with fresh ids and current prices', async () => {
    const s = await createTestSources('seedlive');
    try {
      const hist = await runCli(seedArgs(s), { env });
      expect(hist.code).toBe(0);
      const r = await runCli(
        [
          'seed',
          '--rate',
          '150',
          '--duration',
          '3s',
          '--pg-schema',
          s.schema,
          '--mongo-db',
          s.mongoDatabase,
          '--json',
        ],
        { env },
      );
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as {
        mode: string;
        written: number;
        eventsPerSecond: number;
        tables: Record<string, { c: number; u: number; d: number }>;
      };
      expect(out.mode).toBe('live');
      expect(out.written).toBeGreaterThanOrEqual(400);
      expect(out.written).toBeLessThanOrEqual(520);
      const db = s.mongo.db(s.mongoDatabase);
      const purchases = await db.collection('purchases').countDocuments();
      expect(purchases).toBe(finalState.purchases.size + out.tables.purchases!.c);
      // New orders continue the order numbers and are stamped now.
      const newest = await db.collection('purchases').find({}).sort({ order_id: -1 }).limit(1).toArray();
      expect(newest[0]!.order_id).toBe(
        `ORD-${String(finalState.purchases.size + out.tables.purchases!.c).padStart(8, '0')}`,
      );
      expect(Date.now() - (newest[0]!.ts as Date).getTime()).toBeLessThan(60_000);
      // Every live purchase refers to users and products of the shop.
      const live = await db
        .collection('purchases')
        .find({ ts: { $gte: new Date(Date.now() - 120_000) } })
        .toArray();
      const users = new Set(
        (await s.pg.query(`SELECT id::int FROM ${s.schema}.users`)).rows.map((x: { id: number }) => x.id),
      );
      const maxProduct = Number(
        (await s.pg.query(`SELECT max(id) AS m FROM ${s.schema}.products`)).rows[0].m,
      );
      for (const p of live) {
        for (const i of p.items as Document[]) expect(num(i.product_id)).toBeLessThanOrEqual(maxProduct);
        if (!users.has(num(p.user_id))) expect(out.tables.users!.d).toBeGreaterThan(0);
      }
      // Items are sold at the product's price of the moment: for products not changed since the
      // purchase, the price paid is today's price.
      const products = new Map(
        (
          await s.pg.query<{ id: number; price: string; updated_ms: string }>(
            `SELECT id::int, price::text, (extract(epoch FROM updated_at) * 1000)::bigint::text AS updated_ms FROM ${s.schema}.products`,
          )
        ).rows.map((r) => [r.id, r]),
      );
      let compared = 0;
      for (const p of live) {
        for (const i of p.items as Document[]) {
          const product = products.get(num(i.product_id));
          // A price change stamped in the same millisecond as the purchase cannot be ordered against it.
          if (!product || Number(product.updated_ms) >= (p.ts as Date).getTime()) continue;
          expect(dec(i.unit_price)).toBe(product.price);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(50);
    } finally {
      await s.drop();
    }
  });
});

describe('seed produces real row changes in the WAL', () => {
  it('logical decoding sees one INSERT/UPDATE/DELETE per generated c/u/d change', async () => {
    const s = await createTestSources('seedwal');
    const slot = `${s.schema}_slot`;
    await s.pg.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [slot]);
    try {
      const r = await runCli(seedArgs(s, ['--batch-size', '500']), { env });
      expect(r.code).toBe(0);
      // The stack runs with synchronous_commit = off and decoding reads only flushed WAL: wait
      // until the WAL writer has flushed past the seed's last commit.
      const written = (await s.pg.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))
        .rows[0]!.lsn;
      for (let i = 0; i < 100; i++) {
        const r = await s.pg.query<{ ok: boolean }>('SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok', [
          written,
        ]);
        if (r.rows[0]!.ok) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const wal = await s.pg.query<{ data: string }>(
        `SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)`,
        [slot],
      );
      const seen: Record<string, { c: number; u: number; d: number }> = {};
      const opOf = { INSERT: 'c', UPDATE: 'u', DELETE: 'd' } as const;
      for (const { data } of wal.rows) {
        const m = /^table ([^.]+)\.([a-z_]+): (INSERT|UPDATE|DELETE):/.exec(data);
        if (!m || m[1] !== s.schema || m[2] === 'shopdata_seed_state') continue;
        const counts = (seen[m[2]!] ??= { c: 0, u: 0, d: 0 });
        counts[opOf[m[3] as keyof typeof opOf]]++;
      }
      const ops = countOps(expected.changes);
      for (const t of ['sellers', 'users', 'auth_credentials', 'products'] as const)
        expect(seen[t], t).toEqual(ops[t]);
    } finally {
      await s.pg.query(`SELECT pg_drop_replication_slot($1)`, [slot]).catch(() => undefined);
      await s.drop();
    }
  });
});

describe('seed errors', () => {
  it('exits 3 when PostgreSQL or MongoDB is unreachable', async () => {
    const pgDown = await runCli(
      ['seed', '--days', '1', '--json', '--postgres-url', 'postgres://shopdata:shopdata@127.0.0.1:1/shop'],
      { env },
    );
    expect(pgDown.code).toBe(3);
    expect(JSON.parse(pgDown.stdout).error.message).toMatch(
      /PostgreSQL at postgres:\/\/shopdata:\*\*\*@127\.0\.0\.1:1\/shop is unreachable/,
    );
    const mongoDown = await runCli(
      ['seed', '--days', '1', '--json', '--mongo-url', 'mongodb://127.0.0.1:1/x'],
      {
        env,
        timeoutMs: 60_000,
      },
    );
    expect(mongoDown.code).toBe(3);
    expect(JSON.parse(mongoDown.stdout).error.message).toMatch(
      /MongoDB at mongodb:\/\/127\.0\.0\.1:1\/x is unreachable/,
    );
  });

  it('exits 2 without a configured source, for a bad --start, and for a missing schema', async () => {
    const noPg = await runCli(['seed', '--days', '1', '--json'], {
      env: { SHOPDATA_POSTGRES_URL: '', SHOPDATA_MONGO_URL: stack.mongoUrl },
    });
    expect(noPg.code).toBe(2);
    expect(JSON.parse(noPg.stdout).error.hint).toMatch(/SHOPDATA_POSTGRES_URL/);
    const badDate = await runCli(['seed', '--start', '2026-02-30', '--json'], { env });
    expect(badDate.code).toBe(2);
    const noSchema = await runCli(['seed', '--days', '1', '--pg-schema', 'no_such_schema_x', '--json'], {
      env,
    });
    expect(noSchema.code).toBe(2);
    expect(JSON.parse(noSchema.stdout).error.hint).toMatch(/shop\.sql/);
  });

  it('--dry-run prints the plan and connects to nothing', async () => {
    const r = await runCli(
      ['seed', '--days', '2', '--seed', '5', '--start', '2026-11-01', '--dry-run', '--json'],
      {
        env: {
          SHOPDATA_POSTGRES_URL: 'postgres://x:y@127.0.0.1:1/shop',
          SHOPDATA_MONGO_URL: 'mongodb://127.0.0.1:1/x',
        },
      },
    );
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as {
      dryRun: boolean;
      total: number;
      tables: Record<string, { c: number }>;
    };
    const g = generateShop({ seed: 5, days: 2, start: '2026-11-01' });
    expect(plan.dryRun).toBe(true);
    expect(plan.total).toBe(g.changes.length);
    expect(plan.tables.purchases!.c).toBe(g.changes.filter((c) => c.table === 'purchases').length);
  });
});
