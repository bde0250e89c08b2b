import { execFile } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { HttpWarehouse } from '../../../src/lib/warehouse/http.js';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { localTable, readTopology } from '../../../src/lib/warehouse/cluster.js';
import { replicaStates } from '../../../src/lib/warehouse/replicas.js';
import { VAULT_TABLES, type VaultDatabases } from '../../../src/lib/vault/tables.js';
import { REPO_ROOT, STACK_DIR, ports } from '../../helpers/stack.js';

const run = promisify(execFile);

/** The replicated warehouse of the local stack (`scripts/stack/up cluster`). */
export const CLUSTER = 'shopdata';
export const NODES = [1, 2, 3] as const;
export type Node = (typeof NODES)[number];
export const nodeUrl = (n: Node) => `http://default:@127.0.0.1:${ports[`CHC${n}_HTTP_PORT`]}`;
export const nodeTcp = (n: Node) => ports[`CHC${n}_TCP_PORT`]!;
/** Shard of each node: ch1 and ch2 replicate shard 1, ch3 is shard 2. */
export const SHARD_OF: Record<Node, number> = { 1: 1, 2: 1, 3: 2 };

/** SHOPDATA_CLICKHOUSE_URL for the cluster, endpoints in this order (the first one is used while it answers). */
export function clusterUrl(order: readonly Node[] = NODES): string {
  return order.map((n) => nodeUrl(n)).join(',');
}

/** One server on its own (no failover), for per-replica reads. */
export function node(n: Node): HttpWarehouse {
  return new HttpWarehouse(nodeUrl(n), { retries: 0, requestTimeoutMs: 30_000 });
}

const env = { ...process.env, SHOPDATA_STACK_DIR: STACK_DIR };
async function service(script: string, cmd: string): Promise<string> {
  const r = await run('bash', [`${REPO_ROOT}scripts/stack/services/${script}.sh`, cmd], {
    env,
    timeout: 120_000,
  });
  return r.stdout + r.stderr;
}

/** kill -9 one ClickHouse server of the cluster; returns its pid. */
export function killNode(n: Node): number {
  const pid = Number(
    readFileSync(`${STACK_DIR}/clickhouse-cluster/ch${n}/run/clickhouse-server.pid`, 'utf8'),
  );
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** Starts whatever server of the cluster is not running and waits until all answer. */
export const startNodes = () => service('clickhouse-cluster', 'start');
export const stopZooKeeper = () => service('zookeeper', 'stop');
export const startZooKeeper = () => service('zookeeper', 'start');
export const clusterStatus = () => service('cluster', 'status');

/** Waits until `check` resolves true (polling), or throws with `what`. */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      if (await check()) return Date.now() - t0;
    } catch {
      // not yet
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Every server answers and no replicated table is read-only. */
export async function clusterHealthy(): Promise<boolean> {
  for (const n of NODES) {
    const wh = node(n);
    try {
      const [r] = await wh.query<{ n: string }>('SELECT count() AS n FROM system.replicas WHERE is_readonly');
      if (Number(r?.n) !== 0) return false;
    } catch {
      return false;
    } finally {
      await wh.close();
    }
  }
  return true;
}

/**
 * The fault tests kill servers and stop ZooKeeper: one cluster test file at a time holds the
 * cluster (a lock file with the holder's pid; a dead holder's lock is taken over). Also waits
 * for the cluster to be healthy, so a previous file's fault is over.
 */
export async function lockCluster(): Promise<() => void> {
  const path = `${STACK_DIR}/run/cluster-tests.lock`;
  await waitUntil('the cluster test lock', 1_500_000, async () => {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch {
      const holder = Number(readFileSync(path, 'utf8'));
      try {
        process.kill(holder, 0);
      } catch {
        rmSync(path, { force: true }); // the holder is gone
      }
      return false;
    }
  });
  await startNodes();
  await waitUntil('a healthy cluster', 120_000, clusterHealthy);
  return () => rmSync(path, { force: true });
}

/** A test's own vault, mart and ops on the cluster. */
export async function createClusterVault(
  dbs: VaultDatabases,
  order: readonly Node[] = NODES,
): Promise<Warehouse> {
  const wh = await openWarehouse(clusterUrl(order), { retries: 3 });
  await migrate(wh, { dbs, cluster: CLUSTER });
  return wh;
}

export async function dropClusterVault(wh: Warehouse, dbs: VaultDatabases): Promise<void> {
  for (const db of [dbs.mart, dbs.vault, dbs.ops])
    await wh.exec(`DROP DATABASE IF EXISTS ${db} ON CLUSTER ${CLUSTER}`).catch(() => undefined);
}

/** Rows per vault table on one server's local (shard) tables, FINAL. */
export async function localCounts(
  n: Node,
  dbs: VaultDatabases,
  final = true,
): Promise<Record<string, number>> {
  const wh = node(n);
  try {
    const out: Record<string, number> = {};
    for (const t of VAULT_TABLES) {
      const [r] = await wh.query<{ n: string }>(
        `SELECT count() AS n FROM ${dbs.vault}.${localTable(t.name)}${final ? ' FINAL' : ''}`,
      );
      out[t.name] = Number(r?.n ?? 0);
    }
    return out;
  } finally {
    await wh.close();
  }
}

/**
 * Every server answers and has nothing left to replicate for these databases: its queue is
 * empty and it has pulled the whole shared log (warehouse/replicas.ts, what `warehouse status`
 * and the replica-agreement check use).
 */
export async function replicasSettled(dbs: VaultDatabases): Promise<boolean> {
  const wh = await openWarehouse(clusterUrl(), { retries: 0 });
  try {
    const states = await replicaStates(wh, await readTopology(wh, CLUSTER), [dbs.vault, dbs.ops]);
    return states.every((s) => s.state === 'up' && s.queueSize === 0);
  } finally {
    await wh.close();
  }
}

export const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** Resident memory of ZooKeeper and each ClickHouse server of the cluster, for the test logs. */
export function clusterRss(): string {
  const rss = (pidFile: string) => {
    try {
      const pid = readFileSync(pidFile, 'utf8').trim();
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Math.round(Number(m[1]) / 1024) : 0;
    } catch {
      return 0;
    }
  };
  const parts = [`zookeeper ${rss(`${STACK_DIR}/run/zookeeper.pid`)} MB`];
  for (const n of NODES)
    parts.push(`ch${n} ${rss(`${STACK_DIR}/clickhouse-cluster/ch${n}/run/clickhouse-server.pid`)} MB`);
  return parts.join(', ');
}
