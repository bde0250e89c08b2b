import { setTimeout as sleep } from 'node:timers/promises';
import { DependencyUnavailableError } from '../errors/index.js';
import { createTableSql, type VaultDatabases, type VaultTable } from '../vault/tables.js';
import {
  localTable,
  readTopology,
  remoteTable,
  shardEndpoints,
  shardKeySql,
  vaultCluster,
  type ClusterTopology,
} from './cluster.js';
import { replicaStates } from './replicas.js';
import { FailoverWarehouse } from './failover.js';
import { HttpWarehouse } from './http.js';
import type { Settings, Warehouse } from './types.js';

/**
 * A backfill on a cluster (`warehouse migrate --cluster`). The day is staged as on one server, on
 * one writable server of the cluster (the stage): staging tables are plain local tables there, the
 * vault is read through the Distributed tables and new hub/link keys are written through them.
 * Only the partition swap is per shard: ClickHouse 18.16 has no REPLACE PARTITION ON CLUSTER, so
 * for every shard one of its replicas copies its share of the staged rows (by the same sharding
 * expression as the Distributed tables) from the stage into a local table and replaces the
 * partition of its replicated table, which ZooKeeper then replays on the other replicas.
 * The lease (ops, replicated to every server) is written with a majority quorum and read
 * sequentially consistent, so two backfills on different servers still see each other's claims.
 */
