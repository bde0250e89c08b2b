import { describe, expect, it } from 'vitest';
import { BSON } from 'mongodb';
import { decodeMessage } from '../../../src/lib/debezium/decode.js';
import {
  encodeChange,
  encodeTombstone,
  type DecimalMode,
  type ExtendedJsonMode,
  type TimestampMode,
} from '../../helpers/debezium.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';

const T0 = 1795600800123456; // 2026-11-25T10:00:00.123456Z

/** One or more changes of every table, covering nulls, negative and large values, every op. */
const samples: SourceChange[] = [
  {
    table: 'sellers',
    op: 'r',
    row: { id: 1, name: 'Acme GmbH', country: 'DE', created_at: T0 - 86_400_000_000, updated_at: T0 },
    commitTsUs: T0,
  },
  {
    table: 'sellers',
    op: 'u',
    row: { id: 2, name: 'Ünïcödé “quotes” \\ / \n', country: null, created_at: null, updated_at: T0 + 1 },
    commitTsUs: T0 + 1,
  },
  {
    table: 'users',
    op: 'c',
    row: {
      id: 1001,
      email: 'a@example.org',
      full_name: 'Anne K',
      city: 'Lyon',
      created_at: T0,
      updated_at: T0,
    },
    commitTsUs: T0,
  },
  {
    table: 'users',
    op: 'd',
    row: {
      id: 9007199254740991,
      email: 'z@example.org',
      full_name: null,
      city: null,
      created_at: 978307200000001,
      updated_at: 4102444799999999,
    },
    commitTsUs: T0 + 5,
  },
  {
    table: 'auth_credentials',
    op: 'u',
    row: { user_id: 1001, last_login_at: T0, failed_logins: 2147483647, updated_at: T0 },
    commitTsUs: T0,
  },
  {
    table: 'products',
    op: 'c',
    row: {
      id: 501,
      seller_id: 1,
      sku: 'SKU-1',
      name: 'Cups',
      category: 'kitchen',
      price: '12.50',
      active: true,
      created_at: T0,
      updated_at: T0,
    },
    commitTsUs: T0,
  },
  {
    table: 'products',
    op: 'u',
    row: {
      id: 502,
      seller_id: null,
      sku: 'SKU-2',
      name: null,
      category: 'garden',
      price: '9999999999.99',
      active: false,
      created_at: T0,
      updated_at: T0,
    },
    commitTsUs: T0,
  },
  {
    table: 'products',
    op: 'r',
    row: {
      id: 503,
      seller_id: 7,
      sku: 'SKU-3',
      name: 'Refund',
      category: 'misc',
      price: '-0.01',
      active: true,
      created_at: null,
      updated_at: null,
    },
    commitTsUs: T0,
  },
  {
    table: 'products',
    op: 'd',
    row: {
      id: 504,
      seller_id: 7,
      sku: 'SKU-4',
      name: 'Free',
      category: 'misc',
      price: '0.00',
      active: true,
      created_at: null,
      updated_at: null,
    },
    commitTsUs: T0,
  },
  {
    table: 'purchases',
    op: 'c',
    row: {
      _id: '6745a1b2c3d4e5f601234567',
      order_id: 'O-1',
      user_id: 1001,
      items: [
        { product_id: 501, qty: 2, unit_price: '12.50' },
        { product_id: 502, qty: 1, unit_price: '1000000.00' },
      ],
      ts: 1795600800123000,
    },
    commitTsUs: T0,
  },
  {
    table: 'purchases',
    op: 'r',
    row: { _id: 'P-string-id', order_id: 'O-2', user_id: 5, items: [], ts: 0 },
    commitTsUs: T0,
  },
  {
    table: 'cancellations',
    op: 'c',
    row: {
      _id: '6745a1b2c3d4e5f601234568',
      order_id: 'O-1',
      user_id: 1001,
      reason: 'late',
      ts: 1795600900000000,
    },
    commitTsUs: T0,
  },
  {
    table: 'ratings',
    op: 'u',
    row: {
      _id: '6745a1b2c3d4e5f601234569',
      user_id: 1001,
      product_id: 501,
      stars: 5,
      comment: null,
      ts: 1795600900001000,
    },
    commitTsUs: T0,
  },
  {
    table: 'ratings',
    op: 'd',
    row: {
      _id: '6745a1b2c3d4e5f60123456a',
      user_id: 3,
      product_id: 4,
      stars: 1,
      comment: 'bad',
      ts: 1795600900002000,
    },
    commitTsUs: T0,
  },
];

const decimalModes: DecimalMode[] = ['precise', 'string', 'double'];
const timestampModes: TimestampMode[] = ['zoned', 'micros', 'millis'];
const ejsonModes: ExtendedJsonMode[] = ['canonical', 'relaxed'];

/** Millisecond encodings drop microseconds; compare against the value they can carry. */
function truncatedToMs(change: SourceChange): SourceChange {
  const row = { ...change.row };
  for (const k of ['created_at', 'updated_at', 'last_login_at']) {
    const v = row[k];
    if (typeof v === 'number') row[k] = Math.floor(v / 1000) * 1000;
  }
  return { ...change, row };
}

