import type { Warehouse } from '../types.js';
import { sqlStringList, sqlTable } from '../quote.js';
import { DEFAULT_DATABASES, VAULT_TABLES, type VaultDatabases } from '../../vault/tables.js';
import { planMigrations, stateError, type AppliedMigration } from './migrate.js';
import { schemaDrift } from './drift.js';
import { migrationsCluster } from './cluster-state.js';
import { LOCAL_SUFFIX, readTopology } from '../cluster.js';
import { replicaStates, type ReplicaState } from '../replicas.js';

export interface TableStatus {
  database: string;
  table: string;
  /** hub, link, satellite, view, table (ops). */
  kind: string;
  exists: boolean;
  /** count() of the table; null for views and missing tables. */
  rows: number | null;
}

export interface WarehouseStatus {
  engine: Warehouse['engine'];
  url: string;
  serverVersion: string;
  databases: VaultDatabases;
  /** Highest versioned migration applied (0: never migrated). */
  appliedVersion: number;
  latestVersion: number;
  upToDate: boolean;
  pending: { kind: string; version: number; name: string; description: string }[];
  applied: AppliedMigration[];
  tables: TableStatus[];
  drift: string[];
  /** The cluster the warehouse was migrated for (`migrate --cluster`); null for one server. */
  cluster: string | null;
  /** Every server of that cluster: state, delay, replication queue, last error (null for one server). */
  replicas: ReplicaState[] | null;
}

/**
 * The applied version, pending migrations and row counts per table. Throws MigrationStateError
 * (exit 2) when ops records migrations this build does not know or that changed.
 */
export async function warehouseStatus(
  wh: Warehouse,
  dbs: VaultDatabases = DEFAULT_DATABASES,
): Promise<WarehouseStatus> {
  const plan = await planMigrations(wh, dbs);
  if (plan.problems.length > 0) throw stateError(plan, dbs);
  const live = await wh.query<{ database: string; name: string; engine: string }>(
    `SELECT database, name, engine FROM system.tables WHERE database IN (${sqlStringList([dbs.vault, dbs.mart, dbs.ops])}) ORDER BY database, name`,
  );
  const { cluster } = wh.engine === 'clickhouse' ? await migrationsCluster(wh, dbs) : { cluster: undefined };
  const liveSet = new Map(live.map((t) => [`${t.database}.${t.name}`, t.engine]));
  const tables: TableStatus[] = [];
  // Names come back from system.tables: whatever someone created there, so always quoted.
  const count = async (db: string, table: string) => {
    const r = await wh.query<{ n: string | number }>(`SELECT count() AS n FROM ${sqlTable(db, table)}`);
    return Number(r[0]?.n ?? 0);
  };
  for (const t of VAULT_TABLES) {
    const exists = liveSet.has(`${dbs.vault}.${t.name}`);
    tables.push({
      database: dbs.vault,
      table: t.name,
      kind: t.kind,
      exists,
      rows: exists ? await count(dbs.vault, t.name) : null,
    });
  }
  for (const t of live) {
    if (t.database === dbs.vault && VAULT_TABLES.some((v) => v.name === t.name)) continue;
    // On a cluster the shard-local tables are counted per server in `replicas`.
    if (cluster && t.name.endsWith(LOCAL_SUFFIX)) continue;
    const isView = t.engine === 'View';
    tables.push({
      database: t.database,
      table: t.name,
      kind: isView ? 'view' : 'table',
      exists: true,
      rows: isView ? null : await count(t.database, t.name),
    });
  }
  const drift = plan.appliedVersion > 0 ? await schemaDrift(wh, dbs) : [];
  const replicas = cluster
    ? await replicaStates(wh, await readTopology(wh, cluster), [dbs.vault, dbs.ops])
    : null;
  return {
    engine: wh.engine,
    url: wh.displayUrl,
    serverVersion: plan.dialect.version.raw,
    databases: dbs,
    appliedVersion: plan.appliedVersion,
    latestVersion: plan.latestVersion,
    upToDate: plan.pending.length === 0 && drift.length === 0,
    pending: plan.pending.map((m) => ({
      kind: m.kind,
      version: m.version,
      name: m.name,
      description: m.description,
    })),
    applied: plan.applied,
    tables,
    drift,
    cluster: cluster ?? null,
    replicas,
  };
}
