import type { Dialect } from '../warehouse/dialect.js';
import type { VaultDatabases } from './tables.js';

/**
 * The BI marts of docs/CONTRACT.md §6 as views over the vault. Semantics (docs/HASHING.md, "Marts"):
 * - a purchase counts in its current version (latest satellite row of status 'placed'), on the UTC
 *   day of its `ts`; a deleted purchase does not count; a later cancellation does not remove it;
 * - a cancellation counts on the day of its own `ts` (one per order: its latest, unless deleted);
 * - category: the product's latest known (non-null) category, a delete's old row included, else 'unknown';
 * - product_ratings: per (user, product), the live rating document with the latest `ts`.
 * Written for ClickHouse 18.16 (one JOIN per SELECT, explicit ANY/ALL, aliased subqueries,
 * INNER joins as ALL against right sides made unique (ANY INNER also dedupes the left side from 20.x),
 * UNION ALL with identical types) and current versions alike.
 */
export interface MartColumn {
  name: string;
  type: string;
}

export const MART_VIEWS: Readonly<Record<string, readonly MartColumn[]>> = {
  daily_orders: [
    { name: 'day', type: 'Date' },
    { name: 'orders', type: 'UInt64' },
    { name: 'buyers', type: 'UInt64' },
    { name: 'units', type: 'UInt64' },
    { name: 'gross_revenue', type: 'Decimal(18, 2)' },
    { name: 'cancellations', type: 'UInt64' },
  ],
  daily_sales_by_category: [
    { name: 'day', type: 'Date' },
    { name: 'category', type: 'String' },
    { name: 'orders', type: 'UInt64' },
    { name: 'units', type: 'UInt64' },
    { name: 'gross_revenue', type: 'Decimal(18, 2)' },
  ],
  product_ratings: [
    { name: 'product_id', type: 'UInt64' },
    { name: 'ratings', type: 'UInt64' },
    { name: 'avg_stars', type: 'Float64' },
  ],
};

export const UNKNOWN_CATEGORY = 'unknown';

const dayOf = (usExpr: string) => `toDate(toDateTime(intDiv(assumeNotNull(${usExpr}), 1000000), 'UTC'))`;

/** Current version of every live purchase: hk_order, eff_us (its commit time), day, units, total. */
function placedOrders(v: string): string {
  return `SELECT hk_order, eff_us, ${dayOf('ts_us')} AS day, assumeNotNull(o_units) AS units, assumeNotNull(o_total) AS total
    FROM
    (
        SELECT hk_order, max(effective_us) AS eff_us, argMax(is_deleted, effective_us) AS deleted,
               argMax(event_ts_us, effective_us) AS ts_us, argMax(units, effective_us) AS o_units,
               argMax(total_amount, effective_us) AS o_total
        FROM ${v}.sat_order FINAL
        WHERE status = 'placed'
        GROUP BY hk_order
    ) AS o
    WHERE deleted = 0`;
}

function cancelledOrders(v: string): string {
  return `SELECT hk_order, ${dayOf('ts_us')} AS day
    FROM
    (
        SELECT hk_order, argMax(is_deleted, effective_us) AS deleted, argMax(event_ts_us, effective_us) AS ts_us
        FROM ${v}.sat_order FINAL
        WHERE status = 'cancelled'
        GROUP BY hk_order
    ) AS c
    WHERE deleted = 0`;
}

export function martSelectSql(
  view: keyof typeof MART_VIEWS | string,
  dbs: VaultDatabases,
  _d: Dialect,
): string {
  const v = dbs.vault;
  switch (view) {
    case 'daily_orders':
      return `SELECT day, toUInt64(sum(orders)) AS orders, toUInt64(sum(buyers)) AS buyers, toUInt64(sum(units)) AS units,
       toDecimal64(sum(gross_revenue), 2) AS gross_revenue, toUInt64(sum(cancellations)) AS cancellations
FROM
(
    SELECT day, toUInt64(count()) AS orders, toUInt64(uniqExact(hk_user)) AS buyers, toUInt64(sum(units)) AS units,
           toDecimal64(sum(total), 2) AS gross_revenue, toUInt64(0) AS cancellations
    FROM
    (
        ${placedOrders(v)}
    ) AS p
    ANY LEFT JOIN
    (
        SELECT hk_order, any(hk_user) AS hk_user FROM ${v}.link_order_user GROUP BY hk_order
    ) AS u USING (hk_order)
    GROUP BY day
    UNION ALL
    SELECT day, toUInt64(0), toUInt64(0), toUInt64(0), toDecimal64(0, 2), toUInt64(count())
    FROM
    (
        ${cancelledOrders(v)}
    ) AS c
    GROUP BY day
) AS x
GROUP BY day`;
    case 'daily_sales_by_category':
      return `SELECT day, category, toUInt64(uniqExact(hk_order)) AS orders, toUInt64(sum(qty)) AS units,
       toDecimal64(sum(amount), 2) AS gross_revenue
FROM
(
    SELECT day, hk_order, qty, amount, if(p_category = '', '${UNKNOWN_CATEGORY}', p_category) AS category
    FROM
    (
        SELECT hk_order, hk_product, eff_us, qty, amount, day
        FROM
        (
            SELECT hk_order, hk_product, eff_us, qty, amount
            FROM
            (
                SELECT hk_order_line, effective_us AS eff_us, assumeNotNull(qty) AS qty,
                       assumeNotNull(unit_price) * assumeNotNull(qty) AS amount
                FROM ${v}.sat_order_line FINAL
                WHERE is_deleted = 0
            ) AS l
            ALL INNER JOIN
            (
                SELECT hk_order_line, hk_order, hk_product FROM ${v}.link_order_line FINAL
            ) AS k USING (hk_order_line)
        ) AS lk
        ALL INNER JOIN
        (
            ${placedOrders(v)}
        ) AS p USING (hk_order, eff_us)
    ) AS lp
    ANY LEFT JOIN
    (
        SELECT hk_product, assumeNotNull(argMax(category, effective_us)) AS p_category
        FROM ${v}.sat_product FINAL
        WHERE isNotNull(category)
        GROUP BY hk_product
    ) AS pc USING (hk_product)
) AS y
GROUP BY day, category`;
    case 'product_ratings':
      return `SELECT product_id, toUInt64(count()) AS ratings, toFloat64(avg(assumeNotNull(r_stars))) AS avg_stars
FROM
(
    SELECT hk_rating, r_stars, hk_product
    FROM
    (
        SELECT hk_rating, argMax(d_stars, (rated, rating_id)) AS r_stars
        FROM
        (
            SELECT hk_rating, rating_id, argMax(is_deleted, effective_us) AS deleted,
                   argMax(stars, effective_us) AS d_stars, argMax(rated_ts_us, effective_us) AS rated
            FROM ${v}.sat_rating FINAL
            GROUP BY hk_rating, rating_id
        ) AS d
        WHERE deleted = 0
        GROUP BY hk_rating
    ) AS r
    ALL INNER JOIN
    (
        SELECT hk_rating, hk_product FROM ${v}.link_rating FINAL
    ) AS k USING (hk_rating)
) AS rp
ALL INNER JOIN
(
    SELECT hk_product, product_id FROM ${v}.hub_product FINAL
) AS h USING (hk_product)
GROUP BY product_id`;
    default:
      throw new Error(`"${view}" is not a mart view`);
  }
}
