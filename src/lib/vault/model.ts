import { SOURCE_TABLES, type SourceTable } from './types.js';
import type { PiiNormaliser } from './hashing.js';

export type PiiNormaliserRef = PiiNormaliser;

/**
 * The declarative Data Vault model of the shop: hubs, links, satellites (with their columns) and
 * the feeds that say which source fields feed which entity. DDL (tables.ts), the mapping
 * (mapping.ts), SQL expressions (sql.ts) and the marts are all derived from this file: adding a
 * source column or a satellite is an edit here (plus a migration that ALTERs the live table).
 */

// ---------------------------------------------------------------------------------------------
// Column kinds

/**
 * How a value is stored and rendered for hashing:
 * - int: integer column (`chType` says which); canonical text = decimal digits
 * - string: String
 * - decimal: Decimal(P, scale); canonical text = fixed scale ("12.50"); JSON as a number
 * - bool: UInt8 1/0
 * - timestamp: Int64 epoch microseconds (18.16 has no DateTime64); column names end in `_us`
 * - pii: FixedString(64), HMAC-SHA-256 keyed with the salt of the source text (never the text itself)
 */
export type ValueKind = 'int' | 'string' | 'decimal' | 'bool' | 'timestamp' | 'pii';

export interface ColumnSpec {
  name: string;
  kind: ValueKind;
  /** ClickHouse type without Nullable(). */
  chType: string;
  /** For decimals. */
  scale?: number;
  /** For decimals: total digits. */
  precision?: number;
}

const int = (name: string, chType = 'UInt64'): ColumnSpec => ({ name, kind: 'int', chType });
const str = (name: string): ColumnSpec => ({ name, kind: 'string', chType: 'String' });
const dec = (name: string, precision: number, scale: number): ColumnSpec => ({
  name,
  kind: 'decimal',
  chType: `Decimal(${precision}, ${scale})`,
  scale,
  precision,
});
const bool = (name: string): ColumnSpec => ({ name, kind: 'bool', chType: 'UInt8' });
const ts = (name: string): ColumnSpec => ({ name, kind: 'timestamp', chType: 'Int64' });
const pii = (name: string): ColumnSpec => ({ name, kind: 'pii', chType: 'FixedString(64)' });

// ---------------------------------------------------------------------------------------------
// Entities

export const HUBS = {
  user: { table: 'hub_user', hk: 'hk_user', businessKey: [int('user_id')] },
  seller: { table: 'hub_seller', hk: 'hk_seller', businessKey: [int('seller_id')] },
  product: { table: 'hub_product', hk: 'hk_product', businessKey: [int('product_id')] },
  order: { table: 'hub_order', hk: 'hk_order', businessKey: [str('order_id')] },
} as const satisfies Record<string, HubDef>;
export type HubName = keyof typeof HUBS;

export interface HubDef {
  table: string;
  /** Hash-key column. */
  hk: string;
  businessKey: readonly ColumnSpec[];
}

export interface LinkDef {
  table: string;
  hk: string;
  /** The linked hubs, in hash-key order; the link stores each hub's hash key. */
  hubs: readonly HubName[];
  /** Dependent-child key columns, hashed after the hubs' business keys. */
  childKey: readonly ColumnSpec[];
}

export const LINKS = {
  product_seller: {
    table: 'link_product_seller',
    hk: 'hk_product_seller',
    hubs: ['product', 'seller'],
    childKey: [],
  },
  order_user: { table: 'link_order_user', hk: 'hk_order_user', hubs: ['order', 'user'], childKey: [] },
  /** One row per purchase line: the order, the product, and the line's 1-based position. */
  order_line: {
    table: 'link_order_line',
    hk: 'hk_order_line',
    hubs: ['order', 'product'],
    childKey: [int('line_no', 'UInt32')],
  },
  rating: { table: 'link_rating', hk: 'hk_rating', hubs: ['user', 'product'], childKey: [] },
} as const satisfies Record<string, LinkDef>;
export type LinkName = keyof typeof LINKS;

export interface SatelliteDef {
  table: string;
  parent: { hub: HubName } | { link: LinkName };
  /**
   * Extra key columns: one history per (parent, childKey). sat_order keeps separate histories for
   * status placed (purchases) and cancelled (cancellations); sat_rating one per rating document.
   */
  childKey: readonly ColumnSpec[];
  /** Payload, in hashdiff order. All payload columns are Nullable (a delete carries only keys). */
  attributes: readonly ColumnSpec[];
}

