import { setTimeout as sleep } from 'node:timers/promises';
import { META, VAULT_TABLES, type VaultDatabases, type VaultTable } from '../vault/tables.js';
import { localTable, remoteTable, type ClusterTopology } from './cluster.js';
import { replicaStates, type ReplicaState } from './replicas.js';
import { rootMessage } from './errors.js';
import { withoutRetries } from './failover.js';
import type { Warehouse } from './types.js';

/**
 * Replica agreement: all replicas of a shard hold the same vault rows — per table and day, the
 * same row count and the same checksum of the rows as readers see them (FINAL). Replication is
 * asynchronous, so the comparison waits first until no replica of the vault has anything left in
 * its replication queue; a replica that is down or never catches up is reported, not compared.
 */

export interface AgreementCell {
  shard: number;
  table: string;
  /** YYYYMMDD: satellites by effective time, hubs and links by first sighting. */
  day: number;
  /** server → { rows, checksum } */
  replicas: Record<string, { rows: number; checksum: string }>;
}

export interface AgreementResult {
  /** Shards with more than one replica that were compared. */
  shardsCompared: number[];
  cellsCompared: number;
  /** Table/day cells where the replicas of a shard differ. */
  disagreements: AgreementCell[];
  /** Replicas that could not be compared: down, or still replicating after the wait. */
  unavailable: { shard: number; server: string; reason: string }[];
  /** How long the wait for empty replication queues took. */
  waitedMs: number;
}

export interface AgreementOptions {
  /** YYYY-MM-DD: compare this UTC day only. */
  day?: string | undefined;
  /** How long to wait for the replication queues to drain (default 60 s). */
  waitMs?: number;
  signal?: AbortSignal | undefined;
}

const server = (r: Pick<ReplicaState, 'host' | 'port' | 'name'>) => `${r.name ?? '?'} ${r.host}:${r.port}`;

function dayExpr(t: VaultTable): string {
  return t.kind === 'satellite'
    ? `toYYYYMMDD(${META.effectiveTs})`
    : `toYYYYMMDD(toDateTime(intDiv(${META.firstSeenUs}, 1000000), 'UTC'))`;
}

/** Per day: rows and an order-independent checksum of every column (NULL-safe). */
function cellsSql(from: string, t: VaultTable, day: string | undefined): string {
  const cols = t.columns.map((c) =>
    c.type.startsWith('Nullable(') ? `ifNull(toString(${c.name}), '^^')` : `toString(${c.name})`,
  );
  const where = day ? ` WHERE ${dayExpr(t)} = ${Number(day.replaceAll('-', ''))}` : '';
  return `SELECT ${dayExpr(t)} AS day, count() AS rows, toString(sum(cityHash64(${cols.join(', ')}))) AS checksum
FROM ${from} FINAL${where} GROUP BY day`;
}

export async function replicaAgreement(
  wh: Warehouse,
  topology: ClusterTopology,
  dbs: Pick<VaultDatabases, 'vault'>,
  opts: AgreementOptions = {},
): Promise<AgreementResult> {
  const result: AgreementResult = {
    shardsCompared: [],
    cellsCompared: 0,
    disagreements: [],
    unavailable: [],
    waitedMs: 0,
  };
  const replicated = topology.shards.filter((s) => s.replicas.length > 1);
  if (replicated.length === 0) return result;
  // 1. Wait until no replica has replication work left (or the wait is over).
  const started = Date.now();
  let states: ReplicaState[];
  for (;;) {
    states = await replicaStates(wh, topology, [dbs.vault]);
    const busy = states.filter((s) => s.state !== 'down' && s.queueSize > 0);
    if (busy.length === 0 || Date.now() - started >= (opts.waitMs ?? 60_000)) break;
    await sleep(1000, undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
  result.waitedMs = Date.now() - started;
  // 2. Per shard, compare the replicas that are up and caught up.
  await withoutRetries(wh, async (probe) => {
    for (const shard of replicated) {
      const mine = states.filter((s) => s.shard === shard.shard);
      const usable = mine.filter((s) => {
        const why =
          s.state === 'down'
            ? `down: ${s.error}`
            : s.queueSize > 0
              ? `still replicating (${s.queueSize} queue entries after ${Math.round(result.waitedMs / 1000)} s)`
              : undefined;
        if (why) result.unavailable.push({ shard: shard.shard, server: server(s), reason: why });
        return !why;
      });
      if (usable.length < 2) continue;
      result.shardsCompared.push(shard.shard);
      for (const t of VAULT_TABLES) {
        const cells = new Map<number, AgreementCell>();
        let complete = true;
        for (const r of usable) {
          let rows: { day: number; rows: string; checksum: string }[];
          try {
            rows = await probe.query(
              cellsSql(remoteTable(wh, r, dbs.vault, localTable(t.name)), t, opts.day),
              { receive_timeout: 120 },
            );
          } catch (err) {
            result.unavailable.push({
              shard: shard.shard,
              server: server(r),
              reason: `${t.name}: ${rootMessage(err)}`,
            });
            complete = false;
            continue;
          }
          for (const row of rows) {
            const day = Number(row.day);
            let cell = cells.get(day);
            if (!cell) cells.set(day, (cell = { shard: shard.shard, table: t.name, day, replicas: {} }));
            cell.replicas[server(r)] = { rows: Number(row.rows), checksum: row.checksum };
          }
        }
        if (!complete) continue; // a replica that could not be read is reported, not compared
        for (const cell of cells.values()) {
          result.cellsCompared++;
          // A replica without the day at all holds 0 rows of it.
          const seen = usable.map((r) => cell.replicas[server(r)] ?? { rows: 0, checksum: '0' });
          if (seen.some((x) => x.rows !== seen[0]!.rows || x.checksum !== seen[0]!.checksum)) {
            for (const r of usable) cell.replicas[server(r)] ??= { rows: 0, checksum: '0' };
            result.disagreements.push(cell);
          }
        }
      }
    }
  });
  return result;
}
