import type { Dialect } from '../warehouse/dialect.js';
import { sqlString } from '../warehouse/quote.js';
import { DELIMITER, NULL_TOKEN, TRIM_CHARS, ZERO_KEY } from './hashing.js';
import {
  HUBS,
  SATELLITES,
  type ColumnSpec,
  type HubName,
  type PiiNormaliserRef,
  type SatelliteName,
} from './model.js';

/**
 * The hashing spec of hashing.ts as ClickHouse SQL expressions, generated from the same model, so
 * keys and hashdiffs can be recomputed (and checked) inside the warehouse. Bit-identical to the
 * TypeScript on 18.16 and 26 (test/integration/vault/hash-sql.test.ts).
 */

// The one literal quoting helper lives with the warehouse; re-exported for the SQL built on it.
export { sqlString };

const TRIM_CLASS = `[${[...TRIM_CHARS].map((c) => ({ ' ': ' ', '\t': '\\t', '\n': '\\n', '\u000b': '\\v', '\f': '\\f', '\r': '\\r' })[c]).join('')}]`;
/** RE2 pattern removing ASCII whitespace at both ends (18.16 has no trim/trimBoth). */
const TRIM_PATTERN = `^${TRIM_CLASS}+|${TRIM_CLASS}+$`;

/** Removes ASCII whitespace at both ends: `trim(BOTH …)` from 23.3 (several times faster), else a regexp. */
export function trimSql(expr: string, d?: Dialect): string {
  const v = d?.version;
  if (v && (v.major > 23 || (v.major === 23 && v.minor >= 3)))
    return `trim(BOTH ' \\t\\n\\x0B\\f\\r' FROM ${expr})`;
  return `replaceRegexpAll(${expr}, ${sqlString(TRIM_PATTERN)}, '')`;
}

/** The canonical text of a typed expression (Nullable in → Nullable out). */
export function textSql(expr: string, spec: Pick<ColumnSpec, 'kind' | 'scale'>, d: Dialect): string {
  if (spec.kind === 'decimal') return d.decimalText(expr, spec.scale ?? 0);
  if (spec.kind === 'string' || spec.kind === 'pii') return expr;
  return `toString(${expr})`;
}

/** Kinds whose text has no whitespace, no letters and is never empty (as `normaliseKeyPart` skips them). */
const NUMERIC_KINDS: ReadonlySet<string> = new Set(['int', 'timestamp', 'bool', 'decimal']);

/** One normalised business-key component: trim, upper-case (ASCII), null/empty → NULL_TOKEN. */
export function keyPartSql(expr: string, spec: Pick<ColumnSpec, 'kind' | 'scale'>, d: Dialect): string {
  if (NUMERIC_KINDS.has(spec.kind)) return `ifNull(${textSql(expr, spec, d)}, ${sqlString(NULL_TOKEN)})`;
  return `ifNull(nullIf(upper(${trimSql(textSql(expr, spec, d), d)}), ''), ${sqlString(NULL_TOKEN)})`;
}

function joinSql(parts: string[]): string {
  if (parts.length === 1) return parts[0]!;
  const withDelims: string[] = [];
  parts.forEach((p, i) => {
    if (i > 0) withDelims.push(sqlString(DELIMITER));
    withDelims.push(p);
  });
  return `concat(${withDelims.join(', ')})`;
}

export interface TypedExpr {
  expr: string;
  spec: Pick<ColumnSpec, 'kind' | 'scale'>;
}

/** A hash key over typed expressions (hub: its business key; link: hub keys then child keys). */
export function hashKeySql(parts: readonly TypedExpr[], d: Dialect): string {
  const pre = joinSql(parts.map((p) => keyPartSql(p.expr, p.spec, d)));
  const allNull = parts.map(() => NULL_TOKEN).join(DELIMITER);
  return `if(${pre} = ${sqlString(allNull)}, ${sqlString(ZERO_KEY)}, hex(MD5(${pre})))`;
}

/** A hashdiff over typed expressions, in order: null → NULL_TOKEN, no trim, no case change. */
export function hashdiffOfSql(parts: readonly TypedExpr[], d: Dialect): string {
  const pre = joinSql(parts.map((p) => `ifNull(${textSql(p.expr, p.spec, d)}, ${sqlString(NULL_TOKEN)})`));
  return `hex(MD5(${pre}))`;
}

/** The hash key of a hub recomputed from its stored business-key columns. */
export function hubHashKeySql(hub: HubName, d: Dialect, alias = ''): string {
  const p = alias ? `${alias}.` : '';
  return hashKeySql(
    HUBS[hub].businessKey.map((c) => ({ expr: p + c.name, spec: c })),
    d,
  );
}

/** A satellite's hashdiff recomputed from its stored attribute columns. */
export function satelliteHashdiffSql(sat: SatelliteName, d: Dialect, alias = ''): string {
  const p = alias ? `${alias}.` : '';
  return hashdiffOfSql(
    SATELLITES[sat].attributes.map((c) => ({ expr: p + c.name, spec: c })),
    d,
  );
}

/**
 * HMAC-SHA-256 of personal data keyed with the salt, as `piiHash`. `keySql` is an SQL String
 * expression that yields the salt on the server (backfill pull reads it from a table), so the
 * salt is never in the SQL text or `system.query_log`. Servers before 25.12 compute the HMAC from
 * SHA256 (Dialect.hmacSha256Hex).
 */
export function piiSql(expr: string, keySql: string, how: PiiNormaliserRef, d: Dialect): string {
  const norm = how === 'email' ? `lower(${trimSql(expr)})` : trimSql(expr);
  return `if(isNull(${expr}), NULL, ${d.hmacSha256Hex(`assumeNotNull(${norm})`, keySql)})`;
}
