import { hostname } from 'node:os';
import type { Settings, Warehouse } from '../warehouse/types.js';
import { DataProblemError } from '../errors/index.js';
import { sqlString } from '../vault/sql.js';
import { retry } from '../retry/index.js';

/**
 * The backfill ledger and the per-day lease, both in the `ops` database.
 *
 * ClickHouse 18.16 has no transactions and no compare-and-set, so the lease is built from
 * append-only rows and a write-then-read protocol: a run inserts its claim, then reads every live
 * claim of the day. If it sees any other live claim it withdraws and retries later. For any two
 * runs at least one sees the other's claim (each reads after its own acknowledged insert), so two
 * runs never both proceed; at worst both withdraw and retry after a random pause. A claim lives
 * until `expires_us`; the holder renews it while it works and releases it at the end. A killed
 * run's claim is ignored at once when its pid is gone on the same host, otherwise it expires
 * after the TTL.
 */

export function ledgerDdl(ops: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${ops}`,
    `CREATE TABLE IF NOT EXISTS ${ops}.backfill_ledger
(
    day Date,
    run_id String,
    status String,
    mode String,
    format String,
    started_at DateTime('UTC'),
    finished_at DateTime('UTC'),
    updated_us UInt64,
    snapshots String,
    files String,
    lake_rows UInt64,
    lake_bytes UInt64,
    vault_rows String,
    checksums String,
    corrections String,
    error String
)
ENGINE = ReplacingMergeTree(updated_us)
ORDER BY (day, run_id)`,
    `CREATE TABLE IF NOT EXISTS ${ops}.backfill_leases
(
    day Date,
    holder String,
    host String,
    pid UInt32,
    acquired_us UInt64,
    expires_us UInt64,
    released UInt8
)
ENGINE = MergeTree
ORDER BY (day, holder, acquired_us)`,
  ];
}

export async function ensureLedger(wh: Warehouse, ops: string): Promise<void> {
  for (const sql of ledgerDdl(ops)) await wh.exec(sql);
}

export type LedgerStatus = 'running' | 'done' | 'failed';

export interface LedgerRecord {
  day: string;
  run_id: string;
  status: LedgerStatus;
  mode: string;
  format: string;
  started_at: number;
  finished_at: number;
  snapshots: Record<string, string | null>;
  files: string[];
  lake_rows: number;
  lake_bytes: number;
  vault_rows: Record<string, number>;
  checksums: Record<string, string>;
  corrections: unknown;
  error: string;
}

const nowUs = () => Date.now() * 1000;

export async function writeLedger(wh: Warehouse, ops: string, r: LedgerRecord): Promise<void> {
  await wh.insert(`${ops}.backfill_ledger`, [
    {
      day: r.day,
      run_id: r.run_id,
      status: r.status,
      mode: r.mode,
      format: r.format,
      started_at: r.started_at,
      finished_at: r.finished_at,
      updated_us: nowUs(),
      snapshots: JSON.stringify(r.snapshots),
      files: JSON.stringify(r.files),
      lake_rows: r.lake_rows,
      lake_bytes: r.lake_bytes,
      vault_rows: JSON.stringify(r.vault_rows),
      checksums: JSON.stringify(r.checksums),
      corrections: JSON.stringify(r.corrections),
      error: r.error,
    },
  ]);
}

export interface LedgerRow {
  day: string;
  run_id: string;
  status: LedgerStatus;
  mode: string;
  format: string;
  snapshots: string;
  checksums: string;
  lake_rows: string;
  started_at: string;
  finished_at: string;
  error: string;
}

/** The latest state of every run of a day, oldest first. */
export async function ledgerRuns(wh: Warehouse, ops: string, day: string): Promise<LedgerRow[]> {
  return wh.query<LedgerRow>(
    `SELECT day, run_id, argMax(status, updated_us) AS status, argMax(mode, updated_us) AS mode, argMax(format, updated_us) AS format,
            argMax(snapshots, updated_us) AS snapshots, argMax(checksums, updated_us) AS checksums,
            argMax(lake_rows, updated_us) AS lake_rows, min(started_at) AS started_at, argMax(finished_at, updated_us) AS finished_at,
            argMax(error, updated_us) AS error
     FROM ${ops}.backfill_ledger WHERE day = toDate(${sqlString(day)})
     GROUP BY day, run_id ORDER BY started_at, run_id`,
  );
}

// ---------------------------------------------------------------------------------------------
// Lease

export interface LeaseOptions {
  ttlMs?: number;
  /** How long to wait for another run's lease before giving up. */
  waitMs?: number;
  signal?: AbortSignal;
  onWait?: (holder: string, expiresInMs: number) => void;
  /**
   * Settings for claim writes and reads. On a cluster (ops replicated to every server) a majority
   * insert quorum and sequentially consistent reads keep the write-then-read protocol sound
   * across servers (warehouse/cluster-backfill.ts); none on one server.
   */
  consistency?: { write: Settings; read: Settings };
}

export interface Lease {
  readonly holder: string;
  release(): Promise<void>;
}

interface LiveClaim {
  holder: string;
  host: string;
  pid: string | number;
  expires_us: string | number;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function liveClaims(wh: Warehouse, ops: string, day: string, read?: Settings): Promise<LiveClaim[]> {
  const rows = await wh.query<LiveClaim & { released: number | string }>(
    `SELECT holder, any(host) AS host, any(pid) AS pid, max(expires_us) AS expires_us, max(released) AS released
     FROM ${ops}.backfill_leases WHERE day = toDate(${sqlString(day)})
     GROUP BY holder HAVING released = 0 AND expires_us > ${nowUs()}`,
    read,
  );
  const host = hostname();
  // A claim of a process on this host that no longer exists (killed) is dead, whatever its expiry.
  return rows.filter((r) => !(r.host === host && !processAlive(Number(r.pid))));
}

async function insertClaim(
  wh: Warehouse,
  ops: string,
  day: string,
  holder: string,
  ttlMs: number,
  released: 0 | 1,
  write?: Settings,
): Promise<void> {
  const now = nowUs();
  await wh.insert(
    `${ops}.backfill_leases`,
    [
      {
        day,
        holder,
        host: hostname(),
        pid: process.pid,
        acquired_us: now,
        expires_us: released ? now : now + ttlMs * 1000,
        released,
      },
    ],
    write,
  );
}

export class BackfillLockedError extends DataProblemError {
  override readonly code = 'BACKFILL_LOCKED';
}

/** Another run holds the day right now (the attempt is retried until `waitMs`). */
class DayBusy extends Error {
  constructor(readonly blocker: LiveClaim | undefined) {
    super(`day held by ${blocker?.holder ?? '(unknown)'}`);
  }
}

/** Takes the day's lease or throws BackfillLockedError after `waitMs`. Renews itself until released. */
export async function acquireLease(
  wh: Warehouse,
  ops: string,
  day: string,
  holder: string,
  opts: LeaseOptions = {},
): Promise<Lease> {
  const ttlMs = opts.ttlMs ?? 60_000;
  const { read, write } = opts.consistency ?? {};
  const expiresIn = (c: LiveClaim | undefined) =>
    c ? Math.max(0, Number(c.expires_us) / 1000 - Date.now()) : 0;
  return retry(
    async (attempt) => {
      // Each attempt is a fresh claim id: a withdrawn claim stays withdrawn.
      const claim = `${holder}#${attempt}`;
      const others = await liveClaims(wh, ops, day, read);
      if (others.length === 0) {
        await insertClaim(wh, ops, day, claim, ttlMs, 0, write);
        const after = (await liveClaims(wh, ops, day, read)).filter((c) => c.holder !== claim);
        if (after.length === 0) return startRenewal(wh, ops, day, claim, ttlMs, write);
        await insertClaim(wh, ops, day, claim, ttlMs, 1, write); // withdraw: someone claimed at the same time
      }
      throw new DayBusy(others[0] ?? (await liveClaims(wh, ops, day, read))[0]);
    },
    {
      retryable: (err) => err instanceof DayBusy,
      budgetMs: Math.max(1, opts.waitMs ?? 120_000),
      // Short random pauses: two runs that withdrew at the same time must not retry in step.
      baseMs: 500,
      maxMs: 1000,
      jitter: 0.5,
      signal: opts.signal,
      onRetry: ({ err }) => {
        const { blocker } = err as DayBusy;
        if (blocker) opts.onWait?.(blocker.holder, expiresIn(blocker));
      },
      giveUp: ({ err }) => {
        const { blocker } = err as DayBusy;
        return new BackfillLockedError(
          `Day ${day} is being backfilled by run ${blocker?.holder ?? '(unknown)'} (host ${blocker?.host ?? '?'}, pid ${blocker?.pid ?? '?'}).`,
          {
            hint: `Wait for that run to finish (its lease expires in ${Math.ceil(expiresIn(blocker) / 1000)} s if it died), then run again.`,
            details: { day, holder: blocker?.holder },
          },
        );
      },
    },
  );
}

function startRenewal(
  wh: Warehouse,
  ops: string,
  day: string,
  holder: string,
  ttlMs: number,
  write?: Settings,
): Lease {
  let released = false;
  const timer = setInterval(
    () => {
      if (!released) insertClaim(wh, ops, day, holder, ttlMs, 0, write).catch(() => undefined);
    },
    Math.max(1000, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return {
    holder,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await insertClaim(wh, ops, day, holder, ttlMs, 1, write);
    },
  };
}