describe('decode(encode(x)) == x', () => {
  for (const withSchema of [true, false]) {
    for (const decimalMode of decimalModes) {
      for (const timestampMode of timestampModes) {
        for (const extendedJson of ejsonModes) {
          const name = `schema=${withSchema} decimal=${decimalMode} ts=${timestampMode} ejson=${extendedJson}`;
          it(name, () => {
            for (const change of samples) {
              const ev = encodeChange(change, { withSchema, decimalMode, timestampMode, extendedJson });
              const decoded = decodeMessage({
                topic: ev.topic,
                key: Buffer.from(ev.key),
                value: Buffer.from(ev.value!),
              });
              const preciseUndecodable =
                decimalMode === 'precise' && !withSchema && change.table === 'products';
              if (preciseUndecodable) {
                // Documented: precise decimals need the schema for their scale.
                expect(decoded.kind === 'reject' && decoded.error.reason).toBe(
                  'precise-decimal-without-schema',
                );
                continue;
              }
              const expected = timestampMode === 'millis' ? truncatedToMs(change) : change;
              expect(decoded, `${change.table} ${change.op}`).toEqual({ kind: 'change', change: expected });
            }
          });
        }
      }
    }
  }

  it('keeps pre-1973 and negative epoch values exact where the unit is known (zoned strings, or a schema)', () => {
    const change: SourceChange = {
      table: 'users',
      op: 'c',
      row: { id: 1, email: 'e', full_name: null, city: null, created_at: -123456, updated_at: 1 },
      commitTsUs: T0,
    };
    for (const [withSchema, timestampMode] of [
      [true, 'zoned'],
      [false, 'zoned'],
      [true, 'micros'],
    ] as const) {
      const ev = encodeChange(change, { withSchema, timestampMode });
      expect(decodeMessage({ topic: ev.topic, key: ev.key, value: ev.value })).toEqual({
        kind: 'change',
        change,
      });
    }
  });

  it('tombstones decode to skip', () => {
    for (const change of samples) {
      const ev = encodeTombstone(change);
      expect(ev.value).toBeNull();
      expect(decodeMessage({ topic: ev.topic, key: ev.key, value: ev.value })).toEqual({
        kind: 'skip',
        why: 'tombstone',
      });
    }
  });

  it('a MongoDB delete decodes from its key alone (no pre-image)', () => {
    const change = samples.find((c) => c.table === 'ratings' && c.op === 'd')!;
    const ev = encodeChange(change, { withSchema: false });
    const value = JSON.parse(ev.value!) as Record<string, unknown>;
    delete value.before;
    const decoded = decodeMessage({ topic: ev.topic, key: ev.key, value });
    expect(decoded).toEqual({
      kind: 'change',
      change: {
        ...change,
        row: { _id: change.row._id, user_id: null, product_id: null, stars: null, comment: null, ts: null },
      },
    });
  });

  it('honours topic prefixes both ways', () => {
    const router = new TopicRouter({ postgres: 'x9.shop.public.', mongo: 'x9.shopev.shop_events.' });
    for (const change of samples) {
      const ev = encodeChange(change, { router });
      expect(ev.topic.startsWith('x9.')).toBe(true);
      expect(decodeMessage({ topic: ev.topic, key: ev.key, value: ev.value }, { router }).kind).toBe(
        'change',
      );
    }
  });

  it('MongoDB documents are extended JSON the MongoDB driver reads back to the same values', () => {
    const change = samples.find((c) => c.table === 'purchases' && c.op === 'c')!;
    for (const extendedJson of ejsonModes) {
      const ev = encodeChange(change, { withSchema: false, extendedJson });
      const after = (JSON.parse(ev.value!) as { after: string }).after;
      const doc = BSON.EJSON.parse(after, { relaxed: false }) as Record<string, unknown>;
      expect(String(doc._id)).toBe('6745a1b2c3d4e5f601234567');
      expect((doc.ts as Date).getTime()).toBe(1795600800123);
      const items = doc.items as Array<Record<string, { toString(): string }>>;
      expect(
        items.map((i) => [
          Number(i.product_id!.toString()),
          Number(i.qty!.toString()),
          i.unit_price!.toString(),
        ]),
      ).toEqual([
        [501, 2, '12.50'],
        [502, 1, '1000000.00'],
      ]);
      const key = JSON.parse(ev.key) as { id: string };
      expect(String(BSON.EJSON.parse(key.id) as unknown)).toBe('6745a1b2c3d4e5f601234567');
    }
  });

  it('writes exact ts_ns and schema blocks as Debezium does', () => {
    const ev = encodeChange(samples[2]!, { withSchema: true });
    expect(ev.value).toContain(`"ts_ns":${T0}000`);
    const value = JSON.parse(ev.value!) as { schema: { name: string; fields: Array<{ field: string }> } };
    expect(value.schema.name).toBe('shop.public.users.Envelope');
    expect(value.schema.fields.map((f) => f.field)).toEqual([
      'before',
      'after',
      'source',
      'transaction',
      'op',
      'ts_ms',
      'ts_us',
      'ts_ns',
    ]);
    expect(JSON.parse(ev.key)).toEqual({
      schema: {
        type: 'struct',
        fields: [{ type: 'int64', optional: false, field: 'id' }],
        optional: false,
        name: 'shop.public.users.Key',
      },
      payload: { id: 1001 },
    });
  });
});
