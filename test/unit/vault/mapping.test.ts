import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import {
  mapChange,
  mapChanges,
  mergeRowSets,
  rowSetSize,
  MappingError,
  ModelError,
  compileFeeds,
  VAULT_TABLES,
  FEEDS,
  SOURCE_TABLES,
  type SourceChange,
  type MappingContext,
  type Feed,
} from '../../../src/lib/vault/index.js';

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex').toUpperCase();
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex').toUpperCase();
const SALT = 'b532ce84c597664681ebf2abf6f76d9fddbd3d045dcda50197d4638eda1503a5';
const ctx = (loadTs = new Date('2026-11-25T12:00:00Z')): MappingContext => ({ piiSalt: SALT, loadTs });
const T = 1_763_640_000_000_000; // 2025-11-20T12:00:00Z in µs

const user = (over: Partial<SourceChange> = {}, row: Record<string, unknown> = {}): SourceChange => ({
  table: 'users',
  op: 'c',
  commitTsUs: T,
  row: {
    id: 7,
    email: ' Ann@Example.com ',
    full_name: 'Ann Lee',
    city: 'Paris',
    created_at: T - 5,
    updated_at: T - 5,
    ...row,
  } as never,
  ...over,
});

describe('mapChange', () => {
  it('maps a user to its hub and satellite with salted hashes only', () => {
    const rs = mapChange(user(), ctx());
    const hub = rs.get('hub_user')!;
    expect(hub).toEqual([
      {
        hk_user: md5('7'),
        user_id: 7,
        first_seen_us: T,
        ver: Number.MAX_SAFE_INTEGER - T,
        load_ts: Date.UTC(2026, 10, 25, 12) / 1000,
        record_source: 'shop.public.users',
      },
    ]);
    const [sat] = rs.get('sat_user')!;
    expect(sat).toMatchObject({
      hk_user: md5('7'),
      effective_us: T,
      effective_ts: Math.floor(T / 1e6),
      is_deleted: 0,
      email_sha256: sha256(`${SALT}||ann@example.com`),
      full_name_sha256: sha256(`${SALT}||Ann Lee`),
      city: 'Paris',
      created_at_us: T - 5,
    });
    const text = JSON.stringify([...rs.values()]);
    expect(text).not.toMatch(/ann@example|Ann Lee/i);
    expect(sat!.hashdiff).toBe(
      md5(
        [
          sha256(`${SALT}||ann@example.com`),
          sha256(`${SALT}||Ann Lee`),
          'Paris',
          String(T - 5),
          String(T - 5),
        ].join('||'),
      ),
    );
  });

  it('drops password_hash even when a decoder lets it through', () => {
    const rs = mapChange(
      {
        table: 'auth_credentials',
        op: 'u',
        commitTsUs: T,
        row: {
          user_id: 7,
          password_hash: '$2b$10$SECRETSECRET',
          last_login_at: T,
          failed_logins: 2,
          updated_at: T,
        },
      },
      ctx(),
    );
    expect(JSON.stringify([...rs.values()])).not.toContain('SECRETSECRET');
    expect(rs.get('sat_user_auth')![0]).toMatchObject({ failed_logins: 2, last_login_at_us: T });
  });

  it('gives identical rows for the same change except load_ts (stream vs backfill)', () => {
    const a = mapChange(user(), ctx(new Date('2026-01-01T00:00:00Z')));
    const b = mapChange(
      { ...user(), origin: 'lake:iceberg/users/x.parquet' },
      ctx(new Date('2027-06-01T00:00:00Z')),
    );
    const strip = (rs: Map<string, Record<string, unknown>[]>) =>
      [...rs.entries()].map(([t, rows]) => [t, rows.map(({ load_ts: _l, ...r }) => r)]);
    expect(strip(a)).toEqual(strip(b));
    expect(a.get('sat_user')![0]!.load_ts).not.toBe(b.get('sat_user')![0]!.load_ts);
  });

  it('marks deletes on the satellite (is_deleted = 1) from a key-only row', () => {
    const rs = mapChange({ table: 'users', op: 'd', commitTsUs: T + 1, row: { id: 7 } }, ctx());
    expect(rs.get('sat_user')![0]).toMatchObject({
      hk_user: md5('7'),
      is_deleted: 1,
      city: null,
      email_sha256: null,
    });
  });

  it('refuses a change without its key (MappingError, exit 1)', () => {
    expect(() => mapChange({ table: 'users', op: 'd', commitTsUs: T, row: { email: 'x@y' } }, ctx())).toThrow(
      MappingError,
    );
    expect(() => mapChange({ table: 'ratings', op: 'd', commitTsUs: T, row: { _id: 'abc' } }, ctx())).toThrow(
      /lacks key column "user_id"/,
    );
    expect(() => mapChange({ ...user(), commitTsUs: 1.5 }, ctx())).toThrow(/commitTsUs/);
  });

  it('explodes purchase items into lines with exact totals', () => {
    const rs = mapChange(
      {
        table: 'purchases',
        op: 'c',
        commitTsUs: T,
        row: {
          _id: '65a0c0ffee',
          order_id: 'o-1',
          user_id: 7,
          ts: T - 10,
          items: [
            { product_id: 1, qty: 3, unit_price: '0.10' },
            { product_id: 2, qty: 1, unit_price: '19.99' },
            { product_id: 1, qty: 1, unit_price: '0.2' },
          ],
        },
      },
      ctx(),
    );
    expect(rs.get('sat_order')![0]).toMatchObject({
      hk_order: md5('O-1'),
      status: 'placed',
      lines: 3,
      units: 5,
      total_amount: 20.49,
      event_ts_us: T - 10,
      reason: null,
    });
    expect(rs.get('link_order_line')!.map((r) => r.hk_order_line)).toEqual([
      md5('O-1||1||1'),
      md5('O-1||2||2'),
      md5('O-1||1||3'),
    ]);
    expect(rs.get('sat_order_line')!.map((r) => [r.qty, r.unit_price])).toEqual([
      [3, 0.1],
      [1, 19.99],
      [1, 0.2],
    ]);
    expect(rs.get('hub_product')!.length).toBe(2); // deduplicated
    expect(rs.get('link_order_user')![0]).toMatchObject({
      hk_order_user: md5('O-1||7'),
      hk_order: md5('O-1'),
      hk_user: md5('7'),
    });
  });

  it('skips the seller link of a product without seller, and keeps cancellation reasons', () => {
    const rs = mapChange(
      {
        table: 'products',
        op: 'r',
        commitTsUs: T,
        row: { id: 3, seller_id: null, sku: 'S', name: 'N', category: 'c', price: '1.5', active: true },
      },
      ctx(),
    );
    expect(rs.has('link_product_seller')).toBe(false);
    expect(rs.get('sat_product')![0]).toMatchObject({ price: 1.5, active: 1 });
    const c = mapChange(
      {
        table: 'cancellations',
        op: 'c',
        commitTsUs: T,
        row: { _id: 'x', order_id: 'o-1', user_id: 7, reason: 'late', ts: T },
      },
      ctx(),
    );
    expect(c.get('sat_order')![0]).toMatchObject({ status: 'cancelled', reason: 'late', total_amount: null });
  });

  it('keeps A→B→A as three satellite rows, and keys them by commit time only', () => {
    const changes = [
      user({ commitTsUs: T }, { city: 'A' }),
      user({ op: 'u', commitTsUs: T + 1 }, { city: 'B' }),
      user({ op: 'u', commitTsUs: T + 2 }, { city: 'A' }),
    ];
    const rs = mapChanges(changes, ctx());
    const sats = rs.get('sat_user')!;
    expect(sats.map((r) => r.city)).toEqual(['A', 'B', 'A']);
    expect(sats[0]!.hashdiff).toBe(sats[2]!.hashdiff);
    expect(new Set(sats.map((r) => r.effective_us)).size).toBe(3);
    // the hub keeps the earliest sighting, whatever the order of arrival
    const reversed = mapChanges([...changes].reverse(), ctx());
    expect(reversed.get('hub_user')).toEqual(rs.get('hub_user'));
  });

  it('merges row sets', () => {
    const a = mapChange(user(), ctx());
    const b = mapChange(user({ commitTsUs: T + 9 }), ctx());
    const m = mergeRowSets(new Map(), a);
    mergeRowSets(m, b);
    expect(rowSetSize(m)).toBe(rowSetSize(a) + rowSetSize(b));
  });

  it('has a feed for every source table and only known vault tables', () => {
    expect(Object.keys(FEEDS).sort()).toEqual([...SOURCE_TABLES].sort());
    const names = new Set(VAULT_TABLES.map((t) => t.name));
    const rs = mapChange(user(), ctx());
    for (const t of rs.keys()) expect(names.has(t)).toBe(true);
  });
});

describe('model validation', () => {
  it('refuses a feed that reads password_hash or names unknown attributes (ModelError, exit 2)', () => {
    const bad = {
      auth_credentials: {
        ...FEEDS.auth_credentials,
        targets: [
          {
            sat: 'sat_user_auth',
            key: [{ col: 'user_id' }],
            attributes: { updated_at_us: { col: 'password_hash' } },
          },
        ],
      },
    } as unknown as Record<string, Feed>;
    const err = (() => {
      try {
        compileFeeds(bad);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/forbidden source column "password_hash"/);
    const unknownAttr = {
      users: {
        ...FEEDS.users,
        targets: [{ sat: 'sat_user', key: [{ col: 'id' }], attributes: { shoe_size: { col: 'x' } } }],
      },
    } as unknown as Record<string, Feed>;
    expect(() => compileFeeds(unknownAttr)).toThrow(/has no attribute "shoe_size"/);
    expect(() => compileFeeds()).not.toThrow();
  });
});
