import { ConfigError } from '../errors/index.js';
import { sqlString } from './quote.js';
import { VAULT_TABLES, type VaultDatabases } from '../vault/tables.js';
import { endpointsOf } from './failover.js';
import { HttpWarehouse } from './http.js';
import type { Warehouse } from './types.js';

/**
 * The vault on a ClickHouse cluster (`warehouse migrate --cluster NAME`):
 * - each vault table `db.t` is a Distributed table over `db.t_local`, a Replicated*MergeTree whose
 *   ZooKeeper path holds the `{shard}` macro (one copy per replica of a shard);
 * - rows are sharded by their hash key (a satellite by its parent's key), so a key's hub row, its
 *   links keyed by it and its satellites live on one shard and FINAL collapses them there;
 * - the ops tables are replicated to every server (one ZooKeeper path, no shard);
 * - the mart views exist on every server and read through the Distributed tables.
 */

export const LOCAL_SUFFIX = '_local';

/** The shard-local (replicated) table behind the Distributed vault table `name`. */
export function localTable(name: string): string {
  return `${name}${LOCAL_SUFFIX}`;
}

/**
 * The sharding expression of a vault table: the first 4 bytes of its hash key (hex MD5) as a
 * little-endian UInt32. Uniform, cheap, and the same in TypeScript (shardKeyOf).
 */
export function shardKeySql(hashKeyColumn: string): string {
  return `reinterpretAsUInt32(unhex(substring(${hashKeyColumn}, 1, 8)))`;
}

export function shardKeyOf(hashKey: string): number {
  return Buffer.from(hashKey.slice(0, 8), 'hex').readUInt32LE(0);
}

/** ZooKeeper path of a sharded table's replicas; `{shard}` and `{replica}` are server macros. */
export function shardedZkPath(cluster: string, db: string, table: string): string {
  return `/clickhouse/tables/${cluster}/{shard}/${db}/${table}`;
}

/** ZooKeeper path of a table every server of the cluster holds in full (ops). */
export function everywhereZkPath(cluster: string, db: string, table: string): string {
  return `/clickhouse/tables/${cluster}/all/${db}/${table}`;
}

export interface ClusterShard {
  /** shard_num of system.clusters (1-based, in the order of remote_servers). */
  shard: number;
  weight: number;
  replicas: { host: string; port: number }[];
}

export interface ClusterTopology {
  name: string;
  shards: ClusterShard[];
}

/** The cluster as the server's remote_servers define it; ConfigError (exit 2) when it is unknown. */
export async function readTopology(wh: Warehouse, cluster: string): Promise<ClusterTopology> {
  const rows = await wh.query<{ shard_num: number; shard_weight: number; host_name: string; port: number }>(
    `SELECT shard_num, shard_weight, host_name, port FROM system.clusters WHERE cluster = ${sqlString(cluster)} ORDER BY shard_num, replica_num`,
  );
  if (rows.length === 0) {
    const known = await wh.query<{ cluster: string }>('SELECT DISTINCT cluster FROM system.clusters');
    throw new ConfigError(
      `ClickHouse at ${wh.displayUrl} has no cluster "${cluster}" in its remote_servers.`,
      {
        hint: `Known clusters: ${known.map((k) => k.cluster).join(', ') || '(none)'}. Define it in the server config (see docs/CLUSTER.md).`,
      },
    );
  }
  const shards = new Map<number, ClusterShard>();
  for (const r of rows) {
    const n = Number(r.shard_num);
    let s = shards.get(n);
    if (!s) shards.set(n, (s = { shard: n, weight: Number(r.shard_weight), replicas: [] }));
    s.replicas.push({ host: r.host_name, port: Number(r.port) });
  }
  return { name: cluster, shards: [...shards.values()] };
}

/** The shard (shard_num) a sharding-key value goes to: ClickHouse's Distributed routing (key mod Σweights). */
export function shardOfKey(key: number, topology: ClusterTopology): number {
  const total = topology.shards.reduce((s, x) => s + x.weight, 0);
  let slot = key % total;
  for (const s of topology.shards) {
    if (slot < s.weight) return s.shard;
    slot -= s.weight;
  }
  throw new Error(`no shard for slot ${key % total}`);
}

