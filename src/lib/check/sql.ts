import { DELIMITER, NULL_TOKEN, ZERO_KEY } from '../vault/hashing.js';
import { keyPartSql, sqlString } from '../vault/sql.js';
import { META, type VaultColumn, type VaultTable } from '../vault/tables.js';
import type { Dialect } from '../warehouse/dialect.js';
import type { CheckContext, DayWindow } from './types.js';

/** SQL building blocks shared by the checks. Every value leaves ClickHouse as a string or number. */

export const ZERO = sqlString(ZERO_KEY);
const HK_RE = sqlString('^[0-9A-F]{32}$');

/** A hash key of the spec's form: 32 upper-case hex digits (zero bytes or '' are not). */
export function wellFormed(col: string): string {
  return `match(toString(${col}), ${HK_RE})`;
}

/** A hash key as text; malformed ones as 0x<hex> so zero bytes stay visible. */
export function keyText(col: string): string {
  return `if(${wellFormed(col)}, toString(${col}), concat('0x', hex(${col})))`;
}

export const columnsOf = (t: VaultTable, role: VaultColumn['role']): VaultColumn[] =>
  t.columns.filter((c) => c.role === role);

/** `name=value, …` of key columns (business or child keys), for samples. */
export function labelSql(cols: readonly VaultColumn[], alias = ''): string {
  if (cols.length === 0) return "''";
  const p = alias ? `${alias}.` : '';
  const parts: string[] = [];
  cols.forEach((c, i) => {
    parts.push(sqlString(`${i > 0 ? ', ' : ''}${c.name}=`), `toString(${p}${c.name})`);
  });
  return `concat(${parts.join(', ')})`;
}

/** `label=value, …` of arbitrary expressions. */
export function labelPairsSql(pairs: readonly { label: string; expr: string }[]): string {
  if (pairs.length === 0) return "''";
  const out: string[] = [];
  pairs.forEach((q, i) => out.push(sqlString(`${i > 0 ? ', ' : ''}${q.label}=`), `toString(${q.expr})`));
  return `concat(${out.join(', ')})`;
}

/** The normalised business-key preimage (trim, upper-case, null token, joined): what is hashed. */
export function preimageSql(parts: readonly { expr: string; col: VaultColumn }[], d: Dialect): string {
  const items = parts.map((p) => keyPartSql(p.expr, p.col.spec ?? { kind: 'string' }, d));
  if (items.length === 1) return items[0]!;
  const withDelims: string[] = [];
  items.forEach((x, i) => {
    if (i > 0) withDelims.push(sqlString(DELIMITER));
    withDelims.push(x);
  });
  return `concat(${withDelims.join(', ')})`;
}

/** True when any key part is null or blank after normalisation. */
export function anyEmptyPartSql(parts: readonly { expr: string; col: VaultColumn }[], d: Dialect): string {
  if (parts.length === 0) return '0';
  return `(${parts.map((p) => `${keyPartSql(p.expr, p.col.spec ?? { kind: 'string' }, d)} = ${sqlString(NULL_TOKEN)}`).join(' OR ')})`;
}

/** Child-key columns of a satellite as one string (GROUP BY and comparisons with the lake). */
export function childKeySql(t: VaultTable, alias = ''): string {
  const cols = columnsOf(t, 'child_key');
  const p = alias ? `${alias}.` : '';
  if (cols.length === 0) return "''";
  if (cols.length === 1) return `toString(${p}${cols[0]!.name})`;
  const parts: string[] = [];
  cols.forEach((c, i) => {
    if (i > 0) parts.push(sqlString('|'));
    parts.push(`toString(${p}${c.name})`);
  });
  return `concat(${parts.join(', ')})`;
}

/** The rows of one day (--date): satellites by commit day (partition pruning), hubs and links by first sighting. */
export function dayFilter(t: VaultTable, w: DayWindow | undefined, alias = ''): string {
  if (!w) return '1';
  const p = alias ? `${alias}.` : '';
  if (t.kind === 'satellite') {
    return `(${p}${META.effectiveTs} >= toDateTime(${w.startSec}, 'UTC') AND ${p}${META.effectiveTs} < toDateTime(${w.endSec}, 'UTC'))`;
  }
  return `(${p}${META.firstSeenUs} >= ${w.startUs} AND ${p}${META.firstSeenUs} < ${w.endUs})`;
}

export function tableName(ctx: CheckContext, t: VaultTable | string): string {
  return `${ctx.dbs.vault}.${typeof t === 'string' ? t : t.name}`;
}

/**
 * Wraps a query of offending rows (columns k, x: the key label and a detail) into one row with
 * their number and the first few: one scan, however many offenders there are.
 */
export function countAndSample(offenders: string, n: number): string {
  return `SELECT count() AS n, groupArray(${n})(tuple(k, x)) AS s FROM (${offenders}) AS offenders`;
}

export interface CountAndSample {
  n: number;
  s: Array<[string, string]>;
}

export async function runCountAndSample(ctx: CheckContext, offenders: string): Promise<CountAndSample> {
  const rows = await ctx.wh.query<{ n: string | number; s: Array<[string, string]> }>(
    countAndSample(offenders, ctx.sampleSize),
  );
  const r = rows[0];
  return { n: Number(r?.n ?? 0), s: r?.s ?? [] };
}

/** epoch µs → ISO-8601 with microseconds. */
export function isoOfMicros(us: number | string): string {
  const n = Number(us);
  if (!Number.isFinite(n)) return String(us);
  const ms = Math.floor(n / 1000);
  const rest = Math.round(n - ms * 1000);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(us);
  return `${d.toISOString().slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}

/** SQL for an epoch-µs column as ISO text in samples (formatted in SQL: samples are built there). */
export function isoSql(usExpr: string): string {
  return `concat(replaceOne(toString(toDateTime(intDiv(${usExpr}, 1000000), 'UTC')), ' ', 'T'), '.', substring(toString(1000000 + (${usExpr}) % 1000000), 2), 'Z')`;
}

export { dateOfEpochDay as dayOfEpochDay } from '../values/index.js';

/** A readable label of one row of any vault table (hub: business key; satellite: key and time). */
export function rowLabelSql(t: VaultTable): string {
  if (t.kind === 'hub')
    return `concat(${labelSql(columnsOf(t, 'business_key'))}, ' (${t.hashKey}=', ${keyText(t.hashKey)}, ')')`;
  const child = columnsOf(t, 'child_key');
  const childPart = child.length > 0 ? `', ', ${labelSql(child)}, ` : '';
  if (t.kind === 'link')
    return `concat('${t.hashKey}=', ${keyText(t.hashKey)}${child.length ? `, ', ', ${labelSql(child)}` : ''})`;
  return `concat('${t.hashKey}=', ${keyText(t.hashKey)}, ${childPart}' @', ${isoSql(META.effectiveUs)})`;
}
