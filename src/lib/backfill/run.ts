import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Warehouse } from '../warehouse/types.js';
import { dialectFor } from '../warehouse/dialect.js';
import { sqlString } from '../warehouse/quote.js';
import { Masker, redactError } from '../connect/mask.js';
import { DataProblemError, InterruptedError, UsageError } from '../errors/index.js';
import { mapChanges } from '../vault/mapping.js';
import { VAULT_TABLES, type VaultDatabases, type VaultTable } from '../vault/tables.js';
import { SOURCE_TABLES, type SourceTable } from '../vault/types.js';
import { planTableDays, readPlanChanges, type LakeFormat, type LakeScanPlan } from '../lake/index.js';
import type { LakeIO } from '../lake/io.js';
import { dateOfEpochDay, epochDayOfDate } from '../lake/changes.js';
import { acquireLease, ensureLedger, writeLedger, type LedgerRecord } from './ledger.js';
import { dayStartUs, partitionId } from './dates.js';
import { readWarehouseClock } from '../warehouse/clock.js';
import {
  KEYED,
  SATELLITES,
  carryOverSql,
  checksumSql,
  createStagingSql,
  duplicatesSql,
  insertNewKeysSql,
  newKeysName,
  newKeysSql,
  partitionPredicate,
  satelliteReportSql,
  stagingName,
} from './vaultsql.js';
import {
  expectedSatRowsSql,
  lakeSource,
  saltKeyTable,
  srcTableName,
  srcTableSql,
  targetInserts,
  type PullContext,
  type PullS3,
} from './pull.js';

export type BackfillMode = 'push' | 'pull' | 'auto';

export interface BackfillOptions {
  wh: Warehouse;
  io: LakeIO;
  dbs: VaultDatabases;
  days: string[];
  format: LakeFormat | 'auto';
  mode: BackfillMode;
  dryRun?: boolean;
  piiSalt: string;
  /** Pin Iceberg snapshots: per table id, or the snapshot current at a time. */
  snapshotIds?: Partial<Record<SourceTable, bigint>>;
  asOfMs?: number;
  cluster?: string;
  /** Pull mode over S3: the endpoint and, for a server, the named collection with its credentials. */
  s3?: PullS3;
  /** Working directory of an embedded engine (pull from a local lake). */
  cwd?: string;
  leaseTtlMs?: number;
  lockWaitMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  onProgress?: (e: ProgressEvent) => void;
  /** Rows per insert in push mode. */
  batchRows?: number;
}

export interface ProgressEvent {
  day: string;
  step: 'plan' | 'lock' | 'stage' | 'verify' | 'report' | 'swap' | 'done';
  message: string;
}

export interface TablePlan {
  table: SourceTable;
  format: LakeFormat;
  snapshotId: string | null;
  files: { uri: string; bytes: number }[];
  deleteFiles: number;
  bytes: number;
  /** Lake rows read for the day (after deletes). Not known in a dry run. */
  rows?: number;
  /** Streamed rows of this source committed after this time (µs) are kept: the lake does not cover them yet. */
  highWaterMarkUs?: number;
}

export interface Correction {
  /** Rows the stream had loaded for the day (deduplicated). */
  before: number;
  /** Rows after the backfill. */
  after: number;
  added: number;
  changed: number;
  removed: number;
  /** Extra copies of rows the stream loaded more than once (not yet merged away). */
  duplicates: number;
}

export interface DayResult {
  day: string;
  runId: string;
  status: 'done' | 'planned';
  mode: 'push' | 'pull';
  tables: TablePlan[];
  /** Satellite partitions replaced (or to be replaced): `vault.sat_user:20261124`. */
  partitions: string[];
  vault: Record<string, { rows: number; checksum: string }>;
  corrections: Record<string, Correction>;
  verified: boolean;
  durationMs: number;
  /** Where the time went (ms): lake reads and mapping (push), staging inserts, the swap phase. */
  timings: Record<string, number>;
}

export interface BackfillResult {
  dryRun: boolean;
  days: DayResult[];
}

