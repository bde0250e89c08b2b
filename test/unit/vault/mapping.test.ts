import { describe, it, expect } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import {
  mapChange,
  mapChanges,
  mapChangesIsolated,
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
const SALT = 'b532ce84c597664681ebf2abf6f76d9fddbd3d045dcda50197d4638eda1503a5';
const hmac = (s: string) => createHmac('sha256', SALT).update(s, 'utf8').digest('hex').toUpperCase();
/** (2^53 − 1 − firstSeen) × 16 + (15 − rank), rank = position in SOURCE_TABLES (docs/HASHING.md). */
const ver = (firstSeen: number, rank: number) =>
  ((2n ** 53n - 1n - BigInt(firstSeen)) * 16n + BigInt(15 - rank)).toString();
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
  it('maps a user to its hub and satellite with keyed hashes (HMAC) only', () => {
    const rs = mapChange(user(), ctx());
    const hub = rs.get('hub_user')!;
    expect(hub).toEqual([
      {
        hk_user: md5('7'),
        user_id: 7,
        first_seen_us: T,
        ver: ver(T, 1),
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
      email_sha256: hmac('ann@example.com'),
      full_name_sha256: hmac('Ann Lee'),
      city: 'Paris',
      created_at_us: T - 5,
    });
    const text = JSON.stringify([...rs.values()]);
    expect(text).not.toMatch(/ann@example|Ann Lee/i);
    expect(sat!.hashdiff).toBe(
      md5([hmac('ann@example.com'), hmac('Ann Lee'), 'Paris', String(T - 5), String(T - 5)].join('||')),
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
    expect(() => mapChange({ ...user(), commitTsUs: 1.5 }, ctx())).toThrow(
      'users change: commit time: is not an integer of epoch microseconds',
    );
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

/** The MappingError of one change, or undefined. */
function refusal(c: SourceChange): MappingError | undefined {
  try {
    mapChange(c, ctx());
  } catch (e) {
    if (e instanceof MappingError) return e;
    throw e;
  }
  return undefined;
}

describe('values against the vault columns (issue 18 §1, §3)', () => {
  const product = (row: Record<string, unknown>, over: Partial<SourceChange> = {}): SourceChange => ({
    table: 'products',
    op: 'u',
    commitTsUs: T,
    row: {
      id: 5,
      seller_id: 2,
      sku: 'S-5',
      name: 'Kettle',
      category: 'home',
      price: '19.99',
      active: true,
      created_at: T - 1,
      updated_at: T,
      ...row,
    } as never,
    ...over,
  });

  it('refuses ids outside UInt64 instead of letting ClickHouse fail or wrap them', () => {
    expect(refusal(user({}, { id: -5 }))?.message).toBe(
      'users: hub_user.user_id: is outside the UInt64 range',
    );
    expect(refusal(product({ seller_id: -1 }))?.message).toBe(
      'products: hub_seller.seller_id: is outside the UInt64 range',
    );
    // 1e20 was stored as 7766279631452241920: a JSON number beyond 2^53 has already lost digits
    expect(refusal(user({}, { id: 1e20 }))?.message).toBe(
      'users: hub_user.user_id: is beyond 2^53 as a JSON number and has lost digits',
    );
    expect(refusal(user({}, { id: 2n ** 64n }))?.message).toBe(
      'users: hub_user.user_id: is outside the UInt64 range',
    );
    expect(refusal(user({}, { id: 2n ** 64n - 1n }))).toBeUndefined();
  });

  it('refuses small integer columns beyond their type (stars UInt8, failed_logins Int32, qty UInt32)', () => {
    const rating = (stars: unknown): SourceChange => ({
      table: 'ratings',
      op: 'c',
      commitTsUs: T,
      row: { _id: 'r1', user_id: 1, product_id: 2, stars, comment: null, ts: T } as never,
    });
    expect(refusal(rating(300))?.message).toBe('ratings.stars: is outside the UInt8 range');
    expect(refusal(rating(-1))?.message).toBe('ratings.stars: is outside the UInt8 range');
    expect(refusal(rating(5))).toBeUndefined();
    const purchase = (qty: number): SourceChange => ({
      table: 'purchases',
      op: 'c',
      commitTsUs: T,
      row: {
        _id: 'p',
        order_id: 'o',
        user_id: 1,
        items: [{ product_id: 1, qty, unit_price: '1.00' }],
        ts: T,
      },
    });
    expect(refusal(purchase(-2))?.message).toBe('purchases.units: is outside the UInt64 range');
    expect(refusal(purchase(2 ** 32))?.message).toMatch(/qty: is outside the UInt32 range/);
  });

  it('refuses timestamps outside 1900–2199 and commit times outside 1970–2106 (never clamped)', () => {
    const y = (year: number) => Date.UTC(2000, 0, 1) * 1000 + (year - 2000) * 365.2425 * 86_400_000_000;
    expect(refusal(user({}, { created_at: Math.round(y(1899)) }))?.message).toBe(
      'users.created_at_us: is outside the supported range 1900-01-01T00:00:00Z to 2199-12-31T23:59:59.999999Z',
    );
    expect(refusal(user({}, { created_at: -2_208_988_800_000_000 }))).toBeUndefined(); // 1900-01-01
    expect(refusal(user({}, { created_at: 7_258_118_400_000_000 }))?.message).toMatch(
      /outside the supported range/,
    );
    expect(refusal(user({}, { created_at: 1e300 }))?.message).toBe(
      'users.created_at_us: is not an integer of epoch microseconds',
    );
    const after2106 = 2 ** 32 * 1_000_000; // 2106-02-07T06:28:16Z
    expect(refusal(user({ commitTsUs: after2106 }))?.message).toBe(
      'users change: commit time: is outside the supported range 1970-01-01T00:00:00Z to 2106-02-07T06:28:15.999999Z',
    );
    expect(refusal(user({ commitTsUs: after2106 - 1 }))).toBeUndefined();
    expect(refusal(user({ commitTsUs: -1 }))?.message).toMatch(/commit time: is outside/);
  });

  it('refuses decimals beyond scale or precision, never rounds, and reads negative zero as zero', () => {
    expect(refusal(product({ price: '19.995' }))?.message).toBe(
      'products.price: has more than 2 decimal places',
    );
    expect(refusal(product({ price: '10000000000.00' }))?.message).toBe(
      'products.price: does not fit Decimal(12, 2)',
    );
    expect(refusal(product({ price: '9999999999.99' }))).toBeUndefined();
    expect(mapChange(product({ price: '-0.00' }), ctx()).get('sat_product')![0]!.price).toBe(0);
    expect(mapChange(product({ price: '19.990' }), ctx()).get('sat_product')![0]!.price).toBe(19.99);
  });

  it('names the field and the problem in every refusal, never the value', () => {
    const secret = { addr: 'secret.person@example.com' };
    for (const e of [
      refusal(user({}, { email: secret as never })),
      refusal(user({}, { city: secret as never })),
      refusal(user({}, { id: -987654 })),
      refusal(product({ price: '123.4567' })),
    ]) {
      expect(e).toBeInstanceOf(MappingError);
      expect(e!.message).not.toMatch(/secret\.person|987654|123\.4567/);
    }
    expect(refusal(user({}, { email: secret as never }))?.message).toBe(
      'feed users target 1: email expected a string, got an object',
    );
  });

  it('maps the good changes of a batch and returns the bad ones with their reasons (mapChangesIsolated)', () => {
    const batch = [user(), user({}, { id: -5 }), product({ price: '1.001' }), product({})];
    const { rows, rejected } = mapChangesIsolated(batch, ctx());
    expect(rejected.map((r) => [r.index, r.error.message])).toEqual([
      [1, 'users: hub_user.user_id: is outside the UInt64 range'],
      [2, 'products.price: has more than 2 decimal places'],
    ]);
    expect(rows.get('hub_user')!.map((r) => r.user_id)).toEqual([7]);
    expect(rows.get('sat_product')).toHaveLength(1);
  });
});

describe('first sightings at equal commit times (issue 17 §1)', () => {
  const seller: SourceChange = {
    table: 'sellers',
    op: 'c',
    commitTsUs: T,
    row: { id: 2, name: 'Acme', country: 'FR', created_at: T, updated_at: T },
  };
  const product: SourceChange = {
    table: 'products',
    op: 'c',
    commitTsUs: T,
    row: {
      id: 5,
      seller_id: 2,
      sku: 'S',
      name: 'K',
      category: 'c',
      price: '1.00',
      active: true,
      created_at: T,
      updated_at: T,
    },
  };

  it('keeps the record source of lower rank, whatever the order of the changes', () => {
    for (const order of [
      [seller, product],
      [product, seller],
    ]) {
      const hub = mapChanges(order, ctx()).get('hub_seller')!;
      expect(hub).toHaveLength(1);
      expect(hub[0]).toMatchObject({
        record_source: 'shop.public.sellers',
        first_seen_us: T,
        ver: ver(T, 0),
      });
    }
  });

  it('gives a row of lower rank a greater version at the same time, and an earlier sighting a greater one still', () => {
    const fromSellers = mapChange(seller, ctx()).get('hub_seller')![0]!.ver as string;
    const fromProducts = mapChange(product, ctx()).get('hub_seller')![0]!.ver as string;
    const earlierProduct = mapChange({ ...product, commitTsUs: T - 1 }, ctx()).get('hub_seller')![0]!
      .ver as string;
    expect(BigInt(fromSellers)).toBeGreaterThan(BigInt(fromProducts));
    expect(BigInt(earlierProduct)).toBeGreaterThan(BigInt(fromSellers));
    expect(SOURCE_TABLES.indexOf('sellers')).toBeLessThan(SOURCE_TABLES.indexOf('products'));
  });
});
