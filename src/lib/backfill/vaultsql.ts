import { VAULT_TABLES, META, createTableSql, type VaultTable, type VaultDatabases } from '../vault/tables.js';
import { sqlString } from '../vault/sql.js';
import { FEEDS, HUBS, LINKS, SATELLITES as SAT_DEFS } from '../vault/model.js';
import type { SourceTable } from '../vault/types.js';

/** SQL over vault and staging tables used by the backfill (runs on 18.16 and on current servers). */

export const SATELLITES = VAULT_TABLES.filter((t) => t.kind === 'satellite');
export const KEYED = VAULT_TABLES.filter((t) => t.kind !== 'satellite');

export function stagingName(dbs: VaultDatabases, table: VaultTable, partition: number): string {
  return `${dbs.ops}.backfill_${partition}_${table.name}`;
}

export function createStagingSql(dbs: VaultDatabases, table: VaultTable, partition: number): string[] {
  const name = stagingName(dbs, table, partition);
  const [db, tbl] = name.split('.') as [string, string];
  return [`DROP TABLE IF EXISTS ${name}`, createTableSql(table, db, tbl, false)];
}

export function partitionPredicate(partition: number): string {
  return `toYYYYMMDD(${META.effectiveTs}) = ${partition}`;
}

const cols = (t: VaultTable) => t.columns.map((c) => c.name);

/** Record sources (feeds) that write each vault table. */
export function recordSourcesOf(table: VaultTable): { source: SourceTable; recordSource: string }[] {
  const out: { source: SourceTable; recordSource: string }[] = [];
  for (const feed of Object.values(FEEDS)) {
    const all = [...feed.targets, ...(feed.explode?.targets ?? [])];
    const hit = all.some((t) => {
      if ('sat' in t) return SAT_DEFS[t.sat].table === table.name;
      if ('hub' in t) return HUBS[t.hub].table === table.name;
      return LINKS[t.link].table === table.name;
    });
    if (hit) out.push({ source: feed.source, recordSource: feed.recordSource });
  }
  return out;
}

/**
 * Streamed rows of a satellite's day partition that the lake snapshot does not cover yet: per
 * record source, rows committed after that source's high-water mark.
 */
export function carryOverSql(
  dbs: VaultDatabases,
  t: VaultTable,
  partition: number,
  hwmUs: Map<SourceTable, number>,
  loadTsFrom?: number,
): string | undefined {
  const preds: string[] = [];
  for (const { source, recordSource } of recordSourcesOf(t)) {
    const hwm = hwmUs.get(source) ?? 0;
    preds.push(`(${META.recordSource} = ${sqlString(recordSource)} AND ${META.effectiveUs} > ${hwm})`);
  }
  if (preds.length === 0) return undefined;
  const since = loadTsFrom === undefined ? '' : ` AND ${META.loadTs} >= toDateTime(${loadTsFrom}, 'UTC')`;
  return (
    `INSERT INTO ${stagingName(dbs, t, partition)} (${cols(t).join(', ')}) SELECT ${cols(t).join(', ')} FROM ${dbs.vault}.${t.name} ` +
    `WHERE ${partitionPredicate(partition)}${since} AND (${preds.join(' OR ')})`
  );
}

/**
 * A column as cityHash64 arguments: the value itself (hashed in its binary form, cheaper than
 * text), and for Nullable columns whether it is null. Decimals as text (18.16 hashes no Decimal).
 */
function hashArgs(c: { name: string; type: string }): string[] {
  const nullable = c.type.startsWith('Nullable(');
  const value = nullable ? `assumeNotNull(${c.name})` : c.name;
  const arg = /Decimal/.test(c.type) ? `toString(${value})` : value;
  return nullable ? [arg, `isNull(${c.name})`] : [arg];
}

/** Row count and an order-independent checksum of a table's rows (deduplicated), without load_ts. */
export function checksumSql(table: string, t: VaultTable, where?: string): string {
  const parts = t.columns.filter((c) => c.name !== META.loadTs).flatMap(hashArgs);
  return `SELECT count() AS rows, toString(sum(cityHash64(${parts.join(', ')}))) AS checksum FROM ${table} FINAL${where ? ` WHERE ${where}` : ''}`;
}