/**
 * The cluster the vault of `dbs` lives on, read from its Distributed tables; undefined for a
 * single server (or an unmigrated warehouse).
 */
export async function vaultCluster(
  wh: Warehouse,
  dbs: Pick<VaultDatabases, 'vault'>,
): Promise<string | undefined> {
  if (wh.engine !== 'clickhouse') return undefined;
  const probe = VAULT_TABLES[0]!.name;
  const rows = await wh.query<{ engine: string; engine_full: string }>(
    `SELECT engine, engine_full FROM system.tables WHERE database = ${sqlString(dbs.vault)} AND name = ${sqlString(probe)}`,
  );
  const row = rows[0];
  if (!row || row.engine !== 'Distributed') return undefined;
  const m = /^Distributed\(\s*'?([^',)\s]+)'?/.exec(row.engine_full);
  return m?.[1];
}

/** The shards (shard_num) the server behind `wh` holds a replica of. */
export async function localShards(wh: Warehouse, cluster: string): Promise<number[]> {
  const rows = await wh.query<{ shard_num: number }>(
    `SELECT DISTINCT shard_num FROM system.clusters WHERE cluster = ${sqlString(cluster)} AND is_local`,
  );
  return rows.map((r) => Number(r.shard_num));
}

/**
 * For every shard, one endpoint of SHOPDATA_CLICKHOUSE_URL that is a replica of it and writable
 * (answers, and no replicated table of it is read-only): statements that must run on a shard's own
 * tables (REPLACE PARTITION) go there. `down` names the shards without one, and why. Throws
 * ConfigError (exit 2) when every endpoint answered and still a shard has none at all.
 */
export async function shardEndpoints(
  wh: Warehouse,
  topology: ClusterTopology,
): Promise<{ endpoints: Map<number, Warehouse>; down: Map<number, string> }> {
  const endpoints = new Map<number, Warehouse>();
  const readOnly = new Map<number, string>();
  const unreachable: string[] = [];
  const covered = new Set<number>();
  for (const e of endpointsOf(wh)) {
    let shards: number[];
    let ro: boolean;
    try {
      shards = await localShards(e, topology.name);
      const [row] = await e.query<{ n: string }>(
        'SELECT count() AS n FROM system.replicas WHERE is_readonly',
      );
      ro = Number(row?.n ?? 0) > 0;
    } catch (err) {
      unreachable.push(`${e.displayUrl} (${(err as Error).message.split('\n')[0]})`);
      continue;
    }
    for (const s of shards) {
      covered.add(s);
      if (ro) readOnly.set(s, `${e.displayUrl} is read-only (no ZooKeeper session)`);
      else if (!endpoints.has(s)) endpoints.set(s, e);
    }
  }
  const all = topology.shards.map((s) => s.shard);
  const uncovered = all.filter((s) => !covered.has(s));
  if (unreachable.length === 0 && uncovered.length > 0) {
    throw new ConfigError(
      `SHOPDATA_CLICKHOUSE_URL names no server of shard ${uncovered.join(', ')} of cluster ${topology.name}.`,
      {
        hint: 'Statements that change one shard (a backfill swaps partitions shard by shard) need at least one endpoint per shard: list a replica of every shard, comma-separated.',
      },
    );
  }
  const down = new Map<number, string>();
  for (const s of all) {
    if (endpoints.has(s)) continue;
    down.set(s, readOnly.get(s) ?? `no endpoint of it answered: ${unreachable.join('; ') || 'none listed'}`);
  }
  return { endpoints, down };
}

/**
 * `remote('host:port', db, table, user, password)` with the credentials of the endpoint `wh`
 * speaks with: reads one server of the cluster through any other (18.16 has no
 * clusterAllReplicas). Literals go through sqlString.
 */
export function remoteTable(
  wh: Warehouse,
  replica: { host: string; port: number },
  db: string,
  table: string,
): string {
  const first = endpointsOf(wh)[0];
  const creds = first instanceof HttpWarehouse ? first.credentials : { username: 'default', password: '' };
  return `remote(${sqlString(`${replica.host}:${replica.port}`)}, ${db}, ${table}, ${sqlString(creds.username)}, ${sqlString(creds.password)})`;
}
