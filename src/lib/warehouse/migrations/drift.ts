import type { Warehouse } from '../types.js';
import { sqlString } from '../quote.js';
import { VAULT_TABLES, type VaultDatabases } from '../../vault/tables.js';

const norm = (t: string) => t.replace(/\s+/g, '').replace(/"/g, "'");

/**
 * Differences between the model's vault tables and the live ones (missing tables, missing or
 * differently typed columns). Extra live columns are fine (an older model's leftovers).
 */
export async function schemaDrift(wh: Warehouse, dbs: VaultDatabases): Promise<string[]> {
  const rows = await wh.query<{ table: string; name: string; type: string }>(
    `SELECT table, name, type FROM system.columns WHERE database = ${sqlString(dbs.vault)}`,
  );
  const live = new Map<string, Map<string, string>>();
  for (const r of rows) {
    let m = live.get(r.table);
    if (!m) live.set(r.table, (m = new Map()));
    m.set(r.name, norm(r.type));
  }
  const drift: string[] = [];
  for (const t of VAULT_TABLES) {
    const cols = live.get(t.name);
    if (!cols) {
      drift.push(`table ${dbs.vault}.${t.name} is missing`);
      continue;
    }
    for (const c of t.columns) {
      const type = cols.get(c.name);
      if (type === undefined) drift.push(`column ${t.name}.${c.name} is missing`);
      else if (type !== norm(c.type))
        drift.push(`column ${t.name}.${c.name} is ${type}, the model says ${c.type}`);
    }
  }
  return drift;
}
