import type { Settings, Warehouse } from '../warehouse/types.js';
import { DEFAULT_DATABASES, META, VAULT_TABLES, type VaultDatabases } from './tables.js';
import type { VaultRowSet } from './types.js';

const INSERT_ORDER = VAULT_TABLES.map((t) => t.name);

export interface InsertRowSetOptions {
  settings?: Settings;
  /**
   * Also write one row per table and record source into `<ops>.loads` (lineage, freshness):
   * which command and run wrote how many rows covering which commit times.
   */
  audit?: { command: string; runId: string };
}

/**
 * Inserts a row set into the vault database of `dbs` (default: `vault`), hubs first, then links,
 * then satellites, so a reader never sees a satellite row without its parent. Re-inserting the
 * same rows is harmless: the tables collapse them. Returns rows written per table.
 */
export async function insertRowSet(
  wh: Warehouse,
  rows: VaultRowSet,
  dbs: Pick<VaultDatabases, 'vault'> & Partial<Pick<VaultDatabases, 'ops'>> = DEFAULT_DATABASES,
  opts: InsertRowSetOptions = {},
): Promise<Record<string, number>> {
  const written: Record<string, number> = {};
  for (const table of rows.keys()) {
    if (!INSERT_ORDER.includes(table))
      throw new Error(`Row set holds rows for "${table}", which is not a vault table.`);
  }
  for (const table of INSERT_ORDER) {
    const list = rows.get(table);
    if (!list || list.length === 0) continue;
    await wh.insert(`${dbs.vault}.${table}`, list, opts.settings);
    written[table] = list.length;
  }
  if (opts.audit) {
    const audit = loadAuditRows(rows, opts.audit.command, opts.audit.runId, new Date());
    if (audit.length > 0) await wh.insert(`${dbs.ops ?? DEFAULT_DATABASES.ops}.loads`, audit, opts.settings);
  }
  return written;
}

/** Rows for `<ops>.loads`: one per vault table and record source in the row set. */
export function loadAuditRows(
  rows: VaultRowSet,
  command: string,
  runId: string,
  at: Date,
): Record<string, unknown>[] {
  type Entry = { vault_table: string; record_source: string; rows: number; min: number; max: number };
  const out: Entry[] = [];
  for (const [table, list] of rows) {
    // Per table, few record sources: a small map keyed by the source string, no per-row key text.
    const bySource = new Map<unknown, Entry>();
    for (const r of list) {
      const src = r[META.recordSource];
      const us = Number(r[META.effectiveUs] ?? r[META.firstSeenUs]);
      const e = bySource.get(src);
      if (e) {
        e.rows++;
        if (us < e.min) e.min = us;
        if (us > e.max) e.max = us;
      } else {
        const entry = { vault_table: table, record_source: String(src), rows: 1, min: us, max: us };
        bySource.set(src, entry);
        out.push(entry);
      }
    }
  }
  const loadedAt = Math.floor(at.getTime() / 1000);
  return out.map((e) => ({
    loaded_at: loadedAt,
    command,
    run_id: runId,
    vault_table: e.vault_table,
    record_source: e.record_source,
    rows: e.rows,
    min_effective_us: e.min,
    max_effective_us: e.max,
  }));
}
