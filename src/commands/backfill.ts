import { randomBytes } from 'node:crypto';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base-command.js';
import { clickhouseFlags, dryRunFlag, lakeFlags } from '../lib/cli/flags.js';
import { requirePiiSalt } from '../lib/config/index.js';
import { InterruptedError, UsageError } from '../lib/errors/index.js';
import { openConfiguredWarehouse, type Warehouse } from '../lib/warehouse/index.js';
import { openConfiguredLake } from '../lib/lake/index.js';
import type { LakeIO } from '../lib/lake/io.js';
import { dbSuffixFlag, databasesFor } from '../lib/warehouse/migrations/flags.js';
import { isSourceTable, type SourceTable } from '../lib/vault/types.js';
import { dayRange } from '../lib/backfill/dates.js';
import { renderTable } from '../lib/table/index.js';
import { withRunReports } from '../lib/observability/run-hooks.js';
import { ATTRS, SPANS, withSpan } from '../lib/observability/tracing.js';
import {
  planBackfill,
  backfillTarget,
  runBackfill,
  runPlannedDay,
  type BackfillOptions,
  type BackfillResult,
  type DayResult,
  type ProgressEvent,
} from '../lib/backfill/run.js';

export default class Backfill extends BaseCommand<typeof Backfill> {
  static override summary =
    'Rebuild days of the vault from the lake snapshots and correct what streaming loaded.';
  static override description = `For each day: reads the changelog rows of every lake table (Iceberg snapshot or Parquet dt= folder), maps them with the same mapping as \`stream\` into staging tables, verifies row counts, adds missing hub and link keys and atomically replaces the day's satellite partitions (ALTER TABLE … REPLACE PARTITION). Streamed rows committed after the lake snapshot's high-water mark are kept. A ledger (ops.backfill_ledger) records snapshots, files, row counts and checksums; a lease (ops.backfill_leases) keeps two backfills of one day apart.

Modes: push (rows pass through this process; any ClickHouse), pull (ClickHouse reads the lake itself with s3/icebergS3/file/icebergLocal, …Cluster with --cluster), auto (pull where the server supports it).

Every day of the range is planned before anything changes: a day the lake has no data for stops the run (exit 1, nothing changed) unless --continue-on-missing, which rebuilds the other days and reports that one as skipped.

Exit codes: 0 done; 1 data problem (a lake table or a day is missing, mapping failed, the day is locked by another run); 2 bad flags (e.g. --date); 3 S3 or ClickHouse unreachable (nothing changed); 130 interrupted.`;
  static override examples = [
    '<%= config.bin %> backfill --date 2026-11-24',
    '<%= config.bin %> backfill --date 2026-11-01 --to 2026-11-07 --dry-run',
    '<%= config.bin %> backfill --date 2026-11-24 --format parquet --mode push --json',
    '<%= config.bin %> backfill --date 2026-11-24 --as-of 2026-11-25T02:00:00Z',
    '<%= config.bin %> backfill --date 2026-11-24 --snapshot-id purchases=3051729675574597004',
  ];

  static override flags = {
    ...clickhouseFlags,
    ...lakeFlags,
    ...dryRunFlag,
    ...dbSuffixFlag,
    date: Flags.string({ description: 'First UTC day to rebuild, YYYY-MM-DD.', required: true }),
    to: Flags.string({ description: 'Last UTC day to rebuild (inclusive), YYYY-MM-DD.' }),
    format: Flags.option({
      options: ['auto', 'iceberg', 'parquet'] as const,
      description: 'Lake format (auto: Iceberg where a table has metadata, else Parquet).',
      default: 'auto',
    })(),
    mode: Flags.option({
      options: ['auto', 'push', 'pull'] as const,
      description: 'Who reads the lake: this process (push) or ClickHouse (pull).',
      default: 'auto',
    })(),
    'snapshot-id': Flags.string({
      description: 'Pin an Iceberg snapshot: TABLE=ID (repeatable).',
      multiple: true,
    }),
    'as-of': Flags.string({
      description: 'Read the Iceberg snapshots that were current at this time (ISO 8601).',
    }),
    cluster: Flags.string({
      description: 'Pull mode: run the …Cluster table functions on this ClickHouse cluster.',
    }),
    'continue-on-missing': Flags.boolean({
      description:
        'Rebuild the days the lake has, skipping days it has no data for (default: refuse the whole range, changing nothing).',
      default: false,
    }),
    's3-collection': Flags.string({
      description:
        'Pull mode on a ClickHouse server: the named collection on the server that holds the S3 credentials (access_key_id, secret_access_key). No credentials are sent with the queries; embedded chDB signs with the AWS_* variables of this process.',
      env: 'SHOPDATA_S3_COLLECTION',
    }),
    'lock-wait': Flags.integer({
      description: 'Seconds to wait for another backfill of the same day.',
      default: 120,
      min: 0,
    }),
  };

