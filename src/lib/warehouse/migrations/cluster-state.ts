import { ConfigError, DependencyUnavailableError } from '../../errors/index.js';
import { sqlString } from '../quote.js';
import type { VaultDatabases } from '../../vault/tables.js';
import { clickhouseErrorCode, rootMessage } from '../errors.js';
import { readTopology, remoteTable, type ClusterTopology } from '../cluster.js';
import { withoutRetries } from '../failover.js';
import type { Warehouse } from '../types.js';
import { MigrationStateError } from './errors.js';

const MIGRATIONS_TABLE = 'schema_migrations';

/**
 * The cluster a warehouse was migrated for, read from its migrations table: on a cluster it is
 * replicated under /clickhouse/tables/<cluster>/all/… (migrations/cluster.ts). Undefined for a
 * single server or a warehouse never migrated.
 */
export async function migrationsCluster(
  wh: Warehouse,
  dbs: Pick<VaultDatabases, 'ops'>,
): Promise<{ migrated: boolean; cluster: string | undefined }> {
  const rows = await wh.query<{ engine_full: string }>(
    `SELECT engine_full FROM system.tables WHERE database = ${sqlString(dbs.ops)} AND name = ${sqlString(MIGRATIONS_TABLE)}`,
  );
  const row = rows[0];
  if (!row) return { migrated: false, cluster: undefined };
  const m = /^Replicated\w*\(\s*'\/clickhouse\/tables\/([^/']+)\/all\//.exec(row.engine_full);
  return { migrated: true, cluster: m?.[1] };
}

/** `--cluster` must match what the warehouse was migrated as; exit 2 before anything changes. */
export function assertSameLayout(
  wanted: string | undefined,
  found: { migrated: boolean; cluster: string | undefined },
  url: string,
): void {
  if (!found.migrated || wanted === found.cluster) return;
  if (wanted && !found.cluster) {
    throw new MigrationStateError(
      `${url} holds a single-server warehouse; --cluster ${wanted} cannot convert it in place.`,
      {
        hint: 'Migrate an empty cluster with --cluster and copy the data over (docs/CLUSTER.md, "From one server to a cluster"), or drop --cluster.',
      },
    );
  }
  if (!wanted) {
    throw new MigrationStateError(`${url} holds a warehouse on cluster ${found.cluster}.`, {
      hint: `Run with --cluster ${found.cluster}: every statement must run ON CLUSTER there.`,
    });
  }
  throw new MigrationStateError(`${url} holds a warehouse on cluster ${found.cluster}, not ${wanted}.`, {
    hint: `Run with --cluster ${found.cluster}.`,
  });
}

/**
 * Before ON CLUSTER statements: the cluster exists (exit 2), ZooKeeper is configured (exit 2)
 * and reachable, and every server answers (exit 3) — a distributed DDL statement waits for all of
 * them, and a server that misses it stays behind.
 */
export async function checkClusterReady(wh: Warehouse, cluster: string): Promise<ClusterTopology> {
  const topology = await readTopology(wh, cluster);
  try {
    await wh.query(`SELECT name FROM system.zookeeper WHERE path = '/' LIMIT 1`);
  } catch (err) {
    if (clickhouseErrorCode(err) === 225) {
      throw new ConfigError(`ClickHouse at ${wh.displayUrl} has no ZooKeeper configured.`, {
        hint: 'Replicated tables and ON CLUSTER statements need <zookeeper> in the server config (docs/CLUSTER.md).',
        cause: err,
      });
    }
    throw new DependencyUnavailableError('zookeeper', `ZooKeeper is not reachable from ${wh.displayUrl}.`, {
      cause: err,
      hint: 'Start ZooKeeper (local stack: scripts/stack/up cluster) and try again; nothing was changed.',
    });
  }
  const down: string[] = [];
  await withoutRetries(wh, async (probe) => {
    for (const s of topology.shards) {
      for (const r of s.replicas) {
        try {
          await probe.query(`SELECT 1 FROM ${remoteTable(wh, r, 'system', 'one')}`, { connect_timeout: 5 });
        } catch (err) {
          down.push(`${r.host}:${r.port} (shard ${s.shard}): ${rootMessage(err)}`);
        }
      }
    }
  });
  if (down.length > 0) {
    throw new DependencyUnavailableError(
      'clickhouse',
      `Servers of cluster ${cluster} are down: ${down.join('; ')}`,
      {
        hint: 'ON CLUSTER statements need every server; start them and run `warehouse migrate --cluster` again (nothing was changed).',
      },
    );
  }
  return topology;
}
