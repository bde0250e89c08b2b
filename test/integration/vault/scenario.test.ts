import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { dialectFor, type Dialect } from '../../../src/lib/warehouse/dialect.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import {
  mapChanges,
  insertRowSet,
  VAULT_TABLES,
  SATELLITES,
  HUBS,
  type SourceChange,
  type VaultDatabases,
  type SatelliteName,
  type HubName,
} from '../../../src/lib/vault/index.js';
import { satelliteHashdiffSql, hubHashKeySql } from '../../../src/lib/vault/sql.js';
import { ENGINES, openEngine, uniqueDatabases, dropDatabases } from './engines.js';

// A scripted shop history loaded through mapChanges + insertRowSet on both engines: creates,
// updates, A→B→A, deletes, out-of-order arrival and re-delivery. The expected vault and marts
// below are worked out by hand from the script (comments show the arithmetic), not by the code.

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex').toUpperCase();
const us = (day: number, h: number, m = 0, s = 0, micro = 0) =>
  Date.UTC(2026, 10, day, h, m, s) * 1000 + micro;
const D1 = 20;
const D2 = 21;
const D3 = 22;
const SALT = '234f2ada91304b8a8b7f776bc673ab11d31bff1eb0c038c0a62e2e0509b2471f';
const PASSWORD_HASH = '$2b$10$PWHASHabcdefghijklmnopqrstuv';
const EMAILS = ['ann.lee@example.com', 'bob.ray@example.org'];
const NAMES = ['Ann Lee', 'Bob Ray'];

function c(
  table: SourceChange['table'],
  op: SourceChange['op'],
  commitTsUs: number,
  row: Record<string, unknown>,
): SourceChange {
  return { table, op, commitTsUs, row: row as SourceChange['row'] };
}
const item = (product_id: number, qty: number, unit_price: string) => ({ product_id, qty, unit_price });

