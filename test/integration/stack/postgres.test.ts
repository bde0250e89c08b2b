import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stack, uniqueName } from '../../helpers/stack.js';

// Needs scripts/stack/up postgres: the stack's own cluster with the contract's schema (docs/CONTRACT.md §4).
describe('stack: postgres', () => {
  const client = new pg.Client({ connectionString: stack.postgresUrl });
  beforeAll(async () => {
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });

  it('is PostgreSQL 15 with logical decoding and room for replication slots', async () => {
    const settings = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings
        WHERE name IN ('server_version_num', 'wal_level', 'max_replication_slots', 'max_wal_senders', 'listen_addresses')`,
    );
    const s = Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]));
    expect(s.wal_level).toBe('logical');
    expect(Math.floor(Number(s.server_version_num) / 10000)).toBe(15);
    expect(Number(s.max_replication_slots)).toBeGreaterThanOrEqual(10);
    expect(Number(s.max_wal_senders)).toBeGreaterThanOrEqual(10);
    expect(s.listen_addresses).toBe('127.0.0.1');
  });

  it('has the four source tables of the contract, owned by shopdata', async () => {
    const res = await client.query<{ table_name: string; owner: string; replident: string }>(
      `SELECT c.relname AS table_name, pg_get_userbyid(c.relowner) AS owner, c.relreplident AS replident
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND c.relname IN ('sellers', 'users', 'auth_credentials', 'products') ORDER BY 1`,
    );
    expect(res.rows.map((r) => r.table_name)).toEqual(['auth_credentials', 'products', 'sellers', 'users']);
    expect(new Set(res.rows.map((r) => r.owner))).toEqual(new Set(['shopdata']));
    // FULL everywhere except auth_credentials (see templates/postgres/shop.sql).
    expect(Object.fromEntries(res.rows.map((r) => [r.table_name, r.replident]))).toEqual({
      auth_credentials: 'd',
      products: 'f',
      sellers: 'f',
      users: 'f',
    });
  });

  it('publishes every source column except password_hash', async () => {
    const res = await client.query<{ tablename: string; attnames: string[] }>(
      `SELECT tablename, attnames::text[] AS attnames FROM pg_publication_tables WHERE pubname = 'shopdata_publication' ORDER BY 1`,
    );
    expect(res.rows.map((r) => r.tablename)).toEqual(['auth_credentials', 'products', 'sellers', 'users']);
    const auth = res.rows.find((r) => r.tablename === 'auth_credentials');
    expect(auth?.attnames).toEqual(['user_id', 'last_login_at', 'failed_logins', 'updated_at']);
  });

  it('accepts a row shaped like the contract (rolled back)', async () => {
    await client.query('BEGIN');
    try {
      const id = 9_000_000_000 + Math.floor(Math.random() * 1_000_000);
      await client.query(
        `INSERT INTO sellers (id, name, country, created_at) VALUES ($1, 'Probe', 'DE', now())`,
        [id],
      );
      await client.query(
        `INSERT INTO products (id, seller_id, sku, name, category, price) VALUES ($1, $1, $2, 'Probe', 'toys', 12.5)`,
        [id, uniqueName('sku')],
      );
      const row = await client.query<{ price: string; active: boolean }>(
        'SELECT price, active FROM products WHERE id = $1',
        [id],
      );
      expect(row.rows[0]).toEqual({ price: '12.50', active: true });
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('lets shopdata create and drop a pgoutput logical replication slot', async () => {
    const slot = uniqueName('probe_slot');
    const created = await client.query<{ slot_name: string }>(
      `SELECT slot_name FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
      [slot],
    );
    try {
      expect(created.rows[0]?.slot_name).toBe(slot);
    } finally {
      await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    }
  });
});