function satKey(t: VaultTable): string {
  const keyCols = [t.hashKey, ...t.columns.filter((c) => c.role === 'child_key').map((c) => c.name)];
  return `concat(${keyCols.map((c) => `toString(${c})`).join(", '|', ")}, '|', toString(${META.effectiveUs}))`;
}

/** Per satellite: rows the stream had for the day vs the batch result (added, changed, removed). */
export function satelliteReportSql(dbs: VaultDatabases, t: VaultTable, partition: number): string {
  const k = satKey(t);
  const v = `concat(toString(${META.hashdiff}), toString(${META.isDeleted}))`;
  const oldSide = `SELECT 1 AS src, ${k} AS k, ${v} AS v FROM ${dbs.vault}.${t.name} FINAL WHERE ${partitionPredicate(partition)}`;
  const newSide = `SELECT 2 AS src, ${k} AS k, ${v} AS v FROM ${stagingName(dbs, t, partition)} FINAL`;
  return `SELECT
    countIf(o = 1 AND n = 0) AS removed, countIf(o = 0 AND n = 1) AS added, countIf(o = 1 AND n = 1 AND ov != nv) AS changed,
    countIf(o = 1) AS before, countIf(n = 1) AS after
FROM (
    SELECT k, max(src = 1) AS o, max(src = 2) AS n, anyIf(v, src = 1) AS ov, anyIf(v, src = 2) AS nv
    FROM (${oldSide} UNION ALL ${newSide})
    GROUP BY k
)`;
}

/** Rows of a day partition beyond one per key (e.g. events the stream loaded twice, not merged yet). */
export function duplicatesSql(dbs: VaultDatabases, t: VaultTable, partition: number): string {
  return `SELECT count() - uniqExact(${satKey(t)}) AS duplicates FROM ${dbs.vault}.${t.name} WHERE ${partitionPredicate(partition)}`;
}

/** Holds the hub/link rows a backfill adds (so they are computed once, counted, then inserted). */
export function newKeysName(dbs: VaultDatabases, t: VaultTable, partition: number): string {
  return `${dbs.ops}.backfill_${partition}_new_${t.name}`;
}

/**
 * Hub/link rows of the staging table whose key the vault lacks, or knows only from a later
 * sighting or, at the same commit time, from a record source of higher rank: the staged row wins
 * exactly when its version (tables.ts keyVersion) is greater, as the table's ReplacingMergeTree
 * decides. FINAL keeps the first sighting per key in staging; the vault side is aggregated over
 * the staged keys only.
 */
export function newKeysSql(dbs: VaultDatabases, t: VaultTable, partition: number): string[] {
  const stg = stagingName(dbs, t, partition);
  const target = newKeysName(dbs, t, partition);
  const hk = t.hashKey;
  // GLOBAL IN: on a cluster the vault table is Distributed and the staging table exists on one server only.
  const existing = `SELECT ${hk}, max(${META.ver}) AS backfill_existing_ver FROM ${dbs.vault}.${t.name} WHERE ${hk} GLOBAL IN (SELECT ${hk} FROM ${stg}) GROUP BY ${hk}`;
  return [
    `DROP TABLE IF EXISTS ${target}`,
    `CREATE TABLE ${target} AS ${dbs.vault}.${t.name} ENGINE = Memory`,
    `INSERT INTO ${target} (${cols(t).join(', ')}) SELECT ${cols(t).join(', ')} FROM (SELECT * FROM ${stg} FINAL) AS staged ` +
      `ANY LEFT JOIN (${existing}) AS known USING ${hk} ` +
      `WHERE ${META.ver} > backfill_existing_ver`,
  ];
}

export function insertNewKeysSql(dbs: VaultDatabases, t: VaultTable, partition: number): string {
  return `INSERT INTO ${dbs.vault}.${t.name} (${cols(t).join(', ')}) SELECT ${cols(t).join(', ')} FROM ${newKeysName(dbs, t, partition)}`;
}