export interface ClusterBackfill {
  cluster: string;
  topology: ClusterTopology;
  /** The server every staging, ledger and lease statement goes to. */
  stage: Warehouse;
  lease: { write: Settings; read: Settings };
  /** Replaces (no staged rows: drops) a satellite's day partition on every shard from `staging` on the stage. */
  replacePartition(
    t: VaultTable,
    partition: number,
    staging: string,
    onShard?: (shard: number, rows: number) => void,
  ): Promise<void>;
  /** Waits (at most `maxMs`) until every live replica applied the swaps, so reads see the new data. */
  settle(maxMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** `(key % Σweights)` within the slots of `shard`: the rows the Distributed tables send there. */
export function shardFilterSql(hashKeyColumn: string, topology: ClusterTopology, shard: number): string {
  const total = topology.shards.reduce((n, s) => n + s.weight, 0);
  let lo = 0;
  for (const s of topology.shards) {
    if (s.shard === shard) {
      const slot = `(${shardKeySql(hashKeyColumn)} % ${total})`;
      return s.weight === 1 ? `${slot} = ${lo}` : `${slot} >= ${lo} AND ${slot} < ${lo + s.weight}`;
    }
    lo += s.weight;
  }
  throw new Error(`cluster ${topology.name} has no shard ${shard}`);
}

/** The stage's own address in the cluster (host:port of remote_servers), matched by its {replica} macro. */
async function ownAddress(
  stage: Warehouse,
  topology: ClusterTopology,
): Promise<{ host: string; port: number }> {
  const macro = `SELECT substitution AS v FROM system.macros WHERE macro = 'replica'`;
  const [own] = await stage.query<{ v: string }>(macro);
  for (const s of topology.shards) {
    for (const r of s.replicas) {
      const [other] = await stage
        .query<{ v: string }>(
          `SELECT substitution AS v FROM ${remoteTable(stage, r, 'system', 'macros')} WHERE macro = 'replica'`,
        )
        .catch(() => [undefined]);
      if (own && other?.v === own.v) return r;
    }
  }
  throw new DependencyUnavailableError(
    'clickhouse',
    `Cannot tell which server of cluster ${topology.name} ${stage.displayUrl} is (no replica answered with its {replica} macro "${own?.v ?? '?'}").`,
    { hint: 'Every server needs a unique <macros><replica> (docs/CLUSTER.md).' },
  );
}

/** The cluster side of a backfill; undefined when the vault is on one server. */
export async function openClusterBackfill(
  wh: Warehouse,
  dbs: VaultDatabases,
): Promise<ClusterBackfill | undefined> {
  const cluster = await vaultCluster(wh, dbs);
  if (!cluster) return undefined;
  const topology = await readTopology(wh, cluster);
  const { endpoints, down } = await shardEndpoints(wh, topology);
  if (down.size > 0) {
    throw new DependencyUnavailableError(
      'clickhouse',
      `A backfill swaps partitions on every shard, but ${[...down].map(([s, why]) => `shard ${s} has no writable endpoint (${why})`).join('; ')}; nothing was changed.`,
      {
        hint: 'Bring a replica of every shard back (and ZooKeeper), or list one in SHOPDATA_CLICKHOUSE_URL, then run again.',
      },
    );
  }
  // The endpoints answer once each behind a failover; here each is used alone, with the usual retries.
  const retries = wh instanceof FailoverWarehouse ? wh.retries : 4;
  const own = new Map<number, Warehouse>();
  for (const [s, e] of endpoints) own.set(s, e instanceof HttpWarehouse ? e.withRetries(retries) : e);
  const copies = [...new Set(own.values())].filter((e) => ![...endpoints.values()].includes(e));
  const stage = own.get(topology.shards[0]!.shard)!;
  const stageAt = await ownAddress(stage, topology);
  const servers = topology.shards.reduce((n, s) => n + s.replicas.length, 0);
  return {
    cluster,
    topology,
    stage,
    lease: {
      write: { insert_quorum: Math.floor(servers / 2) + 1 },
      read: { select_sequential_consistency: 1 },
    },
    async replacePartition(t, partition, staging, onShard) {
      const [stageDb, stageTable] = staging.split('.') as [string, string];
      const cols = t.columns.map((c) => c.name).join(', ');
      for (const s of topology.shards) {
        const y = own.get(s.shard)!;
        const shardStaging = `${stageTable}_shard${s.shard}`;
        await y.exec(`DROP TABLE IF EXISTS ${stageDb}.${shardStaging}`);
        await y.exec(createTableSql(t, stageDb, shardStaging, false));
        try {
          await y.exec(
            `INSERT INTO ${stageDb}.${shardStaging} (${cols}) SELECT ${cols} FROM ${remoteTable(y, stageAt, stageDb, stageTable)} WHERE ${shardFilterSql(t.hashKey, topology, s.shard)}`,
          );
          const [row] = await y.query<{ n: string }>(`SELECT count() AS n FROM ${stageDb}.${shardStaging}`);
          const rows = Number(row?.n ?? 0);
          const target = `${dbs.vault}.${localTable(t.name)}`;
          // An empty result for the day is a DROP (ClickHouse ≥ 25 refuses REPLACE from an empty source).
          if (rows === 0) await y.exec(`ALTER TABLE ${target} DROP PARTITION ${partition}`);
          else
            await y.exec(
              `ALTER TABLE ${target} REPLACE PARTITION ${partition} FROM ${stageDb}.${shardStaging}`,
            );
          onShard?.(s.shard, rows);
        } finally {
          await y.exec(`DROP TABLE IF EXISTS ${stageDb}.${shardStaging}`).catch(() => undefined);
        }
      }
    },
    async close() {
      await Promise.all(copies.map((c) => c.close()));
    },
    async settle(maxMs = 120_000) {
      const started = Date.now();
      for (;;) {
        const states = await replicaStates(wh, topology, [dbs.vault]);
        if (states.every((s) => s.state === 'down' || s.queueSize === 0)) return;
        if (Date.now() - started >= maxMs) return;
        await sleep(500);
      }
    },
  };
}

/** For messages: `cluster shopdata (2 shards, 3 servers)`. */
export function describeCluster(c: ClusterBackfill): string {
  const servers = c.topology.shards.reduce((n, s) => n + s.replicas.length, 0);
  return `cluster ${c.cluster} (${c.topology.shards.length} shards, ${servers} servers)`;
}
