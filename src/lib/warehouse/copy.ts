import { ConfigError, DataProblemError } from '../errors/index.js';
import { sqlString } from './quote.js';
import { VAULT_TABLES, type VaultDatabases } from '../vault/tables.js';
import { vaultCluster } from './cluster.js';
import { HttpWarehouse } from './http.js';
import { endpointsOf } from './failover.js';
import type { Warehouse } from './types.js';

/**
 * From one server to a cluster: after `warehouse migrate --cluster` created the empty vault on the
 * cluster, the cluster reads every vault table of the old server with remote() (native protocol)
 * and writes it through its Distributed tables, which shard each row by its hash key; the
 * backfill ledger and the load lineage in ops come along. Writers must be stopped meanwhile (the
 * stream resumes from its committed offsets against the cluster afterwards).
 */

export interface CopySource {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** `[user[:password]@]host:port` (the old server's native TCP port, 9000 by default). */
export function parseCopySource(spec: string, fallback: { user: string; password: string }): CopySource {
  const m = /^(?:([^:@/]+)(?::([^@/]*))?@)?([^:@/\s]+):(\d+)$/.exec(spec.trim());
  if (!m) {
    throw new ConfigError(
      `--copy-from "${spec.replace(/:[^@:]*@/, ':***@')}" is not [user[:password]@]host:port.`,
      {
        hint: "Give the old server's native TCP address, e.g. --copy-from ch-old:9000 (credentials default to those of SHOPDATA_CLICKHOUSE_URL).",
      },
    );
  }
  return {
    host: m[3]!,
    port: Number(m[4]),
    user: m[1] !== undefined ? decodeURIComponent(m[1]) : fallback.user,
    password: m[2] !== undefined ? decodeURIComponent(m[2]) : m[1] !== undefined ? '' : fallback.password,
  };
}

export interface CopyResult {
  source: string;
  /** Rows per table as readers see them (FINAL), on the old server and on the cluster after copying. */
  tables: { table: string; source: number; cluster: number }[];
}

const OPS_TABLES = ['backfill_ledger', 'loads'] as const;

/**
 * Copies the vault (and the ops ledger and lineage) of a single server into an empty cluster
 * vault of the same database names, then verifies that every table holds as many rows (FINAL) as
 * the source. Refuses (exit 2) when the cluster vault is not empty or not on a cluster.
 */
export async function copyFromServer(
  wh: Warehouse,
  dbs: VaultDatabases,
  src: CopySource,
): Promise<CopyResult> {
  if (!(await vaultCluster(wh, dbs))) {
    throw new ConfigError(`${wh.displayUrl} holds no cluster vault to copy into.`, {
      hint: 'Run `warehouse migrate --cluster NAME` against the cluster first (--copy-from does both in one go).',
    });
  }
  const remote = (db: string, table: string) =>
    `remote(${sqlString(`${src.host}:${src.port}`)}, ${db}, ${table}, ${sqlString(src.user)}, ${sqlString(src.password)})`;
  const count = async (from: string, final: boolean) => {
    const [r] = await wh.query<{ n: string }>(`SELECT count() AS n FROM ${from}${final ? ' FINAL' : ''}`);
    return Number(r?.n ?? 0);
  };
  for (const t of VAULT_TABLES) {
    const n = await count(`${dbs.vault}.${t.name}`, false);
    if (n > 0) {
      throw new ConfigError(
        `The cluster's ${dbs.vault}.${t.name} already holds ${n} rows; nothing was copied.`,
        {
          hint: 'Copy into a freshly migrated cluster vault only (drop and migrate it again to start over).',
        },
      );
    }
  }
  const result: CopyResult = { source: `${src.host}:${src.port}`, tables: [] };
  const tables = [
    ...VAULT_TABLES.map((t) => ({ db: dbs.vault, table: t.name, cols: t.columns.map((c) => c.name) })),
    ...OPS_TABLES.map((table) => ({ db: dbs.ops, table, cols: undefined })),
  ];
  for (const { db, table, cols } of tables) {
    const list = cols ? cols.join(', ') : '*';
    // Through the Distributed table (vault): sharded by hash key, confirmed on every shard.
    await wh.exec(
      `INSERT INTO ${db}.${table}${cols ? ` (${list})` : ''} SELECT ${list} FROM ${remote(db, table)}`,
      { insert_distributed_sync: 1 },
    );
  }
  for (const t of VAULT_TABLES) {
    const source = await count(remote(dbs.vault, t.name), true);
    const cluster = await count(`${dbs.vault}.${t.name}`, true);
    result.tables.push({ table: t.name, source, cluster });
  }
  const off = result.tables.filter((t) => t.source !== t.cluster);
  if (off.length > 0) {
    throw new DataProblemError(
      `After copying, ${off.map((t) => `${t.table} has ${t.cluster} rows on the cluster, ${t.source} on ${result.source}`).join('; ')}.`,
      {
        hint: 'Were writers still running against the old server? Stop them, drop the cluster vault, migrate and copy again.',
      },
    );
  }
  return result;
}

/** The credentials of the first endpoint, the default for the copy source. */
export function endpointCredentials(wh: Warehouse): { user: string; password: string } {
  const first = endpointsOf(wh)[0];
  return first instanceof HttpWarehouse
    ? { user: first.credentials.username, password: first.credentials.password }
    : { user: 'default', password: '' };
}