/** Pull works where ClickHouse has the lake table functions (not 18.16) and can reach the lake. */
export async function chooseMode(
  opts: Pick<BackfillOptions, 'wh' | 'io' | 'mode' | 's3' | 'cwd'>,
): Promise<'push' | 'pull'> {
  const v = await opts.wh.version();
  const modern = v.major > 23 || (v.major === 23 && v.minor >= 3);
  // Over S3 the engine signs with credentials it holds: chDB those of this process, a server a
  // named collection (auto mode) or, with --mode pull, whatever it is configured with.
  const reachable =
    opts.io.kind === 's3'
      ? Boolean(opts.s3) &&
        (opts.wh.engine === 'chdb' || Boolean(opts.s3?.namedCollection) || opts.mode === 'pull')
      : opts.wh.engine === 'chdb' && !relativeEscapes(opts.io.root, opts.cwd);
  if (opts.mode === 'push') return 'push';
  if (opts.mode === 'pull') {
    if (!modern) {
      throw new UsageError(
        `Pull mode needs ClickHouse ≥ 23.3 with the s3/iceberg table functions; ${opts.wh.displayUrl} runs ${v.raw}.`,
        { hint: 'Use --mode push (or auto).' },
      );
    }
    if (!reachable) {
      throw new UsageError(
        `ClickHouse at ${opts.wh.displayUrl} cannot read the lake ${opts.io.root} itself.`,
        {
          hint: 'Pull needs an S3 lake with SHOPDATA_S3_ENDPOINT (and --s3-collection for a server), or embedded ClickHouse with a lake below the working directory; otherwise use --mode push.',
        },
      );
    }
    return 'pull';
  }
  return modern && reachable ? 'pull' : 'push';
}

function relativeEscapes(path: string, cwd = process.cwd()): boolean {
  return !path.startsWith(cwd.endsWith('/') ? cwd : cwd + '/') && path !== cwd;
}

/** Plans every lake table for a day: what would be read. Throws for missing tables or a missing day. */
export async function planDay(opts: BackfillOptions, day: string): Promise<Map<SourceTable, LakeScanPlan>> {
  const plans = new Map<SourceTable, LakeScanPlan>();
  const missing: SourceTable[] = [];
  for (const table of SOURCE_TABLES) {
    const plan = await planTableDays(opts.io, table, {
      format: opts.format,
      from: day,
      to: day,
      snapshotId: opts.snapshotIds?.[table],
      asOfMs: opts.asOfMs,
    });
    if (!plan) missing.push(table);
    else plans.set(table, plan);
  }
  if (missing.length > 0) {
    throw new DataProblemError(
      `The lake ${opts.io.root} has no ${opts.format === 'auto' ? '' : opts.format + ' '}changelog table for ${missing.join(', ')}; nothing was changed.`,
      {
        hint: 'Check SHOPDATA_LAKE and --format; every source table needs <lake>/iceberg/<table> or <lake>/parquet/<table> (CONTRACT.md §5).',
        details: { missing },
      },
    );
  }
  const d = epochDayOfDate(day);
  const hasDay = [...plans.values()].some((p) =>
    p.format === 'iceberg' ? p.dataFiles.length > 0 : p.files.length > 0,
  );
  if (!hasDay) {
    const last = Math.max(...[...plans.values()].map((p) => p.lastDay ?? -Infinity));
    throw new DataProblemError(`The lake has no data for ${day} in any table; nothing was changed.`, {
      hint: Number.isFinite(last)
        ? `The latest day in the lake is ${dateOfEpochDay(last)}${last < d ? ' (the export may not have run yet)' : ''}.`
        : 'The lake tables are empty.',
      details: { day },
    });
  }
  return plans;
}

function tablePlanOf(table: SourceTable, p: LakeScanPlan): TablePlan {
  if (p.format === 'iceberg') {
    return {
      table,
      format: 'iceberg',
      snapshotId: p.snapshotId ?? null,
      files: p.dataFiles.map((f) => ({ uri: f.uri, bytes: f.size })),
      deleteFiles: p.deleteFiles.length,
      bytes: p.bytes,
    };
  }
  return {
    table,
    format: 'parquet',
    snapshotId: null,
    files: p.files.map((f) => ({ uri: f.uri, bytes: f.size })),
    deleteFiles: 0,
    bytes: p.bytes,
  };
}

