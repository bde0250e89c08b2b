import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { DEFAULT_DATABASES } from '../../../src/lib/vault/tables.js';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { runBackfill } from '../../../src/lib/backfill/run.js';
import { UsageError } from '../../../src/lib/errors/index.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import { mapChanges, insertRowSet, MART_VIEWS_LIST } from './bi-helpers.js';
import { startPrivateClickHouse, type PrivateClickHouse } from './bi-user-server.js';
import { chdbUrl } from './engines.js';
import { REPO_ROOT, uniqueName } from '../../helpers/stack.js';
import { runCli } from '../../helpers/cli.js';
import { sampleChanges, DAY1 } from '../../fixtures/lake/changes.js';
import { repoTmpDir, removeTmpDirs } from '../lake/helpers.js';

// Issue 18 §11 (and §6 on 18.16): the read-only BI user that `shopdata warehouse bi-user` renders
// from templates/clickhouse/, installed into a private ClickHouse 18.16 server (users.d changes
// must not touch the stack's shared server), and its SQL variant for ClickHouse >= 24.3.
const dbs = DEFAULT_DATABASES; // a private server: the contract's own database names
const T = Date.UTC(2026, 10, 20, 10) * 1000;

interface Rendered {
  config: string;
  generatedPassword?: string;
  databases: string[];
}
async function render(args: string[], env: Record<string, string> = {}): Promise<Rendered> {
  const r = await runCli(['warehouse', 'bi-user', '--json', ...args], {
    env: { SHOPDATA_BI_PASSWORD: '', SHOPDATA_BI_ALLOW_FROM: '', ...env },
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Rendered;
}

async function loginAs(ch: PrivateClickHouse, user: string, password: string): Promise<Warehouse> {
  // the server re-reads users.d every few seconds
  for (let i = 0; ; i++) {
    try {
      return await openWarehouse(`http://${user}:${encodeURIComponent(password)}@127.0.0.1:${ch.httpPort}`, {
        retries: 0,
      });
    } catch (err) {
      if (i > 80) throw err;
      await sleep(250);
    }
  }
}

describe('BI user on ClickHouse 18.16 (users.d rendered by `warehouse bi-user --format xml`)', () => {
  let ch: PrivateClickHouse;
  let admin: Warehouse;
  let bi: Warehouse;
  let rendered: Rendered;
  let far: Rendered;

  beforeAll(async () => {
    ch = await startPrivateClickHouse();
    admin = await openWarehouse(ch.adminUrl);
    await migrate(admin, { dbs });
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
        {
          piiSalt: '09e356d379cfdb97b112529d66cf9d51d0a71b661dfc418af81a98d70ab37587',
          loadTs: new Date(T / 1000),
        },
      ),
      dbs,
    );
    rendered = await render(['--format', 'xml']);
    ch.installUsers('shopdata-bi.xml', rendered.config);
    // A second BI user that may log in only from a documentation network (not loopback).
    far = await render(['--format', 'xml', '--user', 'bi_far', '--allow-from', '192.0.2.0/24'], {
      SHOPDATA_BI_PASSWORD: 'far-password-0123456789',
    });
    ch.installUsers('bi-far.xml', far.config);
    bi = await loginAs(ch, 'shopdata_bi', rendered.generatedPassword!);
  });

  afterAll(async () => {
    await bi?.close();
    await admin?.close();
    await ch?.stop();
    removeTmpDirs();
  });

  it('has no default password: the template holds placeholders, the rendered file only the SHA-256 of a generated one', () => {
    const template = readFileSync(join(REPO_ROOT, 'templates/clickhouse/users.d/shopdata-bi.xml.in'), 'utf8');
    expect(template).toContain('<password_sha256_hex>{{PASSWORD_SHA256_HEX}}</password_sha256_hex>');
    expect(template).not.toMatch(/<password>/);
    const pw = rendered.generatedPassword!;
    expect(pw.length).toBeGreaterThanOrEqual(24);
    expect(rendered.config).not.toContain(pw);
    expect(rendered.config).not.toMatch(/<password>/);
    expect(rendered.config).toContain(
      `<password_sha256_hex>${createHash('sha256').update(pw).digest('hex')}</password_sha256_hex>`,
    );
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

  it('cannot raise max_execution_time or max_memory_usage, nor write anywhere', async () => {
    await expect(bi.query('SELECT 1 AS x', { max_execution_time: 3600 })).rejects.toThrow(/readonly/i);
    await expect(bi.query('SELECT 1 AS x', { max_memory_usage: 40_000_000_000 })).rejects.toThrow(
      /readonly/i,
    );
    await expect(bi.query('SELECT 1 AS x SETTINGS max_execution_time = 3600')).rejects.toThrow(/readonly/i);
    await expect(bi.exec('SET max_memory_usage = 40000000000')).rejects.toThrow(/readonly/i);
    const s = await bi.query<{ name: string; value: string }>(
      `SELECT name, value FROM system.settings WHERE name IN ('readonly', 'max_execution_time', 'max_memory_usage') ORDER BY name`,
    );
    expect(s).toEqual([
      { name: 'max_execution_time', value: '300' },
      { name: 'max_memory_usage', value: '4000000000' },
      { name: 'readonly', value: '1' },
    ]);
    for (const sql of [
      `INSERT INTO ${dbs.vault}.hub_user (hk_user, user_id) VALUES ('00000000000000000000000000000001', 1)`,
      `INSERT INTO ${dbs.ops}.loads (command) VALUES ('x')`,
      `CREATE TABLE ${dbs.mart}.evil (x UInt8) ENGINE = Memory`,
      `DROP TABLE ${dbs.mart}.daily_orders`,
      `CREATE DATABASE evil_${uniqueName('x')}`,
    ]) {
      await expect(bi.exec(sql), sql).rejects.toThrow(/readonly/i);
    }
  });

  it('cannot read ops or other databases; the vault behind the views stays readable on 18.16 (views run with the reader’s rights)', async () => {
    await expect(bi.query(`SELECT * FROM ${dbs.ops}.schema_migrations`)).rejects.toThrow(
      /Access denied to database/,
    );
    await expect(bi.query('SELECT * FROM default.nonexistent')).rejects.toThrow(
      /Access denied to database default/,
    );
    // What 18.16 cannot do, pinned so the docs stay true (docs/SECURITY.md).
    expect(rendered.databases).toEqual([dbs.mart, dbs.vault]);
    const hub = await bi.query(`SELECT count() AS n FROM ${dbs.vault}.hub_product`);
    expect(Number((hub[0] as { n: string }).n)).toBe(1);
  });

  it('logs in only from the allowed addresses (IPv4 networks written so that 18.16 applies them)', async () => {
    expect(far.config).toContain('<ip>::ffff:192.0.2.0/120</ip>');
    // Wait until the server has loaded bi_far: a wrong password is then refused as such.
    for (let i = 0; ; i++) {
      const r = await fetch(`http://127.0.0.1:${ch.httpPort}/?user=bi_far&password=wrong`, {
        method: 'POST',
        body: 'SELECT 1',
      });
      const text = await r.text();
      if (!/Unknown user/.test(text)) break;
      if (i > 80) throw new Error(text);
      await sleep(250);
    }
    await expect(
      openWarehouse(`http://bi_far:far-password-0123456789@127.0.0.1:${ch.httpPort}`, { retries: 0 }),
    ).rejects.toThrow(/not allowed to connect from address 127\.0\.0\.1/);
  });

  it('a backfill puts no salt into system.query_log, which every user can read on 18.16', async () => {
    const salt = `query-log-salt-${uniqueName('s')}`;
    const io = openLake(repoTmpDir('bi1816'));
    try {
      const changes = sampleChanges(12, 5);
      for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'parquet' });
      // Pull is refused on 18.16 before anything is sent; auto picks push (the salt stays in Node).
      await expect(
        runBackfill({ wh: admin, io, dbs, days: [DAY1], format: 'parquet', mode: 'pull', piiSalt: salt }),
      ).rejects.toBeInstanceOf(UsageError);
      const res = await runBackfill({
        wh: admin,
        io,
        dbs,
        days: [DAY1],
        format: 'parquet',
        mode: 'auto',
        piiSalt: salt,
      });
      expect(res.days[0]!.mode).toBe('push');
    } finally {
      io.close();
    }
    await admin.exec('SYSTEM FLUSH LOGS');
    const [log] = await admin.query<{ all: string; backfill: string; salted: string }>(
      `SELECT count() AS all, countIf(query LIKE '%backfill_%') AS backfill, countIf(position(query, '${salt}') > 0) AS salted FROM system.query_log`,
    );
    expect(Number(log!.backfill)).toBeGreaterThan(10);
    expect(Number(log!.salted)).toBe(0);
    // The BI user reads the writer's queries there too: nothing secret may ever be in SQL text.
    const seen = await bi.query<{ n: string }>(
      `SELECT count() AS n FROM system.query_log WHERE user = 'default' AND query LIKE '%backfill_%'`,
    );
    expect(Number(seen[0]!.n)).toBeGreaterThan(10);
  });
});