const X = us(D1, 6); // u1's updated_at stays the same through A→B→A, so rows 1 and 3 carry the same payload
const SCRIPT: SourceChange[] = [
  c('sellers', 'c', us(D1, 6), {
    id: 1,
    name: 'Acme',
    country: 'FR',
    created_at: us(D1, 6),
    updated_at: us(D1, 6),
  }),
  c('users', 'c', us(D1, 7), {
    id: 1,
    email: EMAILS[0],
    full_name: NAMES[0],
    city: 'Paris',
    created_at: X,
    updated_at: X,
  }),
  c('auth_credentials', 'c', us(D1, 7, 1), {
    user_id: 1,
    password_hash: PASSWORD_HASH,
    last_login_at: null,
    failed_logins: 0,
    updated_at: us(D1, 7, 1),
  }),
  c('users', 'u', us(D1, 7, 10), {
    id: 1,
    email: EMAILS[0],
    full_name: NAMES[0],
    city: 'Lyon',
    created_at: X,
    updated_at: X,
  }),
  c('users', 'u', us(D1, 7, 20), {
    id: 1,
    email: EMAILS[0],
    full_name: NAMES[0],
    city: 'Paris',
    created_at: X,
    updated_at: X,
  }),
  c('users', 'c', us(D1, 7, 30), {
    id: 2,
    email: EMAILS[1],
    full_name: NAMES[1],
    city: 'Oslo',
    created_at: us(D1, 7, 30),
    updated_at: us(D1, 7, 30),
  }),
  c('products', 'c', us(D1, 8), {
    id: 1,
    seller_id: 1,
    sku: 'P-1',
    name: 'Lamp',
    category: 'home',
    price: '10.00',
    active: true,
    created_at: us(D1, 8),
    updated_at: us(D1, 8),
  }),
  c('products', 'c', us(D1, 8, 0, 1), {
    id: 2,
    seller_id: 1,
    sku: 'P-2',
    name: 'Yo-yo',
    category: 'toys',
    price: '2.50',
    active: true,
    created_at: us(D1, 8),
    updated_at: us(D1, 8),
  }),
  c('products', 'c', us(D1, 8, 0, 2), {
    id: 3,
    seller_id: null,
    sku: 'P-3',
    name: 'Novel',
    category: 'books',
    price: '1.25',
    active: true,
    created_at: us(D1, 8),
    updated_at: us(D1, 8),
  }),
  // o1: u1, D1: 2 × 10.00 + 1 × 2.50 = 22.50, 3 units
  c('purchases', 'c', us(D1, 10, 0, 1), {
    _id: 'm1',
    order_id: 'o-1',
    user_id: 1,
    ts: us(D1, 10),
    items: [item(1, 2, '10.00'), item(2, 1, '2.50')],
  }),
  c('ratings', 'c', us(D1, 12, 0, 1), {
    _id: 'r1',
    user_id: 1,
    product_id: 1,
    stars: 5,
    comment: 'great',
    ts: us(D1, 12),
  }),
  c('ratings', 'c', us(D1, 13, 0, 1), {
    _id: 'r3',
    user_id: 2,
    product_id: 1,
    stars: 4,
    comment: null,
    ts: us(D1, 13),
  }),
  c('ratings', 'c', us(D1, 14, 0, 1), {
    _id: 'r4',
    user_id: 2,
    product_id: 2,
    stars: 2,
    comment: 'meh',
    ts: us(D1, 14),
  }),
  // o2: u2, ts the last µs of D1, committed on D2: counts on D1; 1 × 10.00
  c('purchases', 'c', us(D2, 0, 0, 1), {
    _id: 'm2',
    order_id: 'o-2',
    user_id: 2,
    ts: us(D1, 23, 59, 59, 999_999),
    items: [item(1, 1, '10.00')],
  }),
  c('cancellations', 'c', us(D2, 9, 0, 1), {
    _id: 'k1',
    order_id: 'o-1',
    user_id: 1,
    reason: 'changed mind',
    ts: us(D2, 9),
  }),
  // o3: u1, D2: 4 × 1.25 + 1 × 2.50 = 7.50, 5 units
  c('purchases', 'c', us(D2, 12, 0, 1), {
    _id: 'm3',
    order_id: 'o-3',
    user_id: 1,
    ts: us(D2, 12),
    items: [item(3, 4, '1.25'), item(2, 1, '2.50')],
  }),
  c('ratings', 'c', us(D2, 12, 0, 2), {
    _id: 'r2',
    user_id: 1,
    product_id: 1,
    stars: 3,
    comment: 'ok',
    ts: us(D2, 12),
  }),
  // o4: placed then deleted: does not count
  c('purchases', 'c', us(D2, 13, 0, 1), {
    _id: 'm4',
    order_id: 'o-4',
    user_id: 1,
    ts: us(D2, 13),
    items: [item(2, 10, '2.50')],
  }),
  c('purchases', 'd', us(D2, 14), { _id: 'm4', order_id: 'o-4' }),
  // o5: placed with 1 unit, then corrected to 3 × 2.50 = 7.50 (same line)
  c('purchases', 'c', us(D2, 15, 0, 1), {
    _id: 'm5',
    order_id: 'o-5',
    user_id: 2,
    ts: us(D2, 15),
    items: [item(2, 1, '2.50')],
  }),
  c('purchases', 'u', us(D2, 15, 30), {
    _id: 'm5',
    order_id: 'o-5',
    user_id: 2,
    ts: us(D2, 15),
    items: [item(2, 3, '2.50')],
  }),
  c('ratings', 'd', us(D2, 16), { _id: 'r4', user_id: 2, product_id: 2 }),
  c('cancellations', 'c', us(D3, 8, 0, 1), {
    _id: 'k2',
    order_id: 'o-2',
    user_id: 2,
    reason: 'late',
    ts: us(D3, 8),
  }),
  // p1 moves to 'garden' after its sales: the marts use the latest known category
  c('products', 'u', us(D3, 9), {
    id: 1,
    seller_id: 1,
    sku: 'P-1',
    name: 'Lamp',
    category: 'garden',
    price: '10.00',
    active: true,
    created_at: us(D1, 8),
    updated_at: us(D3, 9),
  }),
  c('products', 'd', us(D3, 10), { id: 3 }),
  c('users', 'd', us(D3, 11), { id: 2 }),
];

