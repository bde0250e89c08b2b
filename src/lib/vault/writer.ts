import type { Settings, Warehouse } from '../warehouse/types.js';
import { DEFAULT_DATABASES, VAULT_TABLES, type VaultDatabases } from './tables.js';
import type { VaultRowSet } from './types.js';

const INSERT_ORDER = VAULT_TABLES.map((t) => t.name);

/**
 * Inserts a row set into the vault database of `dbs` (default: `vault`), hubs first, then links,
 * then satellites, so a reader never sees a satellite row without its parent. Re-inserting the
 * same rows is harmless: the tables collapse them. Returns rows written per table.
 */
export async function insertRowSet(
  wh: Warehouse,
  rows: VaultRowSet,
  dbs: Pick<VaultDatabases, 'vault'> = DEFAULT_DATABASES,
  settings?: Settings,
): Promise<Record<string, number>> {
  const written: Record<string, number> = {};
  for (const table of rows.keys()) {
    if (!INSERT_ORDER.includes(table))
      throw new Error(`Row set holds rows for "${table}", which is not a vault table.`);
  }
  for (const table of INSERT_ORDER) {
    const list = rows.get(table);
    if (!list || list.length === 0) continue;
    await wh.insert(`${dbs.vault}.${table}`, list, settings);
    written[table] = list.length;
  }
  return written;
}
