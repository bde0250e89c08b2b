import { createHmac } from 'node:crypto';
import type { CanonicalRow, SourceChange, SourceTable } from '../../src/lib/vault/types.js';

/**
 * Tricky values for both runners (issue 17 §1): the same changes go through `stream` (as Debezium
 * events in a replay file) and `backfill` (as lake rows), on 18.16 and chDB. Expectations are
 * written out by hand from docs/HASHING.md and src/lib/values (ranges), not computed by the code.
 *
 * - `both`: changes written to the lake and replayed; `loaded` ones must appear as `expect` says,
 *   `rejected` ones must be refused by both runners with a reason containing `reason`.
 * - `streamOnly`: values the lake cannot even hold (a leap second, 2026-02-30, year 0000, a commit
 *   time after 2106): the event text is edited after encoding, and the stream must refuse it.
 */

export const SALT = '5d0e3a9c27b14f68a1c3e5f7092b4d6e8f1a3c5e7b9d0f2a4c6e8a0b2d4f6a8c';
/** 2026-11-20T00:00:00Z and the last microsecond of that day. */
export const DAY = '2026-11-20';
export const NEXT_DAY = '2026-11-21';
const D = Date.UTC(2026, 10, 20) * 1000;
export const END_OF_DAY = D + 86_400_000_000 - 1;
export const MIDNIGHT = D + 86_400_000_000;
/** MongoDB keeps dates and commit times in milliseconds: its events' times are whole ms. */
const AT_TEN = MIDNIGHT + 10 * 3_600_000_000 + 123_000;
const MS = 1000;

export const hmac = (s: string): string =>
  createHmac('sha256', SALT).update(s, 'utf8').digest('hex').toUpperCase();

const change = (
  table: SourceTable,
  op: SourceChange['op'],
  commitTsUs: number,
  row: CanonicalRow,
): SourceChange => ({
  table,
  op,
  commitTsUs,
  row,
});

export const UNICODE_NAME = 'Zoë Müller 山田 🚀 שלום';
export const ODD_TEXT = 'Ame\u0301lie\ttab\nline "quoted" \\ back';
export const BIG_ID = 9007199254740993n; // 2^53 + 1

// ---------------------------------------------------------------------------------------------
// Loaded by both runners. The order is the replay order: where two sources see one key at the
// same commit time, the referencing source comes first (the rank tie-break must still choose the
// owning source, whatever the order of arrival).

export const product1 = change('products', 'c', END_OF_DAY, {
  id: 101,
  seller_id: 11,
  sku: 'SKU-101',
  name: '',
  category: ODD_TEXT,
  price: '9999999999.99', // Decimal(12, 2) at its limit
  active: true,
  created_at: END_OF_DAY,
  updated_at: END_OF_DAY,
});
export const seller1 = change('sellers', 'c', END_OF_DAY, {
  id: 11,
  name: UNICODE_NAME,
  country: null,
  created_at: -2_208_988_800_000_000, // 1900-01-01T00:00:00Z, the first supported µs
  updated_at: 7_258_118_400_000_000 - 1, // 2199-12-31T23:59:59.999999Z, the last
});
export const auth1 = change('auth_credentials', 'c', MIDNIGHT, {
  user_id: 21,
  password_hash: '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234',
  last_login_at: null,
  failed_logins: 0,
  updated_at: null,
});
export const user1 = change('users', 'c', MIDNIGHT, {
  id: 21,
  email: '  Ünal@Example.ORG ',
  full_name: null,
  city: '',
  created_at: null,
  updated_at: null,
});
export const product2 = change('products', 'c', MIDNIGHT + 1, {
  id: 102,
  seller_id: null,
  sku: 'SKU-102',
  name: null,
  category: 'misc',
  price: '-0.00', // negative zero is zero
  active: false,
  created_at: null,
  updated_at: null,
});
export const user2 = change('users', 'c', MIDNIGHT + 2, {
  id: BIG_ID,
  email: 'big@example.com',
  full_name: ' Zoë ',
  city: null,
  created_at: MIDNIGHT,
  updated_at: MIDNIGHT,
});
export const cancellation1 = change('cancellations', 'c', AT_TEN, {
  _id: '6745a1b20000000000000c01',
  order_id: 'O-1',
  user_id: 21,
  reason: null,
  ts: null,
});
export const purchase1 = change('purchases', 'c', AT_TEN, {
  _id: '6745a1b20000000000000f01',
  order_id: 'O-1',
  user_id: 21,
  items: [
    { product_id: 101, qty: 1, unit_price: '0.01' },
    { product_id: 102, qty: 2_147_483_647, unit_price: '0.00' }, // the source's int32 at its limit
  ],
  ts: AT_TEN,
});
export const purchase2 = change('purchases', 'c', AT_TEN + 1 * MS, {
  _id: '6745a1b20000000000000f02',
  order_id: 'O-2',
  user_id: null,
  items: [],
  ts: null,
});
export const rating1 = change('ratings', 'c', AT_TEN + 2 * MS, {
  _id: '6745a1b20000000000000e01',
  user_id: 21,
  product_id: 101,
  stars: 5,
  comment: null,
  ts: null,
});
export const rating2 = change('ratings', 'c', AT_TEN + 3 * MS, {
  _id: '6745a1b20000000000000e02',
  user_id: 21,
  product_id: 102,
  stars: 1,
  comment: '',
  ts: AT_TEN,
});

export const LOADED: SourceChange[] = [
  product1,
  seller1,
  auth1,
  user1,
  product2,
  user2,
  cancellation1,
  purchase1,
  purchase2,
  rating1,
  rating2,
];