const EXPECTED_FINAL_COUNTS: Record<string, number> = {
  hub_user: 2,
  hub_seller: 1,
  hub_product: 3,
  hub_order: 5,
  link_product_seller: 2, // p1–s1, p2–s1 (p3 has no seller)
  link_order_user: 5, // o1..o5 (cancellations repeat o1–u1 and o2–u2)
  link_order_line: 7, // o1: 2, o2: 1, o3: 2, o4: 1, o5: 1 (both versions share the line)
  link_rating: 3, // u1–p1, u2–p1, u2–p2
  sat_user: 5, // u1: Paris, Lyon, Paris; u2: create, delete
  sat_user_auth: 1,
  sat_seller: 1,
  sat_product: 5, // p1: 2, p2: 1, p3: create + delete
  sat_order: 9, // placed: o1, o2, o3, o4, o4 deleted, o5, o5 corrected; cancelled: o1, o2
  sat_order_line: 8, // o1: 2, o2: 1, o3: 2, o4: 1, o5: 2 versions
  sat_rating: 5, // r1, r2, r3, r4, r4 deleted
};

const day = (d: number) => `2026-11-${d}`;
const EXPECTED_DAILY_ORDERS = [
  // D1: o1 (22.50, 3 units, u1) + o2 (10.00, 1 unit, u2)
  { day: day(D1), orders: 2, buyers: 2, units: 4, gross_revenue: 32.5, cancellations: 0 },
  // D2: o3 (7.50, 5 units, u1) + o5 corrected (7.50, 3 units, u2); o4 deleted; cancellation k1
  { day: day(D2), orders: 2, buyers: 2, units: 8, gross_revenue: 15, cancellations: 1 },
  // D3: only cancellation k2
  { day: day(D3), orders: 0, buyers: 0, units: 0, gross_revenue: 0, cancellations: 1 },
];
const EXPECTED_SALES_BY_CATEGORY = [
  { day: day(D1), category: 'garden', orders: 2, units: 3, gross_revenue: 30 }, // o1 2 × 10 + o2 1 × 10
  { day: day(D1), category: 'toys', orders: 1, units: 1, gross_revenue: 2.5 }, // o1 1 × 2.50
  { day: day(D2), category: 'books', orders: 1, units: 4, gross_revenue: 5 }, // o3 4 × 1.25 (p3 deleted later: latest known category)
  { day: day(D2), category: 'toys', orders: 2, units: 4, gross_revenue: 10 }, // o3 1 × 2.50 + o5 3 × 2.50
];
// p1: u1's later rating (3) replaces 5; u2 gave 4 → 2 ratings, 3.5. p2: u2's only rating was deleted.
const EXPECTED_PRODUCT_RATINGS = [{ product_id: 1, ratings: 2, avg_stars: 3.5 }];

