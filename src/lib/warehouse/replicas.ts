import { sqlString } from './quote.js';
import { remoteTable, type ClusterTopology } from './cluster.js';
import { rootMessage } from './errors.js';
import { withoutRetries } from './failover.js';
import type { Settings, Warehouse } from './types.js';

/** One replicated table on one server, as its system.replicas sees it. */
export interface ReplicaTable {
  database: string;
  table: string;
  readOnly: boolean;
  /** Seconds the replica is behind the newest part it knows of (absolute_delay). */
  delaySeconds: number;
  /**
   * Replication entries still to do: those in the replica's queue (fetches, merges, partition
   * swaps) plus those in the shared log it has not pulled yet (a replica just restarted has an
   * empty queue until it does).
   */
  queue: number;
  /** Active parts' rows. */
  rows: number;
}

export interface ReplicaState {
  shard: number;
  host: string;
  port: number;
  /** The server's {replica} macro; null when it did not answer. */
  name: string | null;
  /** up; read-only (a replicated table without a ZooKeeper session); down (did not answer). */
  state: 'up' | 'read-only' | 'down';
  /** Why it is down. */
  error: string | null;
  readOnlyTables: number;
  maxDelaySeconds: number;
  queueSize: number;
  rows: number;
  /** The most recent failed replication queue entry. */
  lastException: { table: string; message: string; at: string } | null;
  tables: ReplicaTable[];
}

/** A dead server must show up as down within seconds, not after the default 300 s receive timeout. */
const PROBE: Settings = { connect_timeout: 3, receive_timeout: 15, send_timeout: 15 };

/**
 * The replication state of every server of the cluster, read through whichever endpoint answers
 * with remote() (18.16 has no clusterAllReplicas): read-only tables, delay, queue, the last
 * replication error and rows, for the replicated tables of `databases`.
 */
export async function replicaStates(
  wh: Warehouse,
  topology: ClusterTopology,
  databases: readonly string[],
): Promise<ReplicaState[]> {
  const inDbs = `database IN (${databases.map(sqlString).join(', ')})`;
  const out: ReplicaState[] = [];
  await withoutRetries(wh, async (probe) => {
    for (const s of topology.shards) {
      for (const r of s.replicas) {
        const state: ReplicaState = {
          shard: s.shard,
          host: r.host,
          port: r.port,
          name: null,
          state: 'up',
          error: null,
          readOnlyTables: 0,
          maxDelaySeconds: 0,
          queueSize: 0,
          rows: 0,
          lastException: null,
          tables: [],
        };
        out.push(state);
        const from = (table: string) => remoteTable(wh, r, 'system', table);
        try {
          const [macro] = await probe.query<{ v: string }>(
            `SELECT substitution AS v FROM ${from('macros')} WHERE macro = 'replica'`,
            PROBE,
          );
          state.name = macro?.v ?? null;
          // No ZooKeeper-backed columns (total_replicas …): they would hang while ZooKeeper is down.
          const tables = await probe.query<Record<string, string | number>>(
            `SELECT database, table, is_readonly, absolute_delay, queue_size FROM ${from('replicas')} WHERE ${inDbs} ORDER BY database, table`,
            PROBE,
          );
          const rows = await probe.query<{ database: string; table: string; rows: string }>(
            `SELECT database, table, toString(sum(rows)) AS rows FROM ${from('parts')} WHERE active AND ${inDbs} GROUP BY database, table`,
            PROBE,
          );
          const rowsOf = new Map(rows.map((x) => [`${x.database}.${x.table}`, Number(x.rows)]));
          const behind = await logBehind(probe, from('replicas'), inDbs);
          state.tables = tables.map((t) => ({
            database: String(t.database),
            table: String(t.table),
            readOnly: Number(t.is_readonly) === 1,
            delaySeconds: Number(t.absolute_delay),
            queue: Number(t.queue_size) + (behind.get(`${t.database}.${t.table}`) ?? 0),
            rows: rowsOf.get(`${t.database}.${t.table}`) ?? 0,
          }));
          const [last] = await probe.query<{
            database: string;
            table: string;
            last_exception: string;
            at: string;
          }>(
            `SELECT database, table, last_exception, toString(last_attempt_time) AS at FROM ${from('replication_queue')}
             WHERE ${inDbs} AND last_exception != '' ORDER BY last_attempt_time DESC LIMIT 1`,
            PROBE,
          );
          if (last)
            state.lastException = {
              table: `${last.database}.${last.table}`,
              message: last.last_exception.split('\n')[0]!,
              at: last.at,
            };
        } catch (err) {
          state.state = 'down';
          state.error = rootMessage(err);
          continue;
        }
        state.readOnlyTables = state.tables.filter((t) => t.readOnly).length;
        state.maxDelaySeconds = Math.max(0, ...state.tables.map((t) => t.delaySeconds));
        state.queueSize = state.tables.reduce((n, t) => n + t.queue, 0);
        state.rows = state.tables.reduce((n, t) => n + t.rows, 0);
        if (state.readOnlyTables > 0) state.state = 'read-only';
      }
    }
  });
  return out;
}

/**
 * Log entries each replicated table has not pulled into its queue yet. Entries are numbered from
 * 0 and log_pointer is the next one to pull, so a replica that has everything has
 * log_pointer = log_max_index + 1 (both 0: nothing was ever logged). Those columns come from
 * ZooKeeper: without it they are unknown (empty map) rather than waited for.
 */
async function logBehind(probe: Warehouse, from: string, inDbs: string): Promise<Map<string, number>> {
  try {
    const rows = await probe.query<{ database: string; table: string; behind: string }>(
      `SELECT database, table, toString(log_max_index + 1 - log_pointer) AS behind FROM ${from}
       WHERE ${inDbs} AND NOT is_session_expired AND (log_max_index > 0 OR log_pointer > 0) AND log_max_index + 1 > log_pointer`,
      PROBE,
    );
    return new Map(rows.map((r) => [`${r.database}.${r.table}`, Number(r.behind)]));
  } catch {
    return new Map();
  }
}
