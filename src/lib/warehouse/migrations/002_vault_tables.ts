import { VAULT_TABLES, createTableSql } from '../../vault/tables.js';
import type { Migration } from './types.js';

/**
 * The hubs, links and satellites of the model (vault/model.ts). Once this version is applied
 * somewhere, a model change needs a new migration (ALTER TABLE ... ADD COLUMN) rather than an edit
 * here: `warehouse migrate` refuses a changed applied migration, and reports model/schema drift.
 */
const migration: Migration = {
  description: 'vault hubs, links and satellites',
  statements: ({ dbs }) => VAULT_TABLES.map((t) => createTableSql(t, dbs.vault)),
};
export default migration;
