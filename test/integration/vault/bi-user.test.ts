import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync, rmSync, chownSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { mapChanges, insertRowSet, MART_VIEWS_LIST, type VaultDatabases } from './bi-helpers.js';
import { stack, STACK_DIR, REPO_ROOT, uniqueName, ports } from '../../helpers/stack.js';
import { chdbUrl, dropDatabases } from './engines.js';

// The read-only BI user of templates/clickhouse/users.d/shopdata-bi.xml on the stack's 18.16
// server. The template is installed under a unique user name, for this test's unique databases,
// into the server's users.d (which the server reloads by itself), then removed.
const TEMPLATE = join(REPO_ROOT, 'templates/clickhouse/users.d/shopdata-bi.xml');
const USERS_D = join(STACK_DIR, 'clickhouse/etc/users.d');

describe('read-only BI user on ClickHouse 18.16 (users.d template)', () => {
  const suffix = uniqueName('bi');
  const dbs: VaultDatabases = { vault: `vault_${suffix}`, mart: `mart_${suffix}`, ops: `ops_${suffix}` };
  const user = `bi_${suffix}`;
  const file = join(USERS_D, `zz-${suffix}.xml`);
  let admin: Warehouse;
  let bi: Warehouse;

  beforeAll(async () => {
    admin = await openWarehouse(stack.clickhouseUrl);
    await migrate(admin, { dbs });
    const T = Date.UTC(2026, 10, 20, 10) * 1000;
    await insertRowSet(
      admin,
      mapChanges(
        [
          {
            table: 'products',
            op: 'c',
            commitTsUs: T,
            row: { id: 1, seller_id: 1, sku: 'S', name: 'N', category: 'home', price: '4.00', active: true },
          },
          {
            table: 'purchases',
            op: 'c',
            commitTsUs: T,
            row: {
              _id: 'a',
              order_id: 'o-1',
              user_id: 1,
              ts: T,
              items: [{ product_id: 1, qty: 2, unit_price: '4.00' }],
            },
          },
          {
            table: 'ratings',
            op: 'c',
            commitTsUs: T,
            row: { _id: 'r', user_id: 1, product_id: 1, stars: 4, ts: T },
          },
        ],
        { piiSalt: 'bi-test-salt', loadTs: new Date() },
      ),
      dbs,
    );
    const xml = readFileSync(TEMPLATE, 'utf8')
      .replaceAll('<database>mart</database>', `<database>${dbs.mart}</database>`)
      .replaceAll('<database>vault</database>', `<database>${dbs.vault}</database>`)
      .replaceAll('shopdata_bi', user);
    expect(xml).toContain(`<allow_databases>`);
    writeFileSync(file, xml);
    const owner = statSync(USERS_D);
    chownSync(file, owner.uid, owner.gid);
    // the server re-reads users.d every few seconds (openWarehouse asks for the version at once)
    for (let i = 0; ; i++) {
      try {
        bi = await openWarehouse(`http://${user}:shopdata-bi@127.0.0.1:${ports.CH_HTTP_PORT}`, {
          retries: 0,
        });
        break;
      } catch (err) {
        if (i > 60) throw err;
        await sleep(500);
      }
    }
  });

  afterAll(async () => {
    rmSync(file, { force: true });
    await bi?.close();
    await dropDatabases(admin, dbs);
    await admin.close();
  });

  it('reads every mart view', async () => {
    for (const view of MART_VIEWS_LIST) {
      const rows = await bi.query(`SELECT * FROM ${dbs.mart}.${view}`);
      expect({ view, n: rows.length }).toEqual({ view, n: 1 });
    }
    const [orders] = await bi.query<{ orders: string; gross_revenue: number | string }>(
      `SELECT * FROM ${dbs.mart}.daily_orders`,
    );
    expect(Number(orders!.orders)).toBe(1);
    expect(Number(orders!.gross_revenue)).toBe(8);
  });

  it('cannot write anywhere', async () => {
    for (const sql of [
      `INSERT INTO ${dbs.vault}.hub_user (hk_user, user_id) VALUES ('00000000000000000000000000000001', 1)`,
      `INSERT INTO ${dbs.ops}.loads (command) VALUES ('x')`,
      `CREATE TABLE ${dbs.mart}.evil (x UInt8) ENGINE = Memory`,
      `DROP TABLE ${dbs.mart}.daily_orders`,
      `CREATE DATABASE evil_${suffix}`,
    ]) {
      await expect(bi.exec(sql), sql).rejects.toThrow(/readonly/i);
    }
    await expect(bi.exec('SET readonly = 0')).rejects.toThrow(/readonly/);
    const n = await admin.query<{ n: string }>(
      `SELECT count() AS n FROM ${dbs.vault}.hub_user WHERE user_id = 1 AND hk_user = '00000000000000000000000000000001'`,
    );
    expect(Number(n[0]!.n)).toBe(0);
  });

  it('cannot read ops or any other database', async () => {
    await expect(bi.query(`SELECT * FROM ${dbs.ops}.schema_migrations`)).rejects.toThrow(
      /Access denied to database/,
    );
    await expect(bi.query(`SELECT * FROM default.nonexistent_${suffix}`)).rejects.toThrow(
      /Access denied to database default/,
    );
  });
});

describe('read-only BI user for ClickHouse >= 20.4 (SQL template)', () => {
  it('parses as ClickHouse SQL (chDB 26 formatQuery; chDB has no access control to run it)', async () => {
    const sql = readFileSync(join(REPO_ROOT, 'templates/clickhouse/sql/shopdata-bi.sql'), 'utf8');
    const statements = sql
      .split('\n')
      .filter((l) => !l.startsWith('--'))
      .join('\n')
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean);
    expect(statements.length).toBeGreaterThanOrEqual(6);
    expect(statements.join('\n')).toMatch(/GRANT SELECT ON mart\.\* TO shopdata_bi_role/);
    expect(statements.join('\n')).not.toMatch(/ON ops\./);
    const wh = await openWarehouse(chdbUrl());
    try {
      for (const s of statements) {
        const r = await wh.query<{ f: string }>(
          `SELECT formatQuery('${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}') AS f`,
        );
        expect(r[0]!.f.length).toBeGreaterThan(10);
      }
    } finally {
      await wh.close();
    }
  });
});
