import { MART_VIEWS, UNKNOWN_CATEGORY } from '../../vault/marts.js';
import { US_PER_DAY } from '../../values/index.js';
import { ZERO } from '../sql.js';
import { sqlString } from '../../warehouse/quote.js';
import type { CheckContext, CheckDefinition } from '../types.js';
import { Findings, plural } from './common.js';

/**
 * The marts recomputed from the vault tables with SQL written here, independently of the views
 * (sat_product read through FINAL, so versions sharing one commit time resolve as the views do;
 * otherwise the latest row per key by commit time, a delete winning a tie, and exact cents), and
 * compared row by row with the mart views. Semantics as the views document (vault/marts.ts).
 * Joins are ALL against a right side grouped to one row per key: from 20.x `ANY INNER JOIN` also
 * keeps one row per key of the left side (measured on 26.7: ratings per product collapsed to one).
 */
const LATEST = `effective_us * 2 + is_deleted`;

function placed(v: string): string {
  return `SELECT hk_order, eff, toUInt32(intDiv(assumeNotNull(ts), ${US_PER_DAY})) AS d, toUInt64(assumeNotNull(u)) AS units,
                 toInt64(assumeNotNull(t) * 100) AS cents
          FROM (
            SELECT hk_order, max(effective_us) AS eff, argMax(is_deleted, ${LATEST}) AS del,
                   argMax(event_ts_us, ${LATEST}) AS ts, argMax(units, ${LATEST}) AS u, argMax(total_amount, ${LATEST}) AS t
            FROM ${v}.sat_order WHERE status = 'placed' AND hk_order != ${ZERO} GROUP BY hk_order
          ) AS o WHERE del = 0`;
}

function cancelled(v: string): string {
  return `SELECT hk_order, toUInt32(intDiv(assumeNotNull(ts), ${US_PER_DAY})) AS d
          FROM (
            SELECT hk_order, argMax(is_deleted, ${LATEST}) AS del, argMax(event_ts_us, ${LATEST}) AS ts
            FROM ${v}.sat_order WHERE status = 'cancelled' AND hk_order != ${ZERO} GROUP BY hk_order
          ) AS c WHERE del = 0`;
}

function dailyOrdersFromVault(v: string): string {
  return `SELECT d, toUInt64(sum(o)) AS orders, toUInt64(sum(b)) AS buyers, toUInt64(sum(u)) AS units, toInt64(sum(c)) AS cents, toUInt64(sum(x)) AS cancellations
          FROM (
            SELECT d, toUInt64(count()) AS o, toUInt64(uniqExact(hk_user)) AS b, toUInt64(sum(units)) AS u, toInt64(sum(cents)) AS c, toUInt64(0) AS x
            FROM (${placed(v)}) AS p
            ANY LEFT JOIN (SELECT hk_order, any(hk_user) AS hk_user FROM ${v}.link_order_user GROUP BY hk_order) AS ou USING (hk_order)
            GROUP BY d
            UNION ALL
            SELECT d, toUInt64(0), toUInt64(0), toUInt64(0), toInt64(0), toUInt64(count()) FROM (${cancelled(v)}) AS cc GROUP BY d
          ) AS y GROUP BY d`;
}

function salesByCategoryFromVault(v: string): string {
  return `SELECT d, if(cat = '', '${UNKNOWN_CATEGORY}', cat) AS category, toUInt64(uniqExact(hk_order)) AS orders, toUInt64(sum(qty)) AS units, toInt64(sum(cents)) AS cents
          FROM (
            SELECT d, hk_order, qty, cents, cat FROM (
              SELECT d, hk_order, hk_product, qty, cents FROM (
                SELECT hk_order, hk_product, eff, qty, cents FROM (
                  SELECT DISTINCT hk_order_line, effective_us AS eff, toUInt64(assumeNotNull(qty)) AS qty,
                         toInt64(assumeNotNull(qty)) * toInt64(assumeNotNull(unit_price) * 100) AS cents
                  FROM ${v}.sat_order_line WHERE is_deleted = 0 AND hk_order_line != ${ZERO}
                ) AS l
                ALL INNER JOIN (SELECT hk_order_line, any(hk_order) AS hk_order, any(hk_product) AS hk_product FROM ${v}.link_order_line GROUP BY hk_order_line) AS k
                USING (hk_order_line)
              ) AS lk
              ALL INNER JOIN (SELECT hk_order, eff, d FROM (${placed(v)}) AS p0) AS p USING (hk_order, eff)
            ) AS lp
            ANY LEFT JOIN (
              SELECT hk_product, assumeNotNull(argMax(category, effective_us)) AS cat
              FROM ${v}.sat_product FINAL WHERE isNotNull(category) GROUP BY hk_product
            ) AS pc USING (hk_product)
          ) AS z GROUP BY d, category`;
}

