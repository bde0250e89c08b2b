import { Flags } from '@oclif/core';
import { DEFAULT_DATABASES, testDatabases, type VaultDatabases } from '../../vault/tables.js';

/** Hidden: run against vault_<suffix>, mart_<suffix>, ops_<suffix> (tests on a shared server). */
export const dbSuffixFlag = {
  'db-suffix': Flags.string({
    description:
      'Use databases vault_SUFFIX, mart_SUFFIX and ops_SUFFIX instead of vault, mart and ops (for tests).',
    hidden: true,
  }),
};

export function databasesFor(suffix: string | undefined): VaultDatabases {
  return suffix ? testDatabases(suffix) : { ...DEFAULT_DATABASES };
}

/**
 * --clickhouse-url without oclif's `env:` binding: SHOPDATA_CLICKHOUSE_URL is applied by the config
 * loader instead, so a bad value is reported under the variable's name rather than as a flag.
 */
export const warehouseUrlFlag = {
  'clickhouse-url': Flags.string({
    description:
      'ClickHouse: http(s)://user:pass@host:port, or chdb:PATH for embedded (default: SHOPDATA_CLICKHOUSE_URL, then shopdata.yaml).',
    helpGroup: 'CONNECTION',
  }),
};