describe('BI user for ClickHouse >= 24.3 (`warehouse bi-user --format sql`)', () => {
  it('grants SELECT on mart only, pins the two limits, stores only a SHA-256 and a host list; parses as ClickHouse SQL', async () => {
    const r = await render(['--format', 'sql', '--allow-from', '10.1.2.0/24', '--allow-from', '::1']);
    const statements = r.config
      .split('\n')
      .filter((l) => !l.startsWith('--'))
      .join('\n')
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean);
    const all = statements.join('\n');
    expect(statements.filter((s) => s.startsWith('GRANT SELECT'))).toEqual([
      'GRANT SELECT ON mart.* TO shopdata_bi_role',
    ]);
    expect(all).not.toMatch(/vault|ops\./);
    expect(all).toContain('max_execution_time = 300 MAX 300');
    expect(all).toContain('max_memory_usage = 4000000000 MAX 4000000000');
    expect(all).toContain(
      `IDENTIFIED WITH sha256_hash BY '${createHash('sha256').update(r.generatedPassword!).digest('hex')}'`,
    );
    expect(all).toContain("HOST IP '10.1.2.0/24', IP '::1'");
    expect(all).not.toContain(r.generatedPassword!);
    // chDB has no access control to run them; its parser checks them (formatQuery).
    const wh = await openWarehouse(chdbUrl());
    try {
      for (const s of statements) {
        const f = await wh.query<{ f: string }>(
          `SELECT formatQuery('${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}') AS f`,
        );
        expect(f[0]!.f.length).toBeGreaterThan(10);
      }
      // The mart views it relies on run with their creator's rights on these servers.
      const own = {
        vault: `vault_${uniqueName('d')}`,
        mart: `mart_${uniqueName('d')}`,
        ops: `ops_${uniqueName('d')}`,
      };
      await migrate(wh, { dbs: own });
      for (const view of MART_VIEWS_LIST) {
        const [c] = await wh.query<{ statement: string }>(`SHOW CREATE TABLE ${own.mart}.${view}`);
        expect(c!.statement, view).toMatch(/SQL SECURITY DEFINER/);
      }
      for (const db of Object.values(own)) await wh.exec(`DROP DATABASE IF EXISTS ${db}`);
    } finally {
      await wh.close();
    }
  });

  it('refuses a weak given password and a bad network with exit 2', async () => {
    const weak = await runCli(['warehouse', 'bi-user'], {
      env: { SHOPDATA_BI_PASSWORD: 'short', SHOPDATA_BI_ALLOW_FROM: '' },
    });
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/at least 16 characters/);
    expect(weak.stdout + weak.stderr).not.toContain('short"');
    const net = await runCli(['warehouse', 'bi-user', '--allow-from', '10.0.0.0/99'], {
      env: { SHOPDATA_BI_ALLOW_FROM: '' },
    });
    expect(net.code).toBe(2);
    expect(net.stderr).toMatch(/not an IP address or network/);
  });
});