function productRatingsFromVault(v: string): string {
  return `SELECT product_id, toUInt64(count()) AS ratings, toFloat64(avg(s)) AS avg_stars
          FROM (
            SELECT hk_product, s FROM (
              SELECT hk_rating, argMax(st, (rated, rating_id)) AS s FROM (
                SELECT hk_rating, rating_id, argMax(is_deleted, ${LATEST}) AS del, argMax(stars, ${LATEST}) AS st, argMax(rated_ts_us, ${LATEST}) AS rated
                FROM ${v}.sat_rating WHERE hk_rating != ${ZERO} GROUP BY hk_rating, rating_id
              ) AS r WHERE del = 0 GROUP BY hk_rating
            ) AS lr
            ALL INNER JOIN (SELECT hk_rating, any(hk_product) AS hk_product FROM ${v}.link_rating GROUP BY hk_rating) AS k USING (hk_rating)
          ) AS rp
          ALL INNER JOIN (SELECT hk_product, any(product_id) AS product_id FROM ${v}.hub_product GROUP BY hk_product) AS h USING (hk_product)
          GROUP BY product_id`;
}

interface Compared {
  view: string;
  key: string[];
  /** [column, type, mart expression, vault column, float tolerance?] */
  values: Array<{ name: string; type: string; mart: string; vault: string; eps?: number }>;
  vaultSql: (v: string) => string;
  dayKey: boolean;
}

const COMPARED: Compared[] = [
  {
    view: 'daily_orders',
    key: ['d'],
    dayKey: true,
    values: [
      { name: 'orders', type: 'UInt64', mart: 'orders', vault: 'orders' },
      { name: 'buyers', type: 'UInt64', mart: 'buyers', vault: 'buyers' },
      { name: 'units', type: 'UInt64', mart: 'units', vault: 'units' },
      { name: 'gross_revenue_cents', type: 'Int64', mart: 'gross_revenue * 100', vault: 'cents' },
      { name: 'cancellations', type: 'UInt64', mart: 'cancellations', vault: 'cancellations' },
    ],
    vaultSql: dailyOrdersFromVault,
  },
  {
    view: 'daily_sales_by_category',
    key: ['d', 'category'],
    dayKey: true,
    values: [
      { name: 'orders', type: 'UInt64', mart: 'orders', vault: 'orders' },
      { name: 'units', type: 'UInt64', mart: 'units', vault: 'units' },
      { name: 'gross_revenue_cents', type: 'Int64', mart: 'gross_revenue * 100', vault: 'cents' },
    ],
    vaultSql: salesByCategoryFromVault,
  },
  {
    view: 'product_ratings',
    key: ['product_id'],
    dayKey: false,
    values: [
      { name: 'ratings', type: 'UInt64', mart: 'ratings', vault: 'ratings' },
      { name: 'avg_stars', type: 'Float64', mart: 'avg_stars', vault: 'avg_stars', eps: 1e-9 },
    ],
    vaultSql: productRatingsFromVault,
  },
];

