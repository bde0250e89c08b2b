import { describe, it, expect } from 'vitest';
import { computeMarts } from '../../../src/lib/shop/ground-truth.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';

const us = (iso: string) => Date.parse(iso) * 1000;

function product(id: number, category: string, at: string, op: 'c' | 'u' | 'd' = 'c'): SourceChange {
  const ts = us(at);
  return {
    table: 'products',
    op,
    row: {
      id,
      seller_id: 1,
      sku: `S${id}`,
      name: `P${id}`,
      category,
      price: '1.00',
      active: true,
      created_at: ts,
      updated_at: ts,
    },
    commitTsUs: ts,
  };
}

function purchase(
  id: string,
  user: number,
  at: string,
  items: Array<[number, number, string]>,
): SourceChange {
  const ts = us(at);
  return {
    table: 'purchases',
    op: 'c',
    row: {
      _id: id,
      order_id: `O-${id}`,
      user_id: user,
      items: items.map(([product_id, qty, unit_price]) => ({ product_id, qty, unit_price })),
      ts,
    },
    commitTsUs: ts,
  };
}

function cancellation(id: string, order: string, user: number, at: string): SourceChange {
  const ts = us(at);
  return {
    table: 'cancellations',
    op: 'c',
    row: { _id: id, order_id: order, user_id: user, reason: 'changed_mind', ts },
    commitTsUs: ts,
  };
}

function rating(id: string, user: number, productId: number, stars: number, at: string): SourceChange {
  const ts = us(at);
  return {
    table: 'ratings',
    op: 'c',
    row: { _id: id, user_id: user, product_id: productId, stars, comment: null, ts },
    commitTsUs: ts,
  };
}

