import { FEEDS, SATELLITES, type FeedTarget, type SatelliteName } from '../../vault/model.js';
import { satelliteParent } from '../../vault/tables.js';
import { SOURCE_TABLES, type SourceTable } from '../../vault/types.js';
import { LAKE_SCHEMAS } from '../../lake/schema.js';
import { sqlString } from '../../vault/sql.js';

/**
 * What "a row of source table T on day D" is, in the sources, the lake and the vault alike: a row
 * that exists now (not deleted), counted on the UTC day of its own creation column (`created_at`
 * for the PostgreSQL tables, `ts` for the MongoDB events; auth_credentials on its user's day).
 * In the vault that is a key whose latest satellite row is not a delete; the day comes from the
 * satellite attribute the model maps that column to (vault/model.ts FEEDS), so a model change
 * carries over.
 */
export interface ReconcileSpec {
  table: SourceTable;
  /** Source key columns (lake and MongoDB: `_id`). */
  key: string[];
  /** The source column whose UTC day buckets the row, or the users join for auth_credentials. */
  day: { column: string } | { viaUsers: { userKey: string; column: string } };
  sat: SatelliteName;
  /** Satellite rows of this source (a constant child key such as status = 'placed'). */
  satWhere: string;
  /** The satellite attribute holding the day column (or, for viaUsers, the users satellite's). */
  dayAttribute: string;
  /** viaUsers: the satellite with the users' day attribute (same parent hub). */
  daySat?: SatelliteName;
}

const DAY_COLUMN: Record<SourceTable, ReconcileSpec['day']> = {
  sellers: { column: 'created_at' },
  users: { column: 'created_at' },
  products: { column: 'created_at' },
  auth_credentials: { viaUsers: { userKey: 'user_id', column: 'created_at' } },
  purchases: { column: 'ts' },
  cancellations: { column: 'ts' },
  ratings: { column: 'ts' },
};

type SatTarget = Extract<FeedTarget, { sat: SatelliteName }>;

function satTarget(table: SourceTable): SatTarget {
  const t = FEEDS[table].targets.find((x): x is SatTarget => 'sat' in x);
  if (!t) throw new Error(`feed ${table} has no satellite target`);
  return t;
}

function attributeFor(t: SatTarget, column: string, where: string): string {
  const hit = Object.entries(t.attributes).find(([, ref]) => 'col' in ref && ref.col === column);
  if (!hit) throw new Error(`${where}: no attribute of ${t.sat} is fed by column ${column}`);
  return hit[0];
}

function build(table: SourceTable): ReconcileSpec {
  const t = satTarget(table);
  const conds = SATELLITES[t.sat].childKey.map((c) => {
    const ref = t.childKey?.[c.name];
    return ref && 'const' in ref
      ? `${c.name} = ${typeof ref.const === 'number' ? ref.const : sqlString(ref.const)}`
      : null;
  });
  const satWhere = conds.filter((c): c is string => c !== null).join(' AND ') || '1';
  const day = DAY_COLUMN[table];
  if ('column' in day) {
    return {
      table,
      key: LAKE_SCHEMAS[table].key,
      day,
      sat: t.sat,
      satWhere,
      dayAttribute: attributeFor(t, day.column, table),
    };
  }
  const users = satTarget('users');
  if (satelliteParent(users.sat).hk !== satelliteParent(t.sat).hk)
    throw new Error(`${t.sat} and ${users.sat} do not share a hub`);
  return {
    table,
    key: LAKE_SCHEMAS[table].key,
    day,
    sat: t.sat,
    satWhere,
    dayAttribute: attributeFor(users, day.viaUsers.column, 'users'),
    daySat: users.sat,
  };
}

export const RECONCILE_SPECS: readonly ReconcileSpec[] = SOURCE_TABLES.map(build);

/** Counts of one side: table → day (YYYY-MM-DD, or "unknown") → rows. */
export type DayCounts = Map<SourceTable, Map<string, number>>;

export const UNKNOWN_DAY = 'unknown';

export function addCount(counts: DayCounts, table: SourceTable, day: string, n: number): void {
  let m = counts.get(table);
  if (!m) counts.set(table, (m = new Map()));
  m.set(day, (m.get(day) ?? 0) + n);
}

export function dayOfUs(us: number | null | undefined): string {
  if (us === null || us === undefined || !Number.isFinite(us)) return UNKNOWN_DAY;
  return new Date(Math.floor(us / 1000)).toISOString().slice(0, 10);
}