export const SATELLITES = {
  sat_user: {
    table: 'sat_user',
    parent: { hub: 'user' },
    childKey: [],
    attributes: [
      pii('email_sha256'),
      pii('full_name_sha256'),
      str('city'),
      ts('created_at_us'),
      ts('updated_at_us'),
    ],
  },
  /** Login state; the password hash is never part of the vault. */
  sat_user_auth: {
    table: 'sat_user_auth',
    parent: { hub: 'user' },
    childKey: [],
    attributes: [ts('last_login_at_us'), int('failed_logins', 'Int32'), ts('updated_at_us')],
  },
  sat_seller: {
    table: 'sat_seller',
    parent: { hub: 'seller' },
    childKey: [],
    attributes: [str('name'), str('country'), ts('created_at_us'), ts('updated_at_us')],
  },
  sat_product: {
    table: 'sat_product',
    parent: { hub: 'product' },
    childKey: [],
    attributes: [
      str('sku'),
      str('name'),
      str('category'),
      dec('price', 12, 2),
      bool('active'),
      ts('created_at_us'),
      ts('updated_at_us'),
    ],
  },
  /** Order status and totals: a purchase gives status 'placed' with totals, a cancellation 'cancelled' with a reason. */
  sat_order: {
    table: 'sat_order',
    parent: { hub: 'order' },
    childKey: [str('status')],
    attributes: [
      ts('event_ts_us'),
      int('lines', 'UInt32'),
      int('units', 'UInt64'),
      dec('total_amount', 18, 2),
      str('reason'),
      str('source_id'),
    ],
  },
  sat_order_line: {
    table: 'sat_order_line',
    parent: { link: 'order_line' },
    childKey: [],
    attributes: [int('qty', 'UInt32'), dec('unit_price', 12, 2)],
  },
  sat_rating: {
    table: 'sat_rating',
    parent: { link: 'rating' },
    childKey: [str('rating_id')],
    attributes: [int('stars', 'UInt8'), str('comment'), ts('rated_ts_us')],
  },
} as const satisfies Record<string, SatelliteDef>;
export type SatelliteName = keyof typeof SATELLITES;

// ---------------------------------------------------------------------------------------------
// Feeds: which source fields feed which entity

/** Where a value comes from. */
export type ValueRef =
  /** A column of the source row. */
  | { col: string }
  /** A field of the current element of the exploded array (`Feed.explode`). */
  | { item: string }
  /** The 1-based position of the current element. */
  | { itemNo: true }
  | { const: string | number }
  /** HMAC-SHA-256 (keyed with the PII salt) of a source column. */
  | { pii: string; normalise: PiiNormaliser }
  /** Σ over the array's elements of `of[0]` (× `of[1]`), exact in decimals. */
  | { sum: string; of: readonly [string] | readonly [string, string] }
  /** Number of elements of the array. */
  | { count: string };

export const col = (name: string): ValueRef => ({ col: name });
export const item = (name: string): ValueRef => ({ item: name });

export type FeedTarget =
  | { hub: HubName; key: readonly ValueRef[] }
  /** `key`: the hubs' business-key values in the link's hub order, then its child-key values. */
  | { link: LinkName; key: readonly ValueRef[] }
  /** `key`: the parent's key values (hub business key, or link key as above). Attributes not named are null. */
  | {
      sat: SatelliteName;
      key: readonly ValueRef[];
      childKey?: Readonly<Record<string, ValueRef>>;
      attributes: Readonly<Record<string, ValueRef>>;
    };

export interface Feed {
  source: SourceTable;
  /** `record_source` of every row this feed produces. */
  recordSource: string;
  /** Columns a change (a delete too) must carry so its rows can be keyed. */
  keyColumns: readonly string[];
  /** Emitted once per change. */
  targets: readonly FeedTarget[];
  /** Emitted once per element of `row[explode.field]` (e.g. purchase items). */
  explode?: { field: string; targets: readonly FeedTarget[] };
}

/** Source columns that must never reach the vault, even if a decoder lets them through. */
export const FORBIDDEN_SOURCE_COLUMNS: readonly string[] = ['password_hash'];

