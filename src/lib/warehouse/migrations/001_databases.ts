import type { Migration } from './types.js';

/** The contract's databases and the generic operational tables in ops. */
const migration: Migration = {
  description: 'databases vault, mart, ops; ops.loads',
  statements: ({ dbs }) => [
    `CREATE DATABASE IF NOT EXISTS ${dbs.vault}`,
    `CREATE DATABASE IF NOT EXISTS ${dbs.mart}`,
    // One row per table and batch written by stream/backfill/demo: lineage and freshness.
    `CREATE TABLE IF NOT EXISTS ${dbs.ops}.loads
(
    loaded_at DateTime('UTC'),
    command String,
    run_id String,
    vault_table String,
    record_source String,
    rows UInt64,
    min_effective_us UInt64,
    max_effective_us UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(loaded_at)
ORDER BY (vault_table, loaded_at)`,
  ],
};
export default migration;
