import type { Warehouse } from '../warehouse/index.js';
import type { Marts } from '../shop/index.js';

/** Reads the three BI marts (docs/CONTRACT.md §6) into the generator's ground-truth shape. */
export async function readMarts(wh: Warehouse, martDb: string): Promise<Marts> {
  const orders = await wh.query<Record<string, string | number>>(
    `SELECT toString(day) AS day, orders, buyers, units, gross_revenue, cancellations FROM ${martDb}.daily_orders ORDER BY day`,
  );
  const byCategory = await wh.query<Record<string, string | number>>(
    `SELECT toString(day) AS day, category, orders, units, gross_revenue FROM ${martDb}.daily_sales_by_category ORDER BY day, category`,
  );
  const ratings = await wh.query<Record<string, string | number>>(
    `SELECT product_id, ratings, avg_stars FROM ${martDb}.product_ratings ORDER BY product_id`,
  );
  return {
    daily_orders: orders.map((r) => ({
      day: String(r.day),
      orders: Number(r.orders),
      buyers: Number(r.buyers),
      units: Number(r.units),
      gross_revenue: money(r.gross_revenue),
      cancellations: Number(r.cancellations),
    })),
    daily_sales_by_category: byCategory.map((r) => ({
      day: String(r.day),
      category: String(r.category),
      orders: Number(r.orders),
      units: Number(r.units),
      gross_revenue: money(r.gross_revenue),
    })),
    product_ratings: ratings.map((r) => ({
      product_id: Number(r.product_id),
      ratings: Number(r.ratings),
      avg_stars: Number(r.avg_stars),
    })),
  };
}

/** Decimal(18,2) arrives as a JSON number; two decimals are exact below 2^53 cents. */
function money(v: string | number | undefined): string {
  return Number(v).toFixed(2);
}

export interface MartDifference {
  mart: keyof Marts;
  key: string;
  warehouse: unknown;
  expected: unknown;
}

/** Row-by-row comparison; avg_stars within 1e-9 (Float64 averages). */
export function compareMarts(actual: Marts, expected: Marts): MartDifference[] {
  const diffs: MartDifference[] = [];
  const keyed = <T>(rows: T[], key: (r: T) => string) => new Map(rows.map((r) => [key(r), r]));
  const compare = <T extends object>(
    mart: keyof Marts,
    a: T[],
    e: T[],
    key: (r: T) => string,
    same: (x: T, y: T) => boolean,
  ) => {
    const am = keyed(a, key);
    const em = keyed(e, key);
    for (const [k, er] of em) {
      const ar = am.get(k);
      if (!ar || !same(ar, er)) diffs.push({ mart, key: k, warehouse: ar ?? null, expected: er });
    }
    for (const [k, ar] of am) if (!em.has(k)) diffs.push({ mart, key: k, warehouse: ar, expected: null });
  };
  const sorted = (x: object) => JSON.stringify(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)));
  const sameJson = <T extends object>(x: T, y: T) => sorted(x) === sorted(y);
  compare('daily_orders', actual.daily_orders, expected.daily_orders, (r) => r.day, sameJson);
  compare(
    'daily_sales_by_category',
    actual.daily_sales_by_category,
    expected.daily_sales_by_category,
    (r) => `${r.day}/${r.category}`,
    sameJson,
  );
  compare(
    'product_ratings',
    actual.product_ratings,
    expected.product_ratings,
    (r) => String(r.product_id),
    (x, y) =>
      x.product_id === y.product_id && x.ratings === y.ratings && Math.abs(x.avg_stars - y.avg_stars) < 1e-9,
  );
  return diffs;
}
