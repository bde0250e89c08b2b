import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { VAULT_TABLES, testDatabases, META, type VaultDatabases } from '../../../src/lib/vault/tables.js';
import { MART_VIEWS } from '../../../src/lib/vault/marts.js';
import { mapChanges } from '../../../src/lib/vault/mapping.js';
import { insertRowSet } from '../../../src/lib/vault/writer.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';
import { stack, uniqueName } from '../../helpers/stack.js';

export const SALT = '07dc367883ad9ad0027d0a924289278d019e98d9bc9f683b6aa887cd2a0c12a1';

/** Private vault/mart/ops databases, created by the real migrations (vault tables, marts, ops tables). */
export async function createVault(
  wh: Warehouse,
  prefix = 'bf',
  suffix = uniqueName(prefix),
): Promise<VaultDatabases> {
  const dbs = testDatabases(suffix);
  await migrate(wh, { dbs });
  return dbs;
}

export async function dropVault(wh: Warehouse, dbs: VaultDatabases): Promise<void> {
  for (const db of [dbs.mart, dbs.vault, dbs.ops])
    await wh.exec(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
}

/** What the stream would have loaded for these changes (the shared mapping, inserted as-is). */
export async function loadLikeStream(
  wh: Warehouse,
  dbs: VaultDatabases,
  changes: SourceChange[],
): Promise<void> {
  await insertRowSet(wh, mapChanges(changes, { piiSalt: SALT, loadTs: new Date() }), dbs);
}

/** Every vault table's deduplicated rows without load_ts, sorted, for exact comparison. */
export async function vaultSnapshot(wh: Warehouse, dbs: VaultDatabases): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of VAULT_TABLES) {
    const cols = t.columns.filter((c) => c.name !== META.loadTs).map((c) => c.name);
    out[t.name] = await wh.query(
      `SELECT ${cols.join(', ')} FROM ${dbs.vault}.${t.name} FINAL ORDER BY ${cols.join(', ')}`,
    );
  }
  return out;
}

export async function marts(wh: Warehouse, dbs: VaultDatabases): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const name of Object.keys(MART_VIEWS)) {
    const cols = MART_VIEWS[name]!.map((c) => c.name);
    out[name] = await wh.query(
      `SELECT ${cols.map((c) => (c === 'avg_stars' ? 'round(avg_stars, 6) AS avg_stars' : c)).join(', ')} FROM ${dbs.mart}.${name} ORDER BY ${cols.join(', ')}`,
    );
  }
  return out;
}

export function openServer(): Promise<Warehouse> {
  return openWarehouse(stack.clickhouseUrl);
}