/** Runs (or with dryRun, plans) the backfill of each day in order. */
export async function runBackfill(opts: BackfillOptions): Promise<BackfillResult> {
  const mode = await chooseMode(opts);
  const result: BackfillResult = { dryRun: Boolean(opts.dryRun), days: [] };
  for (const day of opts.days) {
    opts.signal?.throwIfAborted();
    result.days.push(await backfillDay(opts, day, mode));
  }
  return result;
}

async function backfillDay(opts: BackfillOptions, day: string, mode: 'push' | 'pull'): Promise<DayResult> {
  const started = Date.now();
  const { wh, dbs } = opts;
  const log = opts.logger;
  const progress = (step: ProgressEvent['step'], message: string) => {
    opts.onProgress?.({ day, step, message });
    log?.info({ day, step }, message);
  };
  const partition = partitionId(day);
  const runId = `${day}-${randomUUID().slice(0, 8)}`;
  progress('plan', `planning ${day} (${mode})`);
  let plans = await planDay(opts, day);
  let tables = [...plans].map(([t, p]) => tablePlanOf(t, p));
  const partitions = SATELLITES.map((t) => `${dbs.vault}.${t.name}:${partition}`);
  const result: DayResult = {
    day,
    runId,
    status: 'planned',
    mode,
    tables,
    partitions,
    vault: {},
    corrections: {},
    verified: false,
    durationMs: 0,
    timings: {},
  };
  if (opts.dryRun) {
    result.durationMs = Date.now() - started;
    return result;
  }

  await assertVaultReady(wh, dbs);
  await ensureLedger(wh, dbs.ops);
  progress('lock', `waiting for the lease of ${day}`);
  let waited = false;
  const lease = await acquireLease(wh, dbs.ops, day, runId, {
    ttlMs: opts.leaseTtlMs,
    waitMs: opts.lockWaitMs,
    signal: opts.signal,
    onWait: (holder, ms) => {
      waited = true;
      log?.info(
        { day, holder },
        `day ${day} is locked by ${holder}; waiting (lease expires in ${Math.ceil(ms / 1000)} s)`,
      );
    },
  });
  if (waited) {
    // The lake may have moved on while another run held the day: plan again (pins newer snapshots).
    try {
      plans = await planDay(opts, day);
    } catch (err) {
      await lease.release().catch(() => undefined);
      throw err;
    }
    tables = [...plans].map(([t, p]) => tablePlanOf(t, p));
    result.tables = tables;
  }
  const ledger: LedgerRecord = {
    day,
    run_id: runId,
    status: 'running',
    mode,
    format: [...new Set(tables.map((t) => t.format))].join(','),
    started_at: Math.floor(started / 1000),
    finished_at: 0,
    snapshots: Object.fromEntries(tables.map((t) => [t.table, t.snapshotId])),
    files: tables.flatMap((t) => t.files.map((f) => f.uri)),
    lake_rows: 0,
    lake_bytes: tables.reduce((s, t) => s + t.bytes, 0),
    vault_rows: {},
    checksums: {},
    corrections: {},
    error: '',
  };
  const staged: string[] = [];
  try {
    await writeLedger(wh, dbs.ops, ledger);
    // 1. Staging tables with the vault's structure (what REPLACE PARTITION needs).
    for (const t of VAULT_TABLES) {
      for (const sql of createStagingSql(dbs, t, partition)) await wh.exec(sql);
      staged.push(stagingName(dbs, t, partition));
    }
    // 2. Lake rows → staging, counting what the satellites must receive.
    progress('stage', `reading the lake into staging (${mode})`);
    const loadSec = Math.floor((await readWarehouseClock(wh)).now().getTime() / 1000);
    const expected = new Map<string, number>();
    const hwm = new Map<SourceTable, number>();
    const endOfDay = dayStartUs(day) + 86_400_000_000 - 1;
    const stageStart = Date.now();
    if (mode === 'push') {
      await stagePush(opts, plans, partition, loadSec, expected, hwm, tables, result.timings);
    } else {
      try {
        await stagePull(opts, plans, day, partition, loadSec, expected, hwm, tables, staged);
      } catch (err) {
        throw redactError(err, pullSecrets(opts.piiSalt));
      }
    }
    for (const [table, plan] of plans) {
      // A lake that already holds later days covers this one completely.
      if (plan.lastDay !== undefined && plan.lastDay > epochDayOfDate(day)) hwm.set(table, endOfDay);
      const tp = tables.find((t) => t.table === table)!;
      tp.highWaterMarkUs = hwm.get(table) ?? 0;
    }
    result.timings.stageMs = Date.now() - stageStart;
    ledger.lake_rows = tables.reduce((s, t) => s + (t.rows ?? 0), 0);
    opts.signal?.throwIfAborted();

    // 3. Verify: every satellite received exactly the rows the lake changes call for.
    progress('verify', 'verifying staging row counts');
    for (const t of SATELLITES) {
      const [row] = await wh.query<{ n: string }>(
        `SELECT count() AS n FROM ${stagingName(dbs, t, partition)}`,
      );
      const got = Number(row?.n ?? 0);
      const want = expected.get(t.name) ?? 0;
      if (got !== want) {
        throw new DataProblemError(
          `Staging for ${t.name} on ${day} holds ${got} rows, the lake changes call for ${want}; nothing was replaced.`,
          {
            hint: 'Re-run the backfill; if it persists, check the lake files of that day.',
          },
        );
      }
    }

    // 4. Hub and link keys the vault lacks (parents before satellites, as the stream writes them).
    progress('swap', 'adding missing hub and link keys');
    const swapStart = Date.now();
    for (const t of KEYED) {
      for (const sql of newKeysSql(dbs, t, partition)) await wh.exec(sql);
      staged.push(newKeysName(dbs, t, partition));
      const [c] = await wh.query<{ n: string }>(`SELECT count() AS n FROM ${newKeysName(dbs, t, partition)}`);
      const added = Number(c?.n ?? 0);
      if (added > 0) await wh.exec(insertNewKeysSql(dbs, t, partition));
      result.corrections[t.name] = { before: 0, after: 0, added, changed: 0, removed: 0, duplicates: 0 };
    }

    // 5. Satellites: keep streamed rows the snapshot does not cover, report, swap atomically per table.
    opts.signal?.throwIfAborted();
    for (const t of SATELLITES) {
      const stg = stagingName(dbs, t, partition);
      const carryFrom = Math.floor(Date.now() / 1000);
      const carry = carryOverSql(dbs, t, partition, hwm);
      if (carry) await wh.exec(carry);
      // A day the vault does not have yet (first load): everything is added, no need to compare.
      const [old] = await wh.query<{ n: string }>(
        `SELECT count() AS n FROM ${dbs.vault}.${t.name} WHERE ${partitionPredicate(partition)}`,
      );
      const firstLoad = Number(old?.n ?? 0) === 0;
      const [sum] = await wh.query<{ rows: string; checksum: string }>(checksumSql(stg, t));
      result.vault[t.name] = { rows: Number(sum?.rows ?? 0), checksum: sum?.checksum ?? '0' };
      const stagedRows = String(result.vault[t.name]!.rows);
      // On a first load every staged row is added: the checksum's row count says how many.
      const [rep] = firstLoad
        ? [{ removed: '0', added: stagedRows, changed: '0', before: '0', after: stagedRows }]
        : await wh.query<Record<string, string>>(satelliteReportSql(dbs, t, partition));
      const [dup] = firstLoad
        ? [{ duplicates: '0' }]
        : await wh.query<{ duplicates: string }>(duplicatesSql(dbs, t, partition));
      result.corrections[t.name] = {
        before: Number(rep?.before ?? 0),
        after: Number(rep?.after ?? 0),
        added: Number(rep?.added ?? 0),
        changed: Number(rep?.changed ?? 0),
        removed: Number(rep?.removed ?? 0),
        duplicates: Number(dup?.duplicates ?? 0),
      };
      // Rows the stream wrote since the carry-over began: copy them too, right before the swap.
      const delta = carryOverSql(dbs, t, partition, hwm, carryFrom);
      if (delta) await wh.exec(delta);
      // ClickHouse ≥ 25 refuses REPLACE PARTITION from an empty source; an empty result for the day is a DROP.
      const [staged] = await wh.query<{ n: string }>(
        `SELECT count() AS n FROM ${stg} WHERE ${partitionPredicate(partition)}`,
      );
      if (Number(staged?.n ?? 0) === 0)
        await wh.exec(`ALTER TABLE ${dbs.vault}.${t.name} DROP PARTITION ${partition}`);
      else await wh.exec(`ALTER TABLE ${dbs.vault}.${t.name} REPLACE PARTITION ${partition} FROM ${stg}`);
    }
    result.timings.swapMs = Date.now() - swapStart;
    progress('verify', 'verifying the replaced partitions');
    let verified = true;
    for (const t of SATELLITES) {
      const [sum] = await wh.query<{ rows: string; checksum: string }>(
        checksumSql(`${dbs.vault}.${t.name}`, t, partitionPredicate(partition)),
      );
      if (sum?.checksum !== result.vault[t.name]?.checksum) {
        verified = false;
        log?.warn(
          { day, table: t.name },
          `${t.name} ${day} changed after the swap (streaming writes?); the ledger keeps the staged checksum`,
        );
      }
    }
    result.verified = verified;
    result.status = 'done';
    result.durationMs = Date.now() - started;
    ledger.status = 'done';
    ledger.finished_at = Math.floor(Date.now() / 1000);
    ledger.vault_rows = Object.fromEntries(Object.entries(result.vault).map(([k, v]) => [k, v.rows]));
    ledger.checksums = Object.fromEntries(Object.entries(result.vault).map(([k, v]) => [k, v.checksum]));
    ledger.corrections = result.corrections;
    await writeLedger(wh, dbs.ops, ledger);
    progress('done', `${day} done in ${(result.durationMs / 1000).toFixed(1)} s`);
    return result;
  } catch (err) {
    ledger.status = 'failed';
    ledger.finished_at = Math.floor(Date.now() / 1000);
    ledger.error = (err as Error).message ?? String(err);
    await writeLedger(wh, dbs.ops, ledger).catch(() => undefined);
    if (opts.signal?.aborted)
      throw new InterruptedError(
        `Backfill of ${day} interrupted; satellites already swapped keep the new data, the others keep the old. Re-run to finish.`,
        { cause: err },
      );
    throw err;
  } finally {
    for (const name of staged) await wh.exec(`DROP TABLE IF EXISTS ${name}`).catch(() => undefined);
    await lease.release().catch(() => undefined);
  }
}