describe('computeMarts (docs/CONTRACT.md §6) on hand-made inputs', () => {
  // Day 1: two orders by user 7 and one by user 8; day 2: one order and two cancellations (one of a day-1 order).
  const changes: SourceChange[] = [
    product(1, 'books', '2026-01-01T00:00:00Z'),
    product(2, 'toys', '2026-01-01T00:00:01Z'),
    product(3, 'home', '2026-01-01T00:00:02Z'),
    // 2 × 10.10 + 1 × 0.05 = 20.25
    purchase('a', 7, '2026-01-05T09:00:00Z', [
      [1, 2, '10.10'],
      [2, 1, '0.05'],
    ]),
    // 3 × 0.10 = 0.30 (a float sum would drift: 0.1 + 0.2 ≠ 0.3)
    purchase('b', 7, '2026-01-05T23:59:59.999Z', [[1, 3, '0.10']]),
    // 1 × 99.99 + 1 × 0.01 = 100.00
    purchase('c', 8, '2026-01-05T12:00:00Z', [
      [3, 1, '99.99'],
      [2, 1, '0.01'],
    ]),
    // Product 2 moves from toys to garden after it was sold: all its sales count as garden.
    product(2, 'garden', '2026-01-06T08:00:00Z', 'u'),
    purchase('d', 9, '2026-01-06T00:00:00Z', [[2, 4, '1.25']]), // 5.00
    cancellation('x', 'O-a', 7, '2026-01-06T10:00:00Z'),
    cancellation('y', 'O-d', 9, '2026-01-06T11:00:00Z'),
    // Product 3 is deleted: its history stays, its category is the one in the delete's before-image.
    product(3, 'home', '2026-01-06T12:00:00Z', 'd'),
    // User 7 rates product 1 twice: only the later 2 counts. User 8 rates it 5. Product 3: one rating of 4.
    rating('r1', 7, 1, 5, '2026-01-05T10:00:00Z'),
    rating('r2', 8, 1, 5, '2026-01-05T11:00:00Z'),
    rating('r3', 7, 1, 2, '2026-01-06T10:00:00Z'),
    rating('r4', 8, 3, 4, '2026-01-06T10:00:00Z'),
  ];

  it('daily_orders: orders, buyers, units, exact revenue by purchase day; cancellations by their own day', () => {
    expect(computeMarts(changes).daily_orders).toEqual([
      { day: '2026-01-05', orders: 3, buyers: 2, units: 8, gross_revenue: '120.55', cancellations: 0 },
      { day: '2026-01-06', orders: 1, buyers: 1, units: 4, gross_revenue: '5.00', cancellations: 2 },
    ]);
  });

  it('daily_sales_by_category: latest category, an order in two categories counts once in each', () => {
    expect(computeMarts(changes).daily_sales_by_category).toEqual([
      // books: a (2 × 10.10) and b (3 × 0.10)
      { day: '2026-01-05', category: 'books', orders: 2, units: 5, gross_revenue: '20.50' },
      // garden (product 2, now garden): a (1 × 0.05) and c (1 × 0.01)
      { day: '2026-01-05', category: 'garden', orders: 2, units: 2, gross_revenue: '0.06' },
      { day: '2026-01-05', category: 'home', orders: 1, units: 1, gross_revenue: '99.99' },
      { day: '2026-01-06', category: 'garden', orders: 1, units: 4, gross_revenue: '5.00' },
    ]);
  });

  it('product_ratings: a later rating of the same user replaces the earlier one', () => {
    expect(computeMarts(changes).product_ratings).toEqual([
      { product_id: 1, ratings: 2, avg_stars: 3.5 },
      { product_id: 3, ratings: 1, avg_stars: 4 },
    ]);
  });

  it('a day with only cancellations still has a daily_orders row', () => {
    const m = computeMarts([cancellation('z', 'O-q', 1, '2026-02-01T00:00:00Z')]);
    expect(m.daily_orders).toEqual([
      { day: '2026-02-01', orders: 0, buyers: 0, units: 0, gross_revenue: '0.00', cancellations: 1 },
    ]);
    expect(m.daily_sales_by_category).toEqual([]);
  });

  it('UTC day boundaries: 23:59:59.999 and 00:00:00.000 fall on different days', () => {
    const m = computeMarts([
      product(1, 'books', '2026-01-01T00:00:00Z'),
      purchase('p', 1, '2026-03-01T23:59:59.999Z', [[1, 1, '1.00']]),
      purchase('q', 1, '2026-03-02T00:00:00.000Z', [[1, 1, '2.00']]),
    ]);
    expect(m.daily_orders.map((r) => [r.day, r.gross_revenue])).toEqual([
      ['2026-03-01', '1.00'],
      ['2026-03-02', '2.00'],
    ]);
  });

  it('a repeated _id (a replayed event) counts once; a deleted event not at all', () => {
    const p = purchase('a', 7, '2026-01-05T09:00:00Z', [[1, 1, '3.00']]);
    const q = purchase('b', 7, '2026-01-05T10:00:00Z', [[1, 1, '4.00']]);
    const m = computeMarts([product(1, 'books', '2026-01-01T00:00:00Z'), p, p, q, { ...q, op: 'd' }]);
    expect(m.daily_orders).toEqual([
      { day: '2026-01-05', orders: 1, buyers: 1, units: 1, gross_revenue: '3.00', cancellations: 0 },
    ]);
  });

  it('revenue stays exact beyond float precision', () => {
    const items: Array<[number, number, string]> = [[1, 1000, '9999999999.99']];
    const m = computeMarts([
      product(1, 'books', '2026-01-01T00:00:00Z'),
      purchase('a', 1, '2026-01-05T00:00:00Z', items),
    ]);
    expect(m.daily_orders[0]!.gross_revenue).toBe('9999999999990.00');
  });

  it('a purchased product that never appeared in products gets category ""', () => {
    const m = computeMarts([purchase('a', 1, '2026-01-05T00:00:00Z', [[42, 1, '1.00']])]);
    expect(m.daily_sales_by_category).toEqual([
      { day: '2026-01-05', category: '', orders: 1, units: 1, gross_revenue: '1.00' },
    ]);
  });
});
