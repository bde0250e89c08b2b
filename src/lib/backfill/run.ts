import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Warehouse } from '../warehouse/types.js';
import { dialectFor } from '../warehouse/dialect.js';
import { sqlString } from '../warehouse/quote.js';
import { Masker, redactError } from '../connect/mask.js';
import { DataProblemError, InterruptedError, UsageError } from '../errors/index.js';
import { redactInsertError } from '../stream/dlq.js';
import { META, VAULT_TABLES, type VaultDatabases, type VaultTable } from '../vault/tables.js';
import { SOURCE_TABLES, type SourceTable } from '../vault/types.js';
import { planTableDays, type LakeFormat, type LakeScanPlan } from '../lake/index.js';
import type { LakeIO } from '../lake/io.js';
import { US_PER_DAY, dateOfEpochDay, epochDayOfDate } from '../values/index.js';
import { ATTRS, SPANS, withSpan } from '../observability/tracing.js';
import { acquireLease, ensureLedger, writeLedger, type Lease, type LedgerRecord } from './ledger.js';
import { openClusterBackfill, type ClusterBackfill } from '../warehouse/cluster-backfill.js';
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
import { stagePush as pushToStaging } from './push.js';

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
  /** Set by runBackfill when the vault is on a cluster: staging on one server, swaps per shard. */
  onCluster?: ClusterBackfill;
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
  /** Skip days the lake has no data for instead of refusing the whole run. */
  continueOnMissing?: boolean;
  /** Push mode: worker threads that read and map lake files (default one per core, at most 4; 0 = none). */
  workers?: number;
}

export interface ProgressEvent {
  day: string;
  step: 'plan' | 'lease' | 'stage' | 'verify' | 'swap' | 'ledger' | 'done';
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
  status: 'done' | 'planned' | 'skipped';
  /** Why a day was skipped (--continue-on-missing). */
  skipped?: string;
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
  /**
   * Lake rows not loaded because a value breaks the rules of src/lib/values (the same rows the
   * stream dead-letters): how many, per reason, and the first few with their origin.
   */
  rejected: RejectReport;
}

/** Rejected lake rows: reasons name the field and the problem, never the value. */
export interface RejectReport {
  count: number;
  reasons: Record<string, number>;
  samples: { origin: string; reason: string }[];
}

const REJECT_SAMPLES = 20;

function addReject(r: RejectReport, origin: string, reason: string, n = 1): void {
  r.count += n;
  r.reasons[reason] = (r.reasons[reason] ?? 0) + n;
  if (r.samples.length < REJECT_SAMPLES) r.samples.push({ origin, reason });
}

export interface BackfillResult {
  dryRun: boolean;
  days: DayResult[];
}

/** Pull works where ClickHouse has the lake table functions (not 18.16) and can reach the lake. */
export async function chooseMode(
  opts: Pick<BackfillOptions, 'wh' | 'io' | 'mode' | 's3' | 'cwd' | 'cluster'>,
): Promise<'push' | 'pull'> {
  const v = await opts.wh.version();
  const modern = dialectFor(v).lakeTableFunctions;
  if (opts.cluster !== undefined && !modern) {
    throw new UsageError(
      `--cluster runs the lake reads on the cluster with the …Cluster table functions (s3Cluster, icebergS3Cluster), which ClickHouse ${v.raw} at ${opts.wh.displayUrl} does not have (they need ≥ 23.3); nothing was changed.`,
      {
        hint: 'Drop --cluster: on a cluster migrated with `warehouse migrate --cluster` the backfill reads the lake itself (push) and swaps the partitions shard by shard.',
      },
    );
  }
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

// ---------------------------------------------------------------------------------------------
// Plan: every day of the range, before anything changes

interface LakeDay {
  plans: Map<SourceTable, LakeScanPlan>;
  /** Some table has data files for the day. */
  hasData: boolean;
  /** The latest day any table holds (epoch day), for the hint when the day is missing. */
  lastDay: number;
}

/** Plans every lake table for a day: what would be read. Throws when a lake table is missing. */
async function planLakeDay(opts: BackfillOptions, day: string): Promise<LakeDay> {
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
        hint: 'Check SHOPDATA_LAKE and --format; every source table needs <lake>/iceberg/<table> or <lake>/parquet/<table> (docs/CONTRACT.md §5).',
        details: { missing },
      },
    );
  }
  const hasData = [...plans.values()].some((p) =>
    p.format === 'iceberg' ? p.dataFiles.length > 0 : p.files.length > 0,
  );
  const lastDay = Math.max(...[...plans.values()].map((p) => p.lastDay ?? -Infinity));
  return { plans, hasData, lastDay };
}