  public async run(): Promise<BackfillResult> {
    const days = dayRange(this.flags.date, this.flags.to);
    const snapshotIds = parseSnapshotIds(this.flags['snapshot-id'] ?? []);
    let asOfMs: number | undefined;
    if (this.flags['as-of'] !== undefined) {
      asOfMs = Date.parse(this.flags['as-of']);
      if (Number.isNaN(asOfMs))
        throw new UsageError(`--as-of "${this.flags['as-of']}" is not a time.`, {
          hint: 'Use ISO 8601, e.g. 2026-11-25T02:00:00Z.',
        });
    }
    const config = this.settings();
    const dryRun = this.flags['dry-run'];
    // A dry run keeps no row: without a configured salt any salt of full strength will do.
    const piiSalt = dryRun && !config.pii.salt ? randomBytes(32).toString('hex') : requirePiiSalt(config);
    const signal = this.shutdownSignal();

    let io: LakeIO | undefined;
    let wh: Warehouse | undefined;
    try {
      io = openConfiguredLake(config);
      wh = await openConfiguredWarehouse(config);
      const endpoint = config.lake.s3Endpoint ?? `https://s3.${config.lake.s3Region}.amazonaws.com`;
      const collection = this.flags['s3-collection'];
      const base: BackfillOptions = {
        wh,
        io,
        dbs: databasesFor(this.flags['db-suffix']),
        days,
        format: this.flags.format,
        mode: this.flags.mode,
        dryRun,
        piiSalt,
        snapshotIds,
        ...(asOfMs !== undefined ? { asOfMs } : {}),
        ...(this.flags.cluster ? { cluster: this.flags.cluster } : {}),
        ...(io.kind === 's3'
          ? { s3: { endpoint, ...(collection ? { namedCollection: collection } : {}) } }
          : {}),
        lockWaitMs: this.flags['lock-wait'] * 1000,
        continueOnMissing: this.flags['continue-on-missing'],
        signal,
      };
      const startedAt = new Date();
      let result: BackfillResult | undefined;
      try {
        result = await withSpan(
          SPANS.backfillRun,
          { attributes: { [ATTRS.day]: days, [ATTRS.mode]: this.flags.mode } },
          () => this.execute(base),
        );
      } finally {
        // Run metrics for the alert rules (a failed day too), when a Pushgateway is configured.
        await withRunReports((r) =>
          r.reportBackfill({
            days,
            result,
            startedAt,
            logger: this.logger,
            instance: process.env.SHOPDATA_PUSHGATEWAY_INSTANCE,
          }),
        );
      }
      if (!this.jsonEnabled()) this.render(result);
      return result;
    } catch (err) {
      if (signal.aborted && !(err instanceof InterruptedError)) {
        throw new InterruptedError(
          'Backfill interrupted; partitions already swapped keep the new data, the others the old. Re-run to finish.',
          { cause: err },
        );
      }
      throw err;
    } finally {
      io?.close();
      await wh?.close();
    }
  }

  /** listr2 progress on a terminal; plain log lines otherwise. Every day is planned first either way. */
  private async execute(base: BackfillOptions): Promise<BackfillResult> {
    const interactive = Boolean(process.stderr.isTTY) && !this.jsonEnabled();
    if (!interactive) return runBackfill({ ...base, logger: this.logger });
    const { Listr } = await import('listr2');
    // On a cluster: staging on one server of it, swaps per shard (as runBackfill does).
    const { opts: target, close } = await backfillTarget(base);
    try {
      return await this.executeListr(Listr, target);
    } finally {
      await close();
    }
  }

