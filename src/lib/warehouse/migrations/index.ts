export {
  migrate,
  planMigrations,
  loadMigrations,
  MigrationStateError,
  MIGRATIONS_TABLE,
  type MigrateOptions,
  type MigrateResult,
} from './migrate.js';
export { warehouseStatus, type WarehouseStatus, type TableStatus } from './status.js';
export { schemaDrift } from './drift.js';
export type { Migration, MigrationContext } from './types.js';