/** One day of a plan: what it reads, or why it is skipped. */
export interface PlannedDay {
  day: string;
  /** Undefined for a day the lake has no data for (skipped with --continue-on-missing). */
  plans: Map<SourceTable, LakeScanPlan> | undefined;
  /** The day's result so far: status `planned`, or `skipped` with the reason. */
  result: DayResult;
}

export interface BackfillPlan {
  mode: 'push' | 'pull';
  days: PlannedDay[];
}

/**
 * Plans every day of the run before anything is changed (one `plan` step span per day). A day the
 * lake has no data for stops the whole run here, naming every such day, unless
 * `continueOnMissing`: then those days are skipped and the others run.
 */
export async function planBackfill(opts: BackfillOptions): Promise<BackfillPlan> {
  const mode = await chooseMode(opts);
  const days: PlannedDay[] = [];
  let lastDay = -Infinity;
  for (const day of opts.days) {
    opts.signal?.throwIfAborted();
    const lake = await withSpan(
      SPANS.backfillStep,
      { attributes: { [ATTRS.step]: 'plan', [ATTRS.day]: day, [ATTRS.mode]: mode } },
      () => planLakeDay(opts, day),
    );
    lastDay = Math.max(lastDay, lake.lastDay);
    const result = newDayResult(opts.dbs, day, mode, lake.plans);
    if (!lake.hasData) {
      result.status = 'skipped';
      result.skipped = `the lake has no data for ${day}`;
    }
    days.push({ day, plans: lake.hasData ? lake.plans : undefined, result });
  }
  const missing = days.filter((d) => !d.plans).map((d) => d.day);
  if (missing.length > 0 && !opts.continueOnMissing) throw missingDays(missing, opts.days, lastDay);
  for (const day of missing)
    opts.logger?.warn({ day }, `the lake has no data for ${day}; skipping it (--continue-on-missing)`);
  return { mode, days };
}

function missingDays(missing: string[], requested: string[], lastDay: number): DataProblemError {
  const range = requested.length > 1 ? ` (of ${requested[0]} … ${requested.at(-1)})` : '';
  const latest = Number.isFinite(lastDay)
    ? `The latest day in the lake is ${dateOfEpochDay(lastDay)}${lastDay < epochDayOfDate(missing[0]!) ? ' (the export may not have run yet)' : ''}.`
    : 'The lake tables are empty.';
  return new DataProblemError(
    `The lake has no data for ${missing.join(', ')}${range} in any table; nothing was changed.`,
    {
      hint:
        requested.length > 1
          ? `${latest} Narrow --date/--to, or pass --continue-on-missing to rebuild the other days.`
          : latest,
      details: { missing },
    },
  );
}

