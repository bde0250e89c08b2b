import { META } from '../../vault/tables.js';
import { US_PER_DAY } from '../../values/index.js';
import { ZERO, dayOfEpochDay } from '../sql.js';
import type { CheckContext } from '../types.js';
import { vaultTableByName } from '../checks/common.js';
import { RECONCILE_SPECS, UNKNOWN_DAY, addCount, type DayCounts, type ReconcileSpec } from './spec.js';

/** Latest row per key: greatest commit time, a delete winning a tie (as ReplacingMergeTree(is_deleted)). */
const LATEST = `${META.effectiveUs} * 2 + ${META.isDeleted}`;

/** Live keys per day of one source table in the vault, counted in ClickHouse. */
export function vaultCountSql(ctx: CheckContext, spec: ReconcileSpec): string {
  const sat = vaultTableByName(spec.sat);
  const parent = vaultTableByName(sat.parents[0]!.table);
  const v = ctx.dbs.vault;
  const hk = sat.hashKey;
  const child = sat.columns.filter((c) => c.role === 'child_key').map((c) => c.name);
  const w = ctx.window;
  // A row created on day D is committed on D or later (events: a moment before midnight at most).
  const prune = w ? ` AND ${META.effectiveTs} >= toDateTime(${w.startSec - 86_400}, 'UTC')` : '';
  const scope = `${hk} != ${ZERO} AND ${spec.satWhere} AND ${hk} GLOBAL IN (SELECT ${parent.hashKey} FROM ${v}.${parent.name})`;
  const only = w ? ` AND d = ${w.epochDay}` : '';
  if (!spec.daySat) {
    return `SELECT d, count() AS n FROM (
        SELECT argMax(${META.isDeleted}, ${LATEST}) AS del,
               intDiv(argMaxIf(${spec.dayAttribute}, ${META.effectiveUs}, isNotNull(${spec.dayAttribute})), ${US_PER_DAY}) AS d
        FROM ${v}.${sat.name} WHERE ${scope}${prune}
        GROUP BY ${[hk, ...child].join(', ')}
      ) AS k WHERE del = 0${only} GROUP BY d`;
  }
  const daySat = vaultTableByName(spec.daySat);
  return `SELECT d, count() AS n FROM (
      SELECT ${hk}, argMax(${META.isDeleted}, ${LATEST}) AS del
      FROM ${v}.${sat.name} WHERE ${scope}${prune}
      GROUP BY ${[hk, ...child].join(', ')}
    ) AS k
    ANY LEFT JOIN (
      SELECT ${daySat.hashKey} AS ${hk}, intDiv(argMaxIf(${spec.dayAttribute}, ${META.effectiveUs}, isNotNull(${spec.dayAttribute})), ${US_PER_DAY}) AS d
      FROM ${v}.${daySat.name} GROUP BY ${daySat.hashKey}
    ) AS u USING (${hk})
    WHERE del = 0${only} GROUP BY d`;
}

/** Vault counts for every source table (memoised per run: two checks use them). */
export function vaultCounts(ctx: CheckContext): Promise<DayCounts> {
  const key = 'vault-counts';
  let p = ctx.cache.get(key) as Promise<DayCounts> | undefined;
  if (!p) {
    p = (async () => {
      const out: DayCounts = new Map();
      for (const spec of RECONCILE_SPECS) {
        out.set(spec.table, new Map());
        const rows = await ctx.wh.query<{ d: string | number | null; n: string | number }>(
          vaultCountSql(ctx, spec),
        );
        for (const r of rows)
          addCount(out, spec.table, r.d === null ? UNKNOWN_DAY : dayOfEpochDay(Number(r.d)), Number(r.n));
      }
      return out;
    })();
    ctx.cache.set(key, p);
  }
  return p;
}