  private async executeListr(
    Listr: typeof import('listr2').Listr,
    base: BackfillOptions,
  ): Promise<BackfillResult> {
    const plan = await planBackfill(base);
    const out: BackfillResult = { dryRun: Boolean(base.dryRun), days: [] };
    const tasks = new Listr(
      plan.days.map((planned) => ({
        title: `${base.dryRun ? 'plan' : 'backfill'} ${planned.day}`,
        task: async (_ctx: unknown, task: { output: string; title: string }) => {
          const d = await runPlannedDay(
            { ...base, onProgress: (e: ProgressEvent) => (task.output = e.message) },
            plan,
            planned,
          );
          out.days.push(d);
          task.title = `${d.day}: ${d.status}${d.skipped ? ` (${d.skipped})` : ` (${d.mode}, ${d.tables.reduce((s, t) => s + (t.rows ?? 0), 0)} lake rows, ${(d.durationMs / 1000).toFixed(1)} s)`}`;
        },
      })),
      { concurrent: false, exitOnError: true },
    );
    await tasks.run();
    return out;
  }

  private lines(lines: string[]): void {
    for (const l of lines) this.out(l);
  }

  private render(result: BackfillResult): void {
    for (const d of result.days) this.renderDay(d, result.dryRun);
  }

  private renderDay(d: DayResult, dryRun: boolean): void {
    if (d.status === 'skipped') {
      this.out(`Skipped ${d.day}: ${d.skipped ?? 'no data'}`);
      return;
    }
    this.out(
      `${dryRun ? 'Plan for' : 'Backfilled'} ${d.day} (${d.mode} mode${dryRun ? '' : `, run ${d.runId}`})`,
    );
    const lake = d.tables.map((t) => [
      t.table,
      t.format,
      t.snapshotId ?? '-',
      t.files.length,
      t.bytes,
      `${t.rows ?? '-'}${t.deleteFiles ? ` (${t.deleteFiles} delete files)` : ''}`,
    ]);
    const right = (header: string) => ({ header, align: 'right' as const });
    this.lines(
      renderTable(['lake table', 'format', 'snapshot', right('files'), right('bytes'), 'rows'], lake, {
        indent: '  ',
      }),
    );
    if (dryRun) {
      this.out(`  partitions to replace: ${d.partitions.join(', ')}`);
      return;
    }
    this.out('  corrections (stream had → batch result)');
    const corrections = Object.entries(d.corrections).map(([table, c]) => [
      table,
      c.before,
      c.after,
      c.added,
      c.changed,
      c.removed,
      c.duplicates,
    ]);
    const counts = ['before', 'after', 'added', 'changed', 'removed', 'duplicates'].map(right);
    this.lines(renderTable(['vault table', ...counts], corrections, { indent: '  ' }));
    this.out(
      `  ${d.verified ? 'verified' : 'NOT verified (partition changed after the swap)'}; checksums recorded in ops.backfill_ledger`,
    );
    if (d.rejected.count > 0) {
      // the same changes the stream dead-letters (docs/HASHING.md, "Values")
      this.out(`  ${d.rejected.count} lake row(s) not loaded: their values break the value rules`);
      for (const [reason, n] of Object.entries(d.rejected.reasons)) this.out(`    ${n} × ${reason}`);
    }
  }
}

function parseSnapshotIds(values: string[]): Partial<Record<SourceTable, bigint>> {
  const out: Partial<Record<SourceTable, bigint>> = {};
  for (const v of values) {
    const m = /^([a-z_]+)=(\d+)$/.exec(v);
    if (!m || !isSourceTable(m[1]!)) {
      throw new UsageError(`--snapshot-id "${v}" must be TABLE=ID with a lake table name.`, {
        hint: 'For example --snapshot-id purchases=3051729675574597004.',
      });
    }
    out[m[1] as SourceTable] = BigInt(m[2]!);
  }
  return out;
}