function compareSql(ctx: CheckContext, c: Compared): string {
  const v = ctx.dbs.vault;
  const m = `${ctx.dbs.mart}.${c.view}`;
  const keyCols = c.key.map((k) =>
    k === 'd'
      ? 'toUInt32(d) AS d'
      : k === 'category'
        ? 'toString(category) AS category'
        : `toUInt64(${k}) AS ${k}`,
  );
  const martKeyCols = c.key.map((k) =>
    k === 'd'
      ? 'toUInt32(day) AS d'
      : k === 'category'
        ? 'toString(category) AS category'
        : `toUInt64(${k}) AS ${k}`,
  );
  const cast = (t: string, e: string) => `to${t}(assumeNotNull(${e}))`;
  const dayWhereMart = c.dayKey && ctx.window ? ` WHERE toUInt32(day) = ${ctx.window.epochDay}` : '';
  const dayWhereVault = c.dayKey && ctx.window ? ` WHERE d = ${ctx.window.epochDay}` : '';
  const union = `SELECT toUInt8(1) AS src, ${martKeyCols.join(', ')}, ${c.values.map((x) => `${cast(x.type, x.mart)} AS ${x.name}`).join(', ')} FROM ${m}${dayWhereMart}
    UNION ALL
    SELECT toUInt8(0) AS src, ${keyCols.join(', ')}, ${c.values.map((x) => `${cast(x.type, x.vault)} AS ${x.name}`).join(', ')} FROM (${c.vaultSql(v)}) AS vv${dayWhereVault}`;
  const agg = c.values
    .map((x) => `sumIf(${x.name}, src = 1) AS m_${x.name}, sumIf(${x.name}, src = 0) AS v_${x.name}`)
    .join(', ');
  const differs = c.values.map((x) =>
    x.eps ? `abs(m_${x.name} - v_${x.name}) > ${x.eps}` : `m_${x.name} != v_${x.name}`,
  );
  const keyLabel = c.key
    .map(
      (k, i) =>
        `'${i > 0 ? ', ' : ''}${k === 'd' ? 'day' : k}=', ${k === 'd' ? 'toString(toDate(d))' : `toString(${k})`}`,
    )
    .join(', ');
  const detail = `arrayStringConcat(arrayFilter(s -> s != '', [
      if(mrows = 0, 'missing from the mart', ''), if(vrows = 0, 'not in the vault', ''),
      ${c.values.map((x, i) => `if(${differs[i]}, concat('${x.name} mart ', toString(m_${x.name}), ' vault ', toString(v_${x.name})), '')`).join(',\n      ')}]), '; ')`;
  return `SELECT concat(${keyLabel}) AS k, ${detail} AS x FROM (
      SELECT ${c.key.join(', ')}, countIf(src = 1) AS mrows, countIf(src = 0) AS vrows, ${agg}
      FROM (${union}) AS u GROUP BY ${c.key.join(', ')}
    ) AS g
    WHERE mrows != vrows OR ${differs.join(' OR ')}`;
}

export const reconcileMarts: CheckDefinition = {
  id: 'reconcile-marts',
  group: 'reconciliation',
  severity: 'error',
  title: 'Marts against the vault',
  explanation:
    'The figures of mart.daily_orders, mart.daily_sales_by_category and mart.product_ratings are recomputed from the vault tables with SQL of this check (independent of the views) and compared row by row (money in exact cents). A difference means a view definition that drifted from the vault (an unapplied or hand-edited migration) or a mart that was materialised from other data.',
  async run(ctx) {
    const rows = await ctx.wh.query<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = ${sqlString(ctx.dbs.mart)}`,
    );
    const present = new Set(rows.map((r) => r.name));
    const missing = Object.keys(MART_VIEWS).filter((v) => !present.has(v));
    if (missing.length > 0) {
      return {
        status: 'skip',
        message: `mart views ${missing.map((v) => `${ctx.dbs.mart}.${v}`).join(', ')} do not exist (run \`shopdata warehouse migrate\`)`,
      };
    }
    const f = new Findings(ctx.sampleSize);
    for (const c of COMPARED) await f.query(ctx, `${ctx.dbs.mart}.${c.view}`, compareSql(ctx, c));
    return f.outcome((n) => `${plural(n, 'mart row')} ${n === 1 ? 'differs' : 'differ'} from the vault`);
  },
};