export const FEEDS: Readonly<Record<SourceTable, Feed>> = {
  users: {
    source: 'users',
    recordSource: 'shop.public.users',
    keyColumns: ['id'],
    targets: [
      { hub: 'user', key: [col('id')] },
      {
        sat: 'sat_user',
        key: [col('id')],
        attributes: {
          email_sha256: { pii: 'email', normalise: 'email' },
          full_name_sha256: { pii: 'full_name', normalise: 'text' },
          city: col('city'),
          created_at_us: col('created_at'),
          updated_at_us: col('updated_at'),
        },
      },
    ],
  },
  auth_credentials: {
    source: 'auth_credentials',
    recordSource: 'shop.public.auth_credentials',
    keyColumns: ['user_id'],
    targets: [
      { hub: 'user', key: [col('user_id')] },
      {
        sat: 'sat_user_auth',
        key: [col('user_id')],
        attributes: {
          last_login_at_us: col('last_login_at'),
          failed_logins: col('failed_logins'),
          updated_at_us: col('updated_at'),
        },
      },
    ],
  },
  sellers: {
    source: 'sellers',
    recordSource: 'shop.public.sellers',
    keyColumns: ['id'],
    targets: [
      { hub: 'seller', key: [col('id')] },
      {
        sat: 'sat_seller',
        key: [col('id')],
        attributes: {
          name: col('name'),
          country: col('country'),
          created_at_us: col('created_at'),
          updated_at_us: col('updated_at'),
        },
      },
    ],
  },
  products: {
    source: 'products',
    recordSource: 'shop.public.products',
    keyColumns: ['id'],
    targets: [
      { hub: 'product', key: [col('id')] },
      { hub: 'seller', key: [col('seller_id')] },
      { link: 'product_seller', key: [col('id'), col('seller_id')] },
      {
        sat: 'sat_product',
        key: [col('id')],
        attributes: {
          sku: col('sku'),
          name: col('name'),
          category: col('category'),
          price: col('price'),
          active: col('active'),
          created_at_us: col('created_at'),
          updated_at_us: col('updated_at'),
        },
      },
    ],
  },
  purchases: {
    source: 'purchases',
    recordSource: 'shop_events.purchases',
    keyColumns: ['order_id'],
    targets: [
      { hub: 'order', key: [col('order_id')] },
      { hub: 'user', key: [col('user_id')] },
      { link: 'order_user', key: [col('order_id'), col('user_id')] },
      {
        sat: 'sat_order',
        key: [col('order_id')],
        childKey: { status: { const: 'placed' } },
        attributes: {
          event_ts_us: col('ts'),
          lines: { count: 'items' },
          units: { sum: 'items', of: ['qty'] },
          total_amount: { sum: 'items', of: ['qty', 'unit_price'] },
          source_id: col('_id'),
        },
      },
    ],
    explode: {
      field: 'items',
      targets: [
        { hub: 'product', key: [item('product_id')] },
        { link: 'order_line', key: [col('order_id'), item('product_id'), { itemNo: true }] },
        {
          sat: 'sat_order_line',
          key: [col('order_id'), item('product_id'), { itemNo: true }],
          attributes: { qty: item('qty'), unit_price: item('unit_price') },
        },
      ],
    },
  },
  cancellations: {
    source: 'cancellations',
    recordSource: 'shop_events.cancellations',
    keyColumns: ['order_id'],
    targets: [
      { hub: 'order', key: [col('order_id')] },
      { hub: 'user', key: [col('user_id')] },
      { link: 'order_user', key: [col('order_id'), col('user_id')] },
      {
        sat: 'sat_order',
        key: [col('order_id')],
        childKey: { status: { const: 'cancelled' } },
        attributes: { event_ts_us: col('ts'), reason: col('reason'), source_id: col('_id') },
      },
    ],
  },
  ratings: {
    source: 'ratings',
    recordSource: 'shop_events.ratings',
    keyColumns: ['user_id', 'product_id', '_id'],
    targets: [
      { hub: 'user', key: [col('user_id')] },
      { hub: 'product', key: [col('product_id')] },
      { link: 'rating', key: [col('user_id'), col('product_id')] },
      {
        sat: 'sat_rating',
        key: [col('user_id'), col('product_id')],
        childKey: { rating_id: col('_id') },
        attributes: { stars: col('stars'), comment: col('comment'), rated_ts_us: col('ts') },
      },
    ],
  },
};

/**
 * The tie-break between record sources that see one hub or link key at the same commit time: the
 * lower rank is the first sighting (docs/HASHING.md). The order of SOURCE_TABLES puts each hub's
 * own table before the tables that reference it (sellers before products, users before
 * purchases). Part of the `ver` column (tables.ts keyVersion), the same in TypeScript and SQL.
 */
export function recordSourceRank(table: SourceTable): number {
  return SOURCE_TABLES.indexOf(table);
}

/** Record source per source table (the `record_source` column). */
export function defaultRecordSource(table: SourceTable): string {
  return FEEDS[table].recordSource;
}
