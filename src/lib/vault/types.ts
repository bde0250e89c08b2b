/**
 * The normalised change: what both runners (stream from Debezium, backfill from the lake) hand to
 * the one mapping that produces Data Vault rows. Decoders must produce exactly these canonical
 * values so that the same source change gives bit-identical vault rows on either path.
 */
export const SOURCE_TABLES = [
  'sellers',
  'users',
  'auth_credentials',
  'products',
  'purchases',
  'cancellations',
  'ratings',
] as const;
export type SourceTable = (typeof SOURCE_TABLES)[number];

export function isSourceTable(name: string): name is SourceTable {
  return (SOURCE_TABLES as readonly string[]).includes(name);
}

/**
 * Canonical values:
 * - integers (bigint ids, int, Mongo long/int): `number` (a `bigint` only beyond 2^53);
 * - numeric/decimal (price, unit_price): `string` in plain notation with the column's scale, "12.50";
 * - timestamps (timestamptz, Mongo date): `number`, epoch **microseconds** UTC;
 * - text and char: `string`; boolean: `boolean`; SQL NULL or absent: `null`;
 * - Mongo `_id`: `string` (the ObjectId's 24 hex digits, or the id's own string form);
 * - `purchases.items`: an array of `{ product_id: number, qty: number, unit_price: string }`.
 */
export type CanonicalValue =
  string | number | bigint | boolean | null | CanonicalValue[] | { [key: string]: CanonicalValue };
export type CanonicalRow = Record<string, CanonicalValue>;

export type ChangeOp = 'c' | 'u' | 'd' | 'r';

export interface SourceChange {
  table: SourceTable;
  /** c = insert, u = update, d = delete, r = snapshot read (treated like an insert). */
  op: ChangeOp;
  /**
   * The row after the change; for a delete, the row before it (at least its key columns), as in the
   * lake's changelog tables. `password_hash` may be present and must be dropped by the mapping.
   */
  row: CanonicalRow;
  /** Source commit time, epoch microseconds UTC (Debezium `source.ts_us`/`ts_ms`, the lake's `__ts`). */
  commitTsUs: number;
  /** Lineage only, never part of vault keys: `kafka:topic/partition/offset` or `lake:<format>/<table>/<file>`. */
  origin?: string;
}

/**
 * Rows per vault table, keyed by the logical (unqualified) table name such as `hub_user`, ready for
 * Warehouse.insert as JSONEachRow; `insertRowSet` (writer.ts) prefixes the vault database name.
 */
export type VaultRowSet = Map<string, Record<string, unknown>[]>;
