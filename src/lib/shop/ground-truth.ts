import type { CanonicalRow, SourceChange } from '../vault/types.js';
import { centsToDecimal, decimalToCents, utcDay } from './values.js';

/**
 * The BI marts of docs/CONTRACT.md §6 computed straight from source changes: what the warehouse must
 * show for the data the generator made. Semantics, decided here and to be matched by the marts:
 *
 * - Days are UTC days of the event's own `ts` (not of the commit time).
 * - `daily_orders` has a row for every day with at least one purchase or cancellation; a day with
 *   only cancellations has orders = buyers = units = 0 and gross_revenue "0.00".
 * - Money is summed exactly in integer cents (bigint) and returned as "123.45".
 * - A product's category is its latest known category over the whole history (the row with the
 *   greatest commit time among its c/r/u changes and the before-image of its delete). A deleted
 *   product keeps that category: deleting products or users never removes purchases, ratings or
 *   cancellations from the marts. A purchased product that never appeared gets category "".
 * - An order with items in two categories counts once in each; units and revenue split by item.
 * - MongoDB events are keyed by `_id`: a repeated `_id` (c, r or u) replaces the earlier version, a
 *   delete removes it. The generator never produces either; duplicates from replays don't double count.
 * - `product_ratings`: per (user, product) only the rating with the greatest `ts` counts (ties: the
 *   later change); `ratings` is the number of such (user, product) pairs, `avg_stars` their mean.
 */
export interface DailyOrdersRow {
  day: string;
  orders: number;
  buyers: number;
  units: number;
  gross_revenue: string;
  cancellations: number;
}

export interface DailySalesByCategoryRow {
  day: string;
  category: string;
  orders: number;
  units: number;
  gross_revenue: string;
}

export interface ProductRatingsRow {
  product_id: number;
  ratings: number;
  avg_stars: number;
}

export interface Marts {
  daily_orders: DailyOrdersRow[];
  daily_sales_by_category: DailySalesByCategoryRow[];
  product_ratings: ProductRatingsRow[];
}

export function computeMarts(changes: Iterable<SourceChange>): Marts {
  const purchases = new Map<string, CanonicalRow>();
  const cancellations = new Map<string, CanonicalRow>();
  const ratings = new Map<string, CanonicalRow>();
  const category = new Map<number, { category: string; ts: number }>();

  for (const c of changes) {
    switch (c.table) {
      case 'purchases':
        keep(purchases, c);
        break;
      case 'cancellations':
        keep(cancellations, c);
        break;
      case 'ratings':
        keep(ratings, c);
        break;
      case 'products': {
        const id = c.row.id;
        const cat = c.row.category;
        if (typeof id !== 'number' || typeof cat !== 'string') break; // a key-only delete says nothing about the category
        const prev = category.get(id);
        if (!prev || c.commitTsUs >= prev.ts) category.set(id, { category: cat, ts: c.commitTsUs });
        break;
      }
      default:
        break;
    }
  }

  interface DayAcc {
    orders: number;
    buyers: Set<number>;
    units: number;
    cents: bigint;
    cancellations: number;
  }
  const days = new Map<string, DayAcc>();
  const dayAcc = (day: string): DayAcc => {
    let acc = days.get(day);
    if (!acc) days.set(day, (acc = { orders: 0, buyers: new Set(), units: 0, cents: 0n, cancellations: 0 }));
    return acc;
  };
  const byCategory = new Map<
    string,
    { day: string; category: string; orders: number; units: number; cents: bigint }
  >();

  for (const p of purchases.values()) {
    const day = utcDay(num(p.ts, 'purchases.ts'));
    const acc = dayAcc(day);
    acc.orders++;
    acc.buyers.add(num(p.user_id, 'purchases.user_id'));
    const perCategory = new Map<string, { units: number; cents: bigint }>();
    for (const item of itemsOf(p)) {
      const qty = num(item.qty, 'items.qty');
      const cents = BigInt(qty) * decimalToCents(str(item.unit_price, 'items.unit_price'));
      acc.units += qty;
      acc.cents += cents;
      const cat = category.get(num(item.product_id, 'items.product_id'))?.category ?? '';
      const pc = perCategory.get(cat) ?? { units: 0, cents: 0n };
      pc.units += qty;
      pc.cents += cents;
      perCategory.set(cat, pc);
    }
    for (const [cat, pc] of perCategory) {
      const key = `${day}\u0000${cat}`;
      const row = byCategory.get(key) ?? { day, category: cat, orders: 0, units: 0, cents: 0n };
      row.orders++;
      row.units += pc.units;
      row.cents += pc.cents;
      byCategory.set(key, row);
    }
  }
  for (const c of cancellations.values()) dayAcc(utcDay(num(c.ts, 'cancellations.ts'))).cancellations++;

  // Latest rating per (user, product).
  const latest = new Map<string, { product: number; stars: number; ts: number }>();
  for (const r of ratings.values()) {
    const key = `${num(r.user_id, 'ratings.user_id')}:${num(r.product_id, 'ratings.product_id')}`;
    const ts = num(r.ts, 'ratings.ts');
    const prev = latest.get(key);
    if (!prev || ts >= prev.ts)
      latest.set(key, {
        product: num(r.product_id, 'ratings.product_id'),
        stars: num(r.stars, 'ratings.stars'),
        ts,
      });
  }
  const perProduct = new Map<number, { n: number; sum: number }>();
  for (const { product, stars } of latest.values()) {
    const acc = perProduct.get(product) ?? { n: 0, sum: 0 };
    acc.n++;
    acc.sum += stars;
    perProduct.set(product, acc);
  }

  return {
    daily_orders: [...days.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([day, a]) => ({
        day,
        orders: a.orders,
        buyers: a.buyers.size,
        units: a.units,
        gross_revenue: centsToDecimal(a.cents),
        cancellations: a.cancellations,
      })),
    daily_sales_by_category: [...byCategory.values()]
      .sort((a, b) =>
        a.day !== b.day
          ? a.day < b.day
            ? -1
            : 1
          : a.category < b.category
            ? -1
            : a.category > b.category
              ? 1
              : 0,
      )
      .map((r) => ({
        day: r.day,
        category: r.category,
        orders: r.orders,
        units: r.units,
        gross_revenue: centsToDecimal(r.cents),
      })),
    product_ratings: [...perProduct.entries()]
      .sort(([a], [b]) => a - b)
      .map(([product_id, a]) => ({ product_id, ratings: a.n, avg_stars: a.sum / a.n })),
  };
}

/**
 * Mongo events keyed by `_id`. A later version replaces an earlier one, a delete removes it. Map
 * insertion order is kept by deleting first, so the latest version also decides tie order.
 */
function keep(map: Map<string, CanonicalRow>, c: SourceChange): void {
  const id = String(c.row._id);
  map.delete(id);
  if (c.op !== 'd') map.set(id, c.row);
}

function itemsOf(p: CanonicalRow): CanonicalRow[] {
  const items = p.items;
  if (!Array.isArray(items)) throw new TypeError(`purchase ${String(p._id)} has no items array`);
  return items as CanonicalRow[];
}

function num(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new TypeError(`${what} must be a number in canonical form, got ${JSON.stringify(v)}`);
}

function str(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  throw new TypeError(`${what} must be a decimal string in canonical form, got ${JSON.stringify(v)}`);
}
