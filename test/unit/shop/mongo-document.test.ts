import { describe, it, expect } from 'vitest';
import { Decimal128, Int32, Long, ObjectId } from 'mongodb';
import {
  fromMongoDocument,
  mongoDatabaseFromUrl,
  toMongoDocument,
} from '../../../src/lib/shop/mongo-writer.js';
import { generateShop } from '../../../src/lib/shop/generator.js';
import { parseDuration } from '../../../src/commands/seed.js';

describe('MongoDB documents of the seed (docs/CONTRACT.md §4)', () => {
  const purchase = {
    _id: '6aea54430074748d80000327',
    order_id: 'ORD-00000001',
    user_id: 7,
    items: [
      { product_id: 3, qty: 2, unit_price: '12.50' },
      { product_id: 4, qty: 1, unit_price: '0.99' },
    ],
    ts: 1_793_741_891_659_000,
  };

  it('types purchases as the contract says: long ids, int qty, Decimal128 price, Date ts', () => {
    const doc = toMongoDocument('purchases', purchase, 'decimal128');
    expect(doc._id).toEqual(new ObjectId(purchase._id));
    expect(doc.user_id).toEqual(Long.fromNumber(7));
    expect(doc.items[0].product_id).toEqual(Long.fromNumber(3));
    expect(doc.items[0].qty).toEqual(new Int32(2));
    expect(doc.items[0].unit_price).toEqual(Decimal128.fromString('12.50'));
    expect(doc.ts).toEqual(new Date(1_793_741_891_659));
  });

  it('keeps the price an exact string where Decimal128 is not supported (FerretDB)', () => {
    expect(toMongoDocument('purchases', purchase, 'string').items[1].unit_price).toBe('0.99');
  });

  it('round-trips every generated event back to the same canonical row', () => {
    const shop = generateShop({
      seed: 3,
      days: 1,
      start: '2026-05-01',
      users: 20,
      products: 20,
      eventsPerDay: 200,
    });
    const events = shop.changes.filter(
      (c) => c.table === 'purchases' || c.table === 'cancellations' || c.table === 'ratings',
    );
    expect(events.length).toBeGreaterThan(50);
    for (const c of events) {
      const table = c.table as 'purchases' | 'cancellations' | 'ratings';
      for (const mode of ['decimal128', 'string'] as const) {
        expect(fromMongoDocument(table, toMongoDocument(table, c.row, mode))).toEqual(c.row);
      }
    }
  });

  it('omits an absent rating comment instead of storing null', () => {
    const doc = toMongoDocument(
      'ratings',
      { _id: '6aea54430074748d80000328', user_id: 1, product_id: 2, stars: 4, comment: null, ts: 1_000_000 },
      'string',
    );
    expect('comment' in doc).toBe(false);
  });

  it('takes the database from the URL path, else shop_events', () => {
    expect(mongoDatabaseFromUrl('mongodb://127.0.0.1:27117/other?x=1')).toBe('other');
    expect(mongoDatabaseFromUrl('mongodb://127.0.0.1:27117/')).toBe('shop_events');
    expect(mongoDatabaseFromUrl('mongodb://127.0.0.1:27117')).toBe('shop_events');
  });
});

describe('seed --duration', () => {
  it('parses units and rejects nonsense', () => {
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
});