/** The vault tables must exist (and have their partition key) before anything is staged. */
async function assertVaultReady(wh: Warehouse, dbs: VaultDatabases): Promise<void> {
  const rows = await wh.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE database = ${sqlString(dbs.vault)}`,
  );
  const have = new Set(rows.map((r) => r.name));
  const missing = VAULT_TABLES.filter((t) => !have.has(t.name)).map((t) => t.name);
  if (missing.length > 0) {
    throw new UsageError(
      `The warehouse ${wh.displayUrl} lacks vault tables ${missing.join(', ')}; nothing was changed.`,
      {
        hint: 'Run `shopdata warehouse migrate` first.',
        details: { missing },
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Push: rows pass through Node, mapped by the one TypeScript mapping

async function stagePush(
  opts: BackfillOptions,
  plans: Map<SourceTable, LakeScanPlan>,
  partition: number,
  loadSec: number,
  expected: Map<string, number>,
  hwm: Map<SourceTable, number>,
  tables: TablePlan[],
  timings: Record<string, number>,
): Promise<void> {
  const { wh, dbs } = opts;
  const chunk = opts.batchRows ?? 50_000;
  let readMs = 0;
  let mapMs = 0;
  let insertMs = 0;
  const byName = new Map(VAULT_TABLES.map((t) => [t.name, t] as [string, VaultTable]));
  // One insert in flight while the next file is read and mapped: Node and ClickHouse overlap.
  let inFlight: Promise<void> = Promise.resolve();
  const insertAll = async (rowSet: ReturnType<typeof mapChanges>): Promise<void> => {
    const t1 = Date.now();
    for (const t of VAULT_TABLES) {
      const list = rowSet.get(t.name);
      if (!list || list.length === 0) continue;
      for (let i = 0; i < list.length; i += chunk)
        await wh.insert(stagingName(dbs, t, partition), list.slice(i, i + chunk));
    }
    insertMs += Date.now() - t1;
  };
  for (const [table, plan] of plans) {
    let rows = 0;
    let t0 = Date.now();
    for await (const batch of readPlanChanges(opts.io, table, plan)) {
      readMs += Date.now() - t0;
      opts.signal?.throwIfAborted();
      rows += batch.changes.length;
      for (const c of batch.changes) if (c.commitTsUs > (hwm.get(table) ?? 0)) hwm.set(table, c.commitTsUs);
      const t1 = Date.now();
      const rowSet = mapChanges(batch.changes, { piiSalt: opts.piiSalt, loadTs: new Date(loadSec * 1000) });
      mapMs += Date.now() - t1;
      for (const [name, list] of rowSet) {
        if (byName.get(name)?.kind === 'satellite')
          expected.set(name, (expected.get(name) ?? 0) + list.length);
      }
      await inFlight;
      inFlight = insertAll(rowSet);
      // Surface a failed insert at the next await, never as an unhandled rejection.
      inFlight.catch(() => undefined);
      t0 = Date.now();
    }
    tables.find((t) => t.table === table)!.rows = rows;
  }
  await inFlight;
  Object.assign(timings, { readMs, mapMs, insertMs });
}

// ---------------------------------------------------------------------------------------------
// Pull: ClickHouse reads the lake and computes the rows with SQL generated from the model

async function stagePull(
  opts: BackfillOptions,
  plans: Map<SourceTable, LakeScanPlan>,
  day: string,
  partition: number,
  loadSec: number,
  expected: Map<string, number>,
  hwm: Map<SourceTable, number>,
  tables: TablePlan[],
  created: string[],
): Promise<void> {
  const { wh, dbs } = opts;
  // The salt travels as insert data (never logged), not as SQL text (see pull.ts).
  const key = saltKeyTable(dbs, partition);
  for (const sql of key.ddl) await wh.exec(sql);
  created.push(key.name);
  await wh.insert(key.name, [{ salt: opts.piiSalt }]);
  const ctx: PullContext = {
    dbs,
    dialect: dialectFor(await wh.version()),
    saltSql: key.sql,
    loadSec,
    cluster: opts.cluster,
    s3: opts.s3,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  };
  const next = new Date(dayStartUs(day) / 1000 + 86_400_000).toISOString().slice(0, 10);
  for (const [table, plan] of plans) {
    opts.signal?.throwIfAborted();
    const empty = plan.format === 'iceberg' ? plan.dataFiles.length === 0 : plan.files.length === 0;
    const src = srcTableSql(
      table,
      partition,
      day,
      next,
      empty ? { from: 'null', settings: {} } : lakeSource(opts.io, plan, ctx),
      ctx,
    );
    for (const sql of src.ddl) await wh.exec(sql);
    created.push(srcTableName(dbs, table, partition));
    if (!empty) await wh.exec(src.insert, src.settings);
    const [stats] = await wh.query<{ n: string; max_ts: string | null }>(
      `SELECT count() AS n, toString(max(ts_us_)) AS max_ts FROM ${srcTableName(dbs, table, partition)}`,
    );
    const n = Number(stats?.n ?? 0);
    tables.find((t) => t.table === table)!.rows = n;
    if (n > 0) hwm.set(table, Number(stats!.max_ts));
    for (const e of expectedSatRowsSql(table, partition, dbs)) {
      const [r] = await wh.query<{ n: string }>(e.sql);
      expected.set(e.satTable, (expected.get(e.satTable) ?? 0) + Number(r?.n ?? 0));
    }
    for (const sql of targetInserts(table, partition, ctx)) await wh.exec(sql);
  }
}

/**
 * The secrets a pull error must never show, whatever the engine echoed: the salt and the AWS
 * credentials of this process (chDB signs with them), in every form (see Masker).
 */
function pullSecrets(piiSalt: string): Masker {
  const env = process.env;
  // The key id names the key rather than unlocking it: masked where it stands as a value.
  return new Masker([piiSalt, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN]).add(env.AWS_ACCESS_KEY_ID, {
    weak: true,
  });
}
