import type { Migration } from './types.js';

/**
 * Hub and link versions gain the record-source tie-break (vault/tables.ts keyVersion): rows
 * written before it carry `ver = 2^53 − 1 − first_seen_us`; they are written again with
 * `ver = (2^53 − 1 − first_seen_us) × 16 + (15 − rank)` and merged, so the first sighting of a key
 * no longer depends on arrival order. ClickHouse refuses `ALTER … UPDATE` of a version column
 * ("Cannot UPDATE key column", 18.16), hence INSERT … SELECT + OPTIMIZE … FINAL. Rerunnable:
 * only rows with a legacy version (≤ 2^53 − 1; new versions are above 2^55) are copied.
 * Frozen: the ranks and columns are spelled out here, not read from the model. Stop `stream`
 * before migrating, so no row with a legacy version arrives afterwards.
 */
const LEGACY_MAX = '9007199254740991';
const RECORD_SOURCES = [
  'shop.public.sellers',
  'shop.public.users',
  'shop.public.auth_credentials',
  'shop.public.products',
  'shop_events.purchases',
  'shop_events.cancellations',
  'shop_events.ratings',
];
const TABLES: [string, string[]][] = [
  ['hub_user', ['hk_user', 'user_id']],
  ['hub_seller', ['hk_seller', 'seller_id']],
  ['hub_product', ['hk_product', 'product_id']],
  ['hub_order', ['hk_order', 'order_id']],
  ['link_product_seller', ['hk_product_seller', 'hk_product', 'hk_seller']],
  ['link_order_user', ['hk_order_user', 'hk_order', 'hk_user']],
  ['link_order_line', ['hk_order_line', 'hk_order', 'hk_product', 'line_no']],
  ['link_rating', ['hk_rating', 'hk_user', 'hk_product']],
];

const migration: Migration = {
  description: 'hub and link versions break first-sighting ties by record source',
  statements: ({ dbs }) => {
    const sources = `[${RECORD_SOURCES.map((s) => `'${s}'`).join(', ')}]`;
    const ranks = `[${RECORD_SOURCES.map((_, i) => i).join(', ')}]`;
    const rank = `transform(record_source, ${sources}, ${ranks}, 15)`;
    return TABLES.flatMap(([table, keys]) => {
      const t = `${dbs.vault}.${table}`;
      const cols = [...keys, 'first_seen_us', 'ver', 'load_ts', 'record_source'];
      const values = [
        ...keys,
        'first_seen_us',
        `(toUInt64(${LEGACY_MAX}) - first_seen_us) * 16 + (15 - ${rank})`,
        'load_ts',
        'record_source',
      ];
      return [
        `INSERT INTO ${t} (${cols.join(', ')}) SELECT ${values.join(', ')} FROM ${t} WHERE ver <= ${LEGACY_MAX}`,
        `OPTIMIZE TABLE ${t} FINAL`,
      ];
    });
  },
};
export default migration;