for (const engine of ENGINES) {
  describe(`vault scenario on ${engine.name}`, () => {
    let wh: Warehouse;
    let d: Dialect;
    let dbs: VaultDatabases;
    const load = async (changes: SourceChange[], loadTs: Date) =>
      insertRowSet(wh, mapChanges(changes, { piiSalt: SALT, loadTs }), dbs, {
        audit: { command: 'test', runId: loadTs.toISOString() },
      });

    const finalCounts = async () => {
      const out: Record<string, number> = {};
      for (const t of VAULT_TABLES) {
        const r = await wh.query<{ n: string }>(`SELECT count() AS n FROM ${dbs.vault}.${t.name} FINAL`);
        out[t.name] = Number(r[0]!.n);
      }
      return out;
    };
    const marts = async () => ({
      dailyOrders: (
        await wh.query<Record<string, unknown>>(`SELECT * FROM ${dbs.mart}.daily_orders ORDER BY day`)
      ).map((r) => ({
        day: String(r.day),
        orders: Number(r.orders),
        buyers: Number(r.buyers),
        units: Number(r.units),
        gross_revenue: Number(r.gross_revenue),
        cancellations: Number(r.cancellations),
      })),
      sales: (
        await wh.query<Record<string, unknown>>(
          `SELECT * FROM ${dbs.mart}.daily_sales_by_category ORDER BY day, category`,
        )
      ).map((r) => ({
        day: String(r.day),
        category: String(r.category),
        orders: Number(r.orders),
        units: Number(r.units),
        gross_revenue: Number(r.gross_revenue),
      })),
      ratings: (
        await wh.query<Record<string, unknown>>(
          `SELECT * FROM ${dbs.mart}.product_ratings ORDER BY product_id`,
        )
      ).map((r) => ({
        product_id: Number(r.product_id),
        ratings: Number(r.ratings),
        avg_stars: Number(r.avg_stars),
      })),
    });

    beforeAll(async () => {
      wh = await openEngine(engine.url());
      d = dialectFor(await wh.version());
      dbs = uniqueDatabases('scn');
      await migrate(wh, { dbs });
      expect((await migrate(wh, { dbs })).applied).toEqual([]); // second run is a no-op
      // out of order: the second half arrives first, in reverse, with one change twice in the batch
      const half = Math.floor(SCRIPT.length / 2);
      const late = SCRIPT.slice(half).reverse();
      await load([...late, late[0]!], new Date('2026-11-23T00:00:00Z'));
      await load(SCRIPT.slice(0, half), new Date('2026-11-23T00:05:00Z'));
    });
    afterAll(async () => {
      await dropDatabases(wh, dbs);
      await wh.close();
    });

    it('holds the expected rows per vault table', async () => {
      expect(await finalCounts()).toEqual(EXPECTED_FINAL_COUNTS);
    });

    it('keys hubs by the documented MD5 of the normalised business key', async () => {
      const u = await wh.query<{ hk_user: string; user_id: string }>(
        `SELECT hk_user, user_id FROM ${dbs.vault}.hub_user FINAL ORDER BY user_id`,
      );
      expect(u).toEqual([
        { hk_user: md5('1'), user_id: '1' },
        { hk_user: md5('2'), user_id: '2' },
      ]);
      const o = await wh.query<{ hk_order: string }>(
        `SELECT hk_order FROM ${dbs.vault}.hub_order FINAL WHERE order_id = 'o-3'`,
      );
      expect(o[0]!.hk_order).toBe(md5('O-3'));
      // the hub keeps the earliest sighting: u1 first seen in users at D1 07:00
      const first = await wh.query<{ first_seen_us: string; record_source: string }>(
        `SELECT first_seen_us, record_source FROM ${dbs.vault}.hub_user FINAL WHERE user_id = 1`,
      );
      expect(first).toEqual([{ first_seen_us: String(us(D1, 7)), record_source: 'shop.public.users' }]);
    });

    it('keeps A→B→A as three rows and marks deletes', async () => {
      const rows = await wh.query<{ city: string; hashdiff: string; is_deleted: number }>(
        `SELECT city, hashdiff, is_deleted FROM ${dbs.vault}.sat_user FINAL WHERE hk_user = '${md5('1')}' ORDER BY effective_us`,
      );
      expect(rows.map((r) => r.city)).toEqual(['Paris', 'Lyon', 'Paris']);
      expect(rows[0]!.hashdiff).toBe(rows[2]!.hashdiff);
      expect(rows[0]!.hashdiff).not.toBe(rows[1]!.hashdiff);
      const u2 = await wh.query<{ is_deleted: number; city: string | null }>(
        `SELECT is_deleted, city FROM ${dbs.vault}.sat_user FINAL WHERE hk_user = '${md5('2')}' ORDER BY effective_us`,
      );
      expect(u2.map((r) => [Number(r.is_deleted), r.city])).toEqual([
        [0, 'Oslo'],
        [1, null],
      ]);
    });

    it('records each load in ops.loads', async () => {
      const r = await wh.query<{ rows: string; min_us: string; max_us: string }>(
        `SELECT sum(rows) AS rows, min(min_effective_us) AS min_us, max(max_effective_us) AS max_us
         FROM ${dbs.ops}.loads WHERE vault_table = 'sat_user' AND run_id = '2026-11-23T00:05:00.000Z'`,
      );
      // the first half of the script holds u1's three versions and u2's creation
      expect(r[0]).toEqual({ rows: '4', min_us: String(us(D1, 7)), max_us: String(us(D1, 7, 30)) });
    });

    it('partitions satellites by the commit day', async () => {
      const parts = await wh.query<{ partition: string }>(
        `SELECT DISTINCT partition FROM system.parts WHERE database = '${dbs.vault}' AND table = 'sat_order' AND active ORDER BY partition`,
      );
      expect(parts.map((p) => p.partition)).toEqual(['20261120', '20261121', '20261122']);
    });

    it('stores hashdiffs and hash keys that ClickHouse recomputes bit for bit', async () => {
      for (const sat of Object.keys(SATELLITES) as SatelliteName[]) {
        const r = await wh.query<{ bad: string; n: string }>(
          `SELECT countIf(hashdiff != ${satelliteHashdiffSql(sat, d)}) AS bad, count() AS n FROM ${dbs.vault}.${sat}`,
        );
        expect({ sat, bad: Number(r[0]!.bad) }).toEqual({ sat, bad: 0 });
        expect(Number(r[0]!.n)).toBeGreaterThan(0);
      }
      for (const hub of Object.keys(HUBS) as HubName[]) {
        const h = HUBS[hub];
        const r = await wh.query<{ bad: string }>(
          `SELECT countIf(${h.hk} != ${hubHashKeySql(hub, d)}) AS bad FROM ${dbs.vault}.${h.table}`,
        );
        expect({ hub, bad: Number(r[0]!.bad) }).toEqual({ hub, bad: 0 });
      }
    });

    it('computes the marts', async () => {
      const m = await marts();
      expect(m.dailyOrders).toEqual(EXPECTED_DAILY_ORDERS);
      expect(m.sales).toEqual(EXPECTED_SALES_BY_CATEGORY);
      expect(m.ratings).toEqual(EXPECTED_PRODUCT_RATINGS);
    });

    it('collapses a re-delivery of every change: no new visible row, same marts', async () => {
      await load(SCRIPT, new Date('2026-11-24T00:00:00Z'));
      await load(SCRIPT.slice(3, 9), new Date('2026-11-24T00:01:00Z'));
      expect(await finalCounts()).toEqual(EXPECTED_FINAL_COUNTS);
      const m = await marts();
      expect(m.dailyOrders).toEqual(EXPECTED_DAILY_ORDERS);
      expect(m.sales).toEqual(EXPECTED_SALES_BY_CATEGORY);
      expect(m.ratings).toEqual(EXPECTED_PRODUCT_RATINGS);
    });

    it('never stores the password hash or clear-text e-mail addresses and names, in any table', async () => {
      const tables = await wh.query<{ database: string; name: string }>(
        `SELECT database, name FROM system.tables WHERE database IN ('${dbs.vault}', '${dbs.mart}', '${dbs.ops}')`,
      );
      expect(tables.length).toBeGreaterThan(VAULT_TABLES.length);
      const needles = [PASSWORD_HASH, 'PWHASH', ...EMAILS, ...NAMES].map((s) => s.toLowerCase());
      let scanned = 0;
      for (const t of tables) {
        const rows = await wh.query(`SELECT * FROM ${t.database}.${t.name}`);
        const text = JSON.stringify(rows).toLowerCase();
        scanned += rows.length;
        for (const n of needles)
          expect({ table: `${t.database}.${t.name}`, found: text.includes(n) }).toEqual({
            table: `${t.database}.${t.name}`,
            found: false,
          });
      }
      expect(scanned).toBeGreaterThan(40);
      // and the pseudonyms are there: the HMAC-SHA-256 (keyed with the salt) of u1's normalised e-mail
      const sha = createHmac('sha256', SALT).update(EMAILS[0]!, 'utf8').digest('hex').toUpperCase();
      const r = await wh.query<{ n: string }>(
        `SELECT count() AS n FROM ${dbs.vault}.sat_user WHERE email_sha256 = '${sha}'`,
      );
      expect(Number(r[0]!.n)).toBeGreaterThanOrEqual(3);
    });
  });
}
