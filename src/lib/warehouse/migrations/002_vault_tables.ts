import type { Migration } from './types.js';

/**
 * The hubs, links and satellites of the model (vault/model.ts) as first released. Frozen: a model
 * change needs a new migration (ALTER TABLE ... ADD COLUMN, CREATE TABLE for a new satellite), not
 * an edit here — `warehouse migrate` refuses an applied migration whose statements changed, and
 * reports any difference between the model and the live tables (drift) with exit 2.
 */
const migration: Migration = {
  description: 'vault hubs, links and satellites',
  statements: ({ dbs }) => {
    const v = dbs.vault;
    return [
      `CREATE TABLE IF NOT EXISTS ${v}.hub_user
(
    hk_user FixedString(32),
    user_id UInt64,
    first_seen_us UInt64,
    ver UInt64,
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (hk_user)`,
      `CREATE TABLE IF NOT EXISTS ${v}.hub_seller
(
    hk_seller FixedString(32),
    seller_id UInt64,
    first_seen_us UInt64,
    ver UInt64,
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (hk_seller)`,
      `CREATE TABLE IF NOT EXISTS ${v}.hub_product
(
    hk_product FixedString(32),
    product_id UInt64,
    first_seen_us UInt64,
    ver UInt64,
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (hk_product)`,
      `CREATE TABLE IF NOT EXISTS ${v}.hub_order
(
    hk_order FixedString(32),
    order_id String,
    first_seen_us UInt64,
    ver UInt64,
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (hk_order)`,
      `CREATE TABLE IF NOT EXISTS ${v}.link_product_seller
(
    hk_product_seller FixedString(32),
    hk_product FixedString(32),
    hk_seller FixedString(32),
    first_seen_us UInt64,
    ver UInt64,
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (hk_product_seller)`,
      `CREATE TABLE IF NOT EXISTS ${v}.link_order_user
(
    hk_order_user FixedString(32),
    hk_order FixedString(32),
    hk_user FixedString(32),
    first_seen_us UInt64,
    ver UInt64,
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (hk_order_user)`,
      `CREATE TABLE IF NOT EXISTS ${v}.link_order_line
(
    hk_order_line FixedString(32),
    hk_order FixedString(32),
    hk_product FixedString(32),
    line_no UInt32,
    first_seen_us UInt64,
    ver UInt64,
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (hk_order_line)`,
      `CREATE TABLE IF NOT EXISTS ${v}.link_rating
(
    hk_rating FixedString(32),
    hk_user FixedString(32),
    hk_product FixedString(32),
    first_seen_us UInt64,
    ver UInt64,
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (hk_rating)`,
      `CREATE TABLE IF NOT EXISTS ${v}.sat_user
(
    hk_user FixedString(32),
    effective_us UInt64,
    effective_ts DateTime('UTC'),
    hashdiff FixedString(32),
    is_deleted UInt8,
    email_sha256 Nullable(FixedString(64)),
    full_name_sha256 Nullable(FixedString(64)),
    city Nullable(String),
    created_at_us Nullable(Int64),
    updated_at_us Nullable(Int64),
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(is_deleted)
PARTITION BY toYYYYMMDD(effective_ts)
ORDER BY (hk_user, effective_us)`,
      `CREATE TABLE IF NOT EXISTS ${v}.sat_user_auth
(
    hk_user FixedString(32),
    effective_us UInt64,
    effective_ts DateTime('UTC'),
    hashdiff FixedString(32),
    is_deleted UInt8,
    last_login_at_us Nullable(Int64),
    failed_logins Nullable(Int32),
    updated_at_us Nullable(Int64),
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(is_deleted)
PARTITION BY toYYYYMMDD(effective_ts)
ORDER BY (hk_user, effective_us)`,
      `CREATE TABLE IF NOT EXISTS ${v}.sat_seller
(
    hk_seller FixedString(32),
    effective_us UInt64,
    effective_ts DateTime('UTC'),
    hashdiff FixedString(32),
    is_deleted UInt8,
    name Nullable(String),
    country Nullable(String),
    created_at_us Nullable(Int64),
    updated_at_us Nullable(Int64),
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(is_deleted)
PARTITION BY toYYYYMMDD(effective_ts)
ORDER BY (hk_seller, effective_us)`,
      `CREATE TABLE IF NOT EXISTS ${v}.sat_product
(
    hk_product FixedString(32),
    effective_us UInt64,
    effective_ts DateTime('UTC'),
    hashdiff FixedString(32),
    is_deleted UInt8,
    sku Nullable(String),
    name Nullable(String),
    category Nullable(String),
    price Nullable(Decimal(12, 2)),
    active Nullable(UInt8),
    created_at_us Nullable(Int64),
    updated_at_us Nullable(Int64),
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(is_deleted)
PARTITION BY toYYYYMMDD(effective_ts)
ORDER BY (hk_product, effective_us)`,
      `CREATE TABLE IF NOT EXISTS ${v}.sat_order
(
    hk_order FixedString(32),
    status String,
    effective_us UInt64,
    effective_ts DateTime('UTC'),
    hashdiff FixedString(32),
    is_deleted UInt8,
    event_ts_us Nullable(Int64),
    lines Nullable(UInt32),
    units Nullable(UInt64),
    total_amount Nullable(Decimal(18, 2)),
    reason Nullable(String),
    source_id Nullable(String),
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(is_deleted)
PARTITION BY toYYYYMMDD(effective_ts)
ORDER BY (hk_order, status, effective_us)`,
      `CREATE TABLE IF NOT EXISTS ${v}.sat_order_line
(
    hk_order_line FixedString(32),
    effective_us UInt64,
    effective_ts DateTime('UTC'),
    hashdiff FixedString(32),
    is_deleted UInt8,
    qty Nullable(UInt32),
    unit_price Nullable(Decimal(12, 2)),
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(is_deleted)
PARTITION BY toYYYYMMDD(effective_ts)
ORDER BY (hk_order_line, effective_us)`,
      `CREATE TABLE IF NOT EXISTS ${v}.sat_rating
(
    hk_rating FixedString(32),
    rating_id String,
    effective_us UInt64,
    effective_ts DateTime('UTC'),
    hashdiff FixedString(32),
    is_deleted UInt8,
    stars Nullable(UInt8),
    comment Nullable(String),
    rated_ts_us Nullable(Int64),
    load_ts DateTime('UTC'),
    record_source String
)
ENGINE = ReplacingMergeTree(is_deleted)
PARTITION BY toYYYYMMDD(effective_ts)
ORDER BY (hk_rating, rating_id, effective_us)`,
    ];
  },
};
export default migration;
