import type { SourceTable } from '../vault/types.js';

/**
 * The source schema of docs/CONTRACT.md §4 as the decoder needs it: which canonical type each column
 * has, which columns form the key, and whether the table comes from the PostgreSQL or the MongoDB
 * connector. The encoder uses the same description to write Debezium's `schema` blocks.
 */
export type ColumnKind =
  | 'int64'
  | 'int32'
  | 'text'
  | 'bool'
  | 'timestamptz'
  | 'decimal'
  /** MongoDB `_id`: an ObjectId, or any other id rendered as its string form. */
  | 'objectid'
  /** `purchases.items`: an array of `{product_id: long, qty: int, unit_price: decimal}`. */
  | 'items';

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /** For `decimal`: digits after the point in the canonical string ("12.50" → 2). */
  scale?: number;
  precision?: number;
  optional: boolean;
}

export type SourceKind = 'postgres' | 'mongo';

export interface TableSpec {
  table: SourceTable;
  source: SourceKind;
  key: readonly string[];
  columns: readonly ColumnSpec[];
}

const col = (
  name: string,
  kind: ColumnKind,
  optional = true,
  extra: Partial<ColumnSpec> = {},
): ColumnSpec => ({
  name,
  kind,
  optional,
  ...extra,
});

/** Money columns everywhere are numeric(12,2); MongoDB decimals are brought to the same scale. */
export const MONEY_SCALE = 2;
export const MONEY_PRECISION = 12;

/** The item struct inside `purchases.items`. */
export const PURCHASE_ITEM_COLUMNS: readonly ColumnSpec[] = [
  col('product_id', 'int64', false),
  col('qty', 'int32', false),
  col('unit_price', 'decimal', false, { scale: MONEY_SCALE, precision: MONEY_PRECISION }),
];

export const TABLE_SPECS: Readonly<Record<SourceTable, TableSpec>> = {
  sellers: {
    table: 'sellers',
    source: 'postgres',
    key: ['id'],
    columns: [
      col('id', 'int64', false),
      col('name', 'text', false),
      col('country', 'text'),
      col('created_at', 'timestamptz'),
      col('updated_at', 'timestamptz'),
    ],
  },
  users: {
    table: 'users',
    source: 'postgres',
    key: ['id'],
    columns: [
      col('id', 'int64', false),
      col('email', 'text', false),
      col('full_name', 'text'),
      col('city', 'text'),
      col('created_at', 'timestamptz'),
      col('updated_at', 'timestamptz'),
    ],
  },
  auth_credentials: {
    table: 'auth_credentials',
    source: 'postgres',
    key: ['user_id'],
    // password_hash is deliberately absent: it is dropped on decode and never encoded.
    columns: [
      col('user_id', 'int64', false),
      col('last_login_at', 'timestamptz'),
      col('failed_logins', 'int32', false),
      col('updated_at', 'timestamptz'),
    ],
  },
  products: {
    table: 'products',
    source: 'postgres',
    key: ['id'],
    columns: [
      col('id', 'int64', false),
      col('seller_id', 'int64'),
      col('sku', 'text', false),
      col('name', 'text'),
      col('category', 'text', false),
      col('price', 'decimal', false, { scale: MONEY_SCALE, precision: MONEY_PRECISION }),
      col('active', 'bool', false),
      col('created_at', 'timestamptz'),
      col('updated_at', 'timestamptz'),
    ],
  },
  purchases: {
    table: 'purchases',
    source: 'mongo',
    key: ['_id'],
    columns: [
      col('_id', 'objectid', false),
      col('order_id', 'text'),
      col('user_id', 'int64'),
      col('items', 'items'),
      col('ts', 'timestamptz'),
    ],
  },
  cancellations: {
    table: 'cancellations',
    source: 'mongo',
    key: ['_id'],
    columns: [
      col('_id', 'objectid', false),
      col('order_id', 'text'),
      col('user_id', 'int64'),
      col('reason', 'text'),
      col('ts', 'timestamptz'),
    ],
  },
  ratings: {
    table: 'ratings',
    source: 'mongo',
    key: ['_id'],
    columns: [
      col('_id', 'objectid', false),
      col('user_id', 'int64'),
      col('product_id', 'int64'),
      col('stars', 'int32'),
      col('comment', 'text'),
      col('ts', 'timestamptz'),
    ],
  },
};

/** Columns that must never travel further than the decoder (docs/CONTRACT.md §4). */
export const FORBIDDEN_COLUMNS: ReadonlySet<string> = new Set(['password_hash']);