function newDayResult(
  dbs: VaultDatabases,
  day: string,
  mode: 'push' | 'pull',
  plans: Map<SourceTable, LakeScanPlan>,
): DayResult {
  const partition = partitionId(day);
  return {
    day,
    runId: `${day}-${randomUUID().slice(0, 8)}`,
    status: 'planned',
    mode,
    tables: [...plans].map(([t, p]) => tablePlanOf(t, p)),
    partitions: SATELLITES.map((t) => `${dbs.vault}.${t.name}:${partition}`),
    vault: {},
    corrections: {},
    verified: false,
    durationMs: 0,
    timings: {},
    rejected: { count: 0, reasons: {}, samples: [] },
  };
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

/** Plans every day, then runs (or with dryRun, only plans) each day in order. */
export async function runBackfill(options: BackfillOptions): Promise<BackfillResult> {
  const { opts, close } = await backfillTarget(options);
  try {
    const plan = await planBackfill(opts);
    const result: BackfillResult = { dryRun: Boolean(opts.dryRun), days: [] };
    for (const planned of plan.days) {
      opts.signal?.throwIfAborted();
      result.days.push(await runPlannedDay(opts, plan, planned));
    }
    return result;
  } finally {
    await close();
  }
}

/**
 * The options a backfill runs with. On a cluster (warehouse/cluster-backfill.ts) everything but
 * the per-shard partition swaps goes to one server of it; close() releases its connections.
 */
export async function backfillTarget(
  options: BackfillOptions,
): Promise<{ opts: BackfillOptions; close: () => Promise<void> }> {
  await chooseMode(options); // refuses bad flags (exit 2) before looking at the cluster
  if (options.onCluster) return { opts: options, close: async () => undefined };
  const onCluster = await openClusterBackfill(options.wh, options.dbs);
  if (!onCluster) return { opts: options, close: async () => undefined };
  return { opts: { ...options, wh: onCluster.stage, onCluster }, close: () => onCluster.close() };
}

/** One planned day: in a dry run or for a skipped day its plan, otherwise the rebuilt day. */
export async function runPlannedDay(
  opts: BackfillOptions,
  plan: BackfillPlan,
  planned: PlannedDay,
): Promise<DayResult> {
  const { day, plans, result } = planned;
  if (!plans || opts.dryRun) return result;
  return withSpan(
    SPANS.backfillDay,
    { attributes: { [ATTRS.day]: day, [ATTRS.mode]: plan.mode } },
    async (span) => {
      const d = await backfillDay(newDayRun(opts, plans, result));
      span.setAttributes({
        'shopdata.status': d.status,
        'shopdata.verified': d.verified,
        [ATTRS.tables]: Object.keys(d.vault),
        [ATTRS.rows]: Object.values(d.vault).reduce((s, v) => s + v.rows, 0),
        'shopdata.rows_corrected': Object.values(d.corrections).reduce(
          (s, c) => s + c.added + c.changed + c.removed,
          0,
        ),
      });
      return d;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// One day: lease → stage → verify → swap → ledger, over one DayRun

/** Everything the steps of one day share. */
interface DayRun {
  readonly opts: BackfillOptions;
  readonly day: string;
  readonly partition: number;
  readonly started: number;
  plans: Map<SourceTable, LakeScanPlan>;
  readonly result: DayResult;
  readonly ledger: LedgerRecord;
  lease: Lease | undefined;
  /** Staging and helper tables to drop at the end. */
  readonly staged: string[];
  /** Satellite rows the lake changes call for, per vault table. */
  readonly expected: Map<string, number>;
  /** Per source table, the newest commit time (µs) the lake covers. */
  readonly hwm: Map<SourceTable, number>;
  /** load_ts of the rows this run writes (epoch s). */
  loadSec: number;
  /** What this run loaded, per vault table and record source: `<ops>.loads` rows. */
  loads: Record<string, unknown>[];
  progress(step: ProgressEvent['step'], message: string): void;
}

function newDayRun(opts: BackfillOptions, plans: Map<SourceTable, LakeScanPlan>, result: DayResult): DayRun {
  const { day } = result;
  const started = Date.now();
  return {
    opts,
    day,
    partition: partitionId(day),
    started,
    plans,
    result,
    ledger: ledgerRecord(result, started),
    lease: undefined,
    staged: [],
    expected: new Map(),
    hwm: new Map(),
    loadSec: 0,
    loads: [],
    progress: (step, message) => {
      opts.onProgress?.({ day, step, message });
      opts.logger?.info({ day, step }, message);
    },
  };
}

function ledgerRecord(result: DayResult, started: number): LedgerRecord {
  const { tables } = result;
  return {
    day: result.day,
    run_id: result.runId,
    status: 'running',
    mode: result.mode,
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
}

/** Runs one named step of the day inside its `backfill.step` span. */
function step(run: DayRun, name: ProgressEvent['step'], fn: (run: DayRun) => Promise<void>): Promise<void> {
  return withSpan(SPANS.backfillStep, { attributes: { [ATTRS.step]: name, [ATTRS.day]: run.day } }, () =>
    fn(run),
  );
}

async function backfillDay(run: DayRun): Promise<DayResult> {
  try {
    await step(run, 'lease', leaseStep);
    await step(run, 'stage', stageStep);
    await step(run, 'verify', verifyStep);
    await step(run, 'swap', swapStep);
    await step(run, 'ledger', ledgerStep);
    run.progress('done', `${run.day} done in ${(run.result.durationMs / 1000).toFixed(1)} s`);
    return run.result;
  } catch (err) {
    const { wh, dbs } = run.opts;
    // A run that never held the day (locked by another) leaves no ledger row.
    if (run.lease) {
      run.ledger.status = 'failed';
      run.ledger.finished_at = Math.floor(Date.now() / 1000);
      // ClickHouse parse errors quote row data: the ledger keeps the error without it
      run.ledger.error = redactInsertError((err as Error).message ?? String(err));
      await writeLedger(wh, dbs.ops, run.ledger).catch(() => undefined);
    }
    if (run.opts.signal?.aborted)
      throw new InterruptedError(
        `Backfill of ${run.day} interrupted; satellites already swapped keep the new data, the others keep the old. Re-run to finish.`,
        { cause: err },
      );
    throw err;
  } finally {
    for (const name of run.staged)
      await run.opts.wh.exec(`DROP TABLE IF EXISTS ${name}`).catch(() => undefined);
    await run.lease?.release().catch(() => undefined);
  }
}

/** The day's lease (two backfills of one day never overlap), and a fresh plan if we had to wait. */
async function leaseStep(run: DayRun): Promise<void> {
  const { opts, day, result } = run;
  const { wh, dbs } = opts;
  await assertVaultReady(wh, dbs);
  await ensureLedger(wh, dbs.ops);
  run.progress('lease', `waiting for the lease of ${day}`);
  let waited = false;
  run.lease = await acquireLease(wh, dbs.ops, day, result.runId, {
    ...(opts.onCluster ? { consistency: opts.onCluster.lease } : {}),
    ttlMs: opts.leaseTtlMs,
    waitMs: opts.lockWaitMs,
    signal: opts.signal,
    onWait: (holder, ms) => {
      waited = true;
      opts.logger?.info(
        { day, holder },
        `day ${day} is locked by ${holder}; waiting (lease expires in ${Math.ceil(ms / 1000)} s)`,
      );
    },
  });
  if (waited) {
    // The lake may have moved on while another run held the day: plan again (pins newer snapshots).
    const lake = await planLakeDay(opts, day);
    run.plans = lake.plans;
    result.tables = [...lake.plans].map(([t, p]) => tablePlanOf(t, p));
    Object.assign(run.ledger, ledgerRecord(result, run.started));
  }
  await writeLedger(wh, dbs.ops, run.ledger);
}

/** Staging tables with the vault's structure (what REPLACE PARTITION needs), filled from the lake. */
async function stageStep(run: DayRun): Promise<void> {
  const { opts, day, partition, result } = run;
  for (const t of VAULT_TABLES) {
    for (const sql of createStagingSql(opts.dbs, t, partition)) await opts.wh.exec(sql);
    run.staged.push(stagingName(opts.dbs, t, partition));
  }
  run.progress('stage', `reading the lake into staging (${result.mode})`);
  run.loadSec = Math.floor((await readWarehouseClock(opts.wh)).now().getTime() / 1000);
  const stageStart = Date.now();
  if (result.mode === 'push') {
    await stagePush(run);
  } else {
    try {
      await stagePull(run);
    } catch (err) {
      throw redactError(err, pullSecrets(opts.piiSalt));
    }
  }
  const endOfDay = dayStartUs(day) + US_PER_DAY - 1;
  for (const [table, plan] of run.plans) {
    // A lake that already holds later days covers this one completely.
    if (plan.lastDay !== undefined && plan.lastDay > epochDayOfDate(day)) run.hwm.set(table, endOfDay);
    result.tables.find((t) => t.table === table)!.highWaterMarkUs = run.hwm.get(table) ?? 0;
  }
  result.timings.stageMs = Date.now() - stageStart;
  if (result.rejected.count > 0)
    opts.logger?.warn(
      { day, rejected: result.rejected.count, reasons: result.rejected.reasons },
      `${result.rejected.count} lake row(s) of ${day} were not loaded: their values break the value rules`,
    );
  run.ledger.lake_rows = result.tables.reduce((s, t) => s + (t.rows ?? 0), 0);
  opts.signal?.throwIfAborted();
}

/** Every satellite received exactly the rows the lake changes call for; what was loaded, for `<ops>.loads`. */
async function verifyStep(run: DayRun): Promise<void> {
  const { opts, day, partition } = run;
  const { wh, dbs } = opts;
  run.progress('verify', 'verifying staging row counts');
  for (const t of SATELLITES) {
    const [row] = await wh.query<{ n: string }>(`SELECT count() AS n FROM ${stagingName(dbs, t, partition)}`);
    const got = Number(row?.n ?? 0);
    const want = run.expected.get(t.name) ?? 0;
    if (got !== want) {
      throw new DataProblemError(
        `Staging for ${t.name} on ${day} holds ${got} rows, the lake changes call for ${want}; nothing was replaced.`,
        { hint: 'Re-run the backfill; if it persists, check the lake files of that day.' },
      );
    }
  }
  run.loads = await stagedLoads(run);
}

/** Hub and link keys the vault lacks, then each satellite's day partition replaced atomically. */
async function swapStep(run: DayRun): Promise<void> {
  const { opts, partition, result } = run;
  const { wh, dbs } = opts;
  run.progress('swap', 'adding missing hub and link keys');
  const swapStart = Date.now();
  // Parents before satellites, as the stream writes them.
  for (const t of KEYED) {
    for (const sql of newKeysSql(dbs, t, partition)) await wh.exec(sql);
    run.staged.push(newKeysName(dbs, t, partition));
    const [c] = await wh.query<{ n: string }>(`SELECT count() AS n FROM ${newKeysName(dbs, t, partition)}`);
    const added = Number(c?.n ?? 0);
    if (added > 0) await wh.exec(insertNewKeysSql(dbs, t, partition));
    result.corrections[t.name] = { before: 0, after: 0, added, changed: 0, removed: 0, duplicates: 0 };
  }
  opts.signal?.throwIfAborted();
  for (const t of SATELLITES) await swapSatellite(run, t);
  // On a cluster the other replicas replay the swaps: verify once they have.
  await opts.onCluster?.settle();
  result.timings.swapMs = Date.now() - swapStart;
  run.progress('verify', 'verifying the replaced partitions');
  let verified = true;
  for (const t of SATELLITES) {
    const [sum] = await wh.query<{ rows: string; checksum: string }>(
      checksumSql(`${dbs.vault}.${t.name}`, t, partitionPredicate(partition)),
    );
    if (sum?.checksum !== result.vault[t.name]?.checksum) {
      verified = false;
      opts.logger?.warn(
        { day: run.day, table: t.name },
        `${t.name} ${run.day} changed after the swap (streaming writes?); the ledger keeps the staged checksum`,
      );
    }
  }
  result.verified = verified;
}

/** One satellite: keep streamed rows the snapshot does not cover, report the corrections, swap. */
async function swapSatellite(run: DayRun, t: VaultTable): Promise<void> {
  const { opts, partition, result, hwm } = run;
  const { wh, dbs } = opts;
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
  if (opts.onCluster)
    await opts.onCluster.replacePartition(t, partition, stg, (shard, rows) =>
      opts.logger?.info(
        { day: run.day, table: t.name, shard, rows },
        `replaced ${t.name} ${run.day} on shard ${shard}`,
      ),
    );
  else if (Number(staged?.n ?? 0) === 0)
    await wh.exec(`ALTER TABLE ${dbs.vault}.${t.name} DROP PARTITION ${partition}`);
  else await wh.exec(`ALTER TABLE ${dbs.vault}.${t.name} REPLACE PARTITION ${partition} FROM ${stg}`);
}

/** The ledger row of the finished day, and what it loaded in `<ops>.loads`. */
async function ledgerStep(run: DayRun): Promise<void> {
  const { opts, result, ledger } = run;
  const { wh, dbs } = opts;
  result.status = 'done';
  result.durationMs = Date.now() - run.started;
  ledger.status = 'done';
  ledger.finished_at = Math.floor(Date.now() / 1000);
  ledger.vault_rows = Object.fromEntries(Object.entries(result.vault).map(([k, v]) => [k, v.rows]));
  ledger.checksums = Object.fromEntries(Object.entries(result.vault).map(([k, v]) => [k, v.checksum]));
  ledger.corrections = result.corrections;
  await writeLedger(wh, dbs.ops, ledger);
  if (run.loads.length > 0) await wh.insert(`${dbs.ops}.loads`, run.loads);
}

/**
 * What this run staged (before streamed rows are carried over): one `<ops>.loads` row per vault
 * table and record source, like the stream's (src/lib/vault/writer.ts).
 */
async function stagedLoads(run: DayRun): Promise<Record<string, unknown>[]> {
  const { wh, dbs } = run.opts;
  const out: Record<string, unknown>[] = [];
  for (const t of VAULT_TABLES) {
    const at = t.kind === 'satellite' ? META.effectiveUs : META.firstSeenUs;
    const rows = await wh.query<{ rs: string; n: string; lo: string; hi: string }>(
      `SELECT ${META.recordSource} AS rs, toString(count()) AS n, toString(min(${at})) AS lo, toString(max(${at})) AS hi
       FROM ${stagingName(dbs, t, run.partition)} GROUP BY ${META.recordSource}`,
    );
    for (const r of rows) {
      out.push({
        loaded_at: run.loadSec,
        command: 'backfill',
        run_id: run.result.runId,
        vault_table: t.name,
        record_source: r.rs,
        rows: Number(r.n),
        min_effective_us: Number(r.lo),
        max_effective_us: Number(r.hi),
      });
    }
  }
  return out;
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

async function stagePush(run: DayRun): Promise<void> {
  const { opts, partition, loadSec, expected, hwm, result } = run;
  const r = await pushToStaging(
    {
      wh: opts.wh,
      io: opts.io,
      dbs: opts.dbs,
      partition,
      loadSec,
      piiSalt: opts.piiSalt,
      batchRows: opts.batchRows ?? 50_000,
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
    run.plans,
  );
  for (const [t, n] of r.expected) expected.set(t, n);
  for (const [t, us] of r.hwm) hwm.set(t, us);
  for (const [t, n] of r.rows) result.tables.find((x) => x.table === t)!.rows = n;
  for (const x of r.rejects) addReject(result.rejected, x.origin, x.reason);
  Object.assign(result.timings, r.timings);
}

// ---------------------------------------------------------------------------------------------
// Pull: ClickHouse reads the lake and computes the rows with SQL generated from the model

async function stagePull(run: DayRun): Promise<void> {
  const { opts, day, partition, loadSec, expected, hwm } = run;
  const { wh, dbs } = opts;
  const { tables } = run.result;
  // The salt travels as insert data (never logged), not as SQL text (see pull.ts).
  const key = saltKeyTable(dbs, partition);
  for (const sql of key.ddl) await wh.exec(sql);
  run.staged.push(key.name);
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
  const next = dateOfEpochDay(epochDayOfDate(day) + 1);
  for (const [table, plan] of run.plans) {
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
    run.staged.push(srcTableName(dbs, table, partition));
    if (!empty) await wh.exec(src.insert, src.settings);
    const [stats] = await wh.query<{ n: string; max_ts: string | null }>(
      `SELECT count() AS n, toString(max(ts_us_)) AS max_ts FROM ${srcTableName(dbs, table, partition)}`,
    );
    const n = Number(stats?.n ?? 0);
    tables.find((t) => t.table === table)!.rows = n;
    if (n > 0) hwm.set(table, Number(stats!.max_ts));
    const bad = await wh.query<{ bad_: string; n: string }>(
      `SELECT bad_, count() AS n FROM ${srcTableName(dbs, table, partition)} WHERE bad_ != '' GROUP BY bad_ ORDER BY bad_`,
    );
    for (const b of bad)
      addReject(
        run.result.rejected,
        `lake:${plan.format}/${table}/${day}`,
        b.bad_.replace(/; $/, ''),
        Number(b.n),
      );
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
