import type { Dialect } from '../dialect.js';
import type { VaultDatabases } from '../../vault/tables.js';

/**
 * A migration file in this folder is named `NNN_snake_name.ts` (versioned, applied once, in
 * order) or `R_snake_name.ts` (repeatable: re-applied whenever its statements change, for views)
 * and default-exports a `Migration`. Statements must be idempotent (IF NOT EXISTS, or DROP +
 * CREATE for views) so a run that stopped half-way can simply be repeated.
 */
export interface MigrationContext {
  /** Database names to use (never hard-code vault/mart/ops: tests use suffixed names). */
  dbs: VaultDatabases;
  dialect: Dialect;
}

export interface Migration {
  /** One line for `warehouse status` and the record in ops.schema_migrations. */
  description: string;
  /** One statement per entry (ClickHouse HTTP runs one statement per request). */
  statements(ctx: MigrationContext): string[];
}

export interface LoadedMigration extends Migration {
  kind: 'versioned' | 'repeatable';
  /** 0 for repeatables. */
  version: number;
  /** File name without extension, e.g. `002_vault_tables`. */
  name: string;
}