// ---------------------------------------------------------------------------------------------
// Rejected by both runners: each breaks the vault column it would land in.

export const REJECTED: { change: SourceChange; reason: string }[] = [
  {
    change: change('products', 'u', AT_TEN + 10 * MS, { ...product1.row, id: 103, price: '19.995' }),
    reason: 'products.price: ',
  },
  {
    change: change('products', 'u', AT_TEN + 11 * MS, { ...product1.row, id: 104, price: '10000000000.00' }),
    reason: 'products.price: ',
  },
  {
    change: change('users', 'c', AT_TEN + 12 * MS, { ...user2.row, id: -5, email: 'neg@example.com' }),
    reason: 'is outside the UInt64 range',
  },
  {
    change: change('users', 'c', AT_TEN + 13 * MS, {
      ...user2.row,
      id: 22,
      email: 'old@example.com',
      created_at: -2_208_988_800_000_001, // 1899-12-31T23:59:59.999999Z
    }),
    reason: 'created_at',
  },
  {
    change: change('ratings', 'c', AT_TEN + 14 * MS, {
      ...rating1.row,
      _id: '6745a1b20000000000000e03',
      stars: 300,
    }),
    reason: 'stars: is outside the UInt8 range',
  },
];

// ---------------------------------------------------------------------------------------------
// Refused by the stream; the lake cannot hold them. `edit` rewrites the encoded event's text.

const valid = (id: number, at: number) =>
  change('users', 'c', at, { ...user2.row, id, email: `u${id}@example.com`, created_at: MIDNIGHT });
const ISO_MIDNIGHT = '2026-11-21T00:00:00Z';

export const STREAM_ONLY: { change: SourceChange; edit: (eventText: string) => string; reason: string }[] = [
  {
    change: valid(31, AT_TEN + 20 * MS),
    edit: (t) => t.replace(ISO_MIDNIGHT, '2016-12-31T23:59:60Z'),
    reason: 'leap second',
  },
  {
    change: valid(32, AT_TEN + 21 * MS),
    edit: (t) => t.replace(ISO_MIDNIGHT, '2026-02-30T00:00:00Z'),
    reason: 'is not a valid calendar date',
  },
  {
    change: valid(33, AT_TEN + 22 * MS),
    edit: (t) => t.replace(ISO_MIDNIGHT, '0000-01-01T00:00:00Z'),
    reason: 'outside the range',
  },
  {
    change: valid(34, AT_TEN + 23 * MS),
    // 2106-02-07T06:28:16Z: one second past what effective_ts DateTime holds
    edit: (t) =>
      t
        .replace(/"ts_ms":\d+/g, `"ts_ms":${2 ** 32 * 1000}`)
        .replace(/"ts_us":\d+/g, `"ts_us":${2 ** 32 * 1e6}`),
    reason: 'commit time: is outside the supported range',
  },
];

// ---------------------------------------------------------------------------------------------
// What the vault must hold (columns as ClickHouse returns them in JSON: 64-bit integers as strings,
// decimals as numbers), worked out by hand.

export const EXPECTED = {
  hub_seller: [{ seller_id: '11', record_source: 'shop.public.sellers', first_seen_us: String(END_OF_DAY) }],
  hub_user: [
    { user_id: '21', record_source: 'shop.public.users', first_seen_us: String(MIDNIGHT) },
    { user_id: BIG_ID.toString(), record_source: 'shop.public.users', first_seen_us: String(MIDNIGHT + 2) },
  ],
  hub_order: [
    { order_id: 'O-1', record_source: 'shop_events.purchases', first_seen_us: String(AT_TEN) },
    { order_id: 'O-2', record_source: 'shop_events.purchases', first_seen_us: String(AT_TEN + 1 * MS) },
  ],
  link_order_user: [{ record_source: 'shop_events.purchases', first_seen_us: String(AT_TEN) }],
  /** sat_seller of seller 11: partition of 2026-11-20 (committed at its last microsecond). */
  sat_seller: [
    {
      name: UNICODE_NAME,
      country: null,
      created_at_us: '-2208988800000000',
      updated_at_us: '7258118399999999',
      effective_ts: '2026-11-20 23:59:59',
    },
  ],
  sat_product: [
    { sku: 'SKU-101', name: '', category: ODD_TEXT, price: 9999999999.99, active: 1 },
    { sku: 'SKU-102', name: null, category: 'misc', price: 0, active: 0 },
  ],
  /** sat_user of user 21: partition of 2026-11-21 (committed at its first microsecond). */
  sat_user: [
    {
      email_sha256: hmac('Ünal@example.org'), // trimmed, ASCII lower-cased only
      full_name_sha256: null,
      city: '',
      created_at_us: null,
      updated_at_us: null,
      effective_ts: '2026-11-21 00:00:00',
    },
    {
      email_sha256: hmac('big@example.com'),
      full_name_sha256: hmac('Zoë'),
      city: null,
      created_at_us: String(MIDNIGHT),
      updated_at_us: String(MIDNIGHT),
      effective_ts: '2026-11-21 00:00:00',
    },
  ],
  sat_order: [
    { status: 'cancelled', reason: null, event_ts_us: null, lines: null, units: null, total_amount: null },
    {
      status: 'placed',
      reason: null,
      event_ts_us: String(AT_TEN),
      lines: 2,
      units: '2147483648',
      total_amount: 0.01,
    },
    { status: 'placed', reason: null, event_ts_us: null, lines: 0, units: '0', total_amount: 0 },
  ],
  sat_rating: [
    { stars: 5, comment: null, rated_ts_us: null },
    { stars: 1, comment: '', rated_ts_us: String(AT_TEN) },
  ],
};
