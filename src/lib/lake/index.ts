import { randomUUID } from 'node:crypto';
import type { SourceChange, SourceTable } from '../vault/types.js';
import { DataProblemError, UsageError } from '../errors/index.js';
import type { ShopdataConfig } from '../config/index.js';
import { openLake, type LakeIO } from './io.js';
import { LAKE_SCHEMAS } from './schema.js';
import { dateOfEpochDay, epochDayOfDate, epochDayOfMicros } from '../values/index.js';
import { LakeRowError, changeToLakeRow, lakeRowToChange } from './changes.js';
import { readLakeParquet, writeParquetBuffer, type ParquetCodec } from './parquet.js';
import { icebergAppend, icebergCreateTable, type CommitResult } from './iceberg/writer.js';
import { planIcebergScan, readIcebergPlan, tableExists, type IcebergScanPlan } from './iceberg/reader.js';
import type { SnapshotChoice } from './iceberg/metadata.js';
import { configuredCatalog, isCatalogIO, openCatalogIO } from './catalog/index.js';

export { openLake, type LakeIO } from './io.js';
export { LAKE_SCHEMAS } from './schema.js';
export { lakeRowToChange, changeToLakeRow, LakeRowError } from './changes.js';
export type { IcebergScanPlan } from './iceberg/reader.js';

export type LakeFormat = 'iceberg' | 'parquet';

/**
 * Opens the configured lake (SHOPDATA_LAKE / --lake, SHOPDATA_S3_ENDPOINT), or, with
 * SHOPDATA_ICEBERG_CATALOG_URI, the REST catalog's tables (`<namespace>.<table>`).
 */
export function openConfiguredLake(config: ShopdataConfig, cwd?: string): LakeIO {
  const binding = configuredCatalog(config);
  if (binding) return openCatalogIO(config, binding);
  return openLake(config.lake.uri, {
    s3Endpoint: config.lake.s3Endpoint,
    s3Region: config.lake.s3Region,
    ...(cwd ? { cwd } : {}),
  });
}

/** `<lake>/iceberg/<table>` or `<lake>/parquet/<table>` (docs/CONTRACT.md §5). */
export function lakeTableUri(io: LakeIO, format: LakeFormat, table: SourceTable): string {
  return io.url(format, table);
}

export interface WriteChangelogOptions {
  format: LakeFormat;
  /** Parquet codec; default ZSTD. */
  codec?: ParquetCodec;
}

export interface WriteChangelogResult {
  table: SourceTable;
  format: LakeFormat;
  rows: number;
  files: { uri: string; records: number; bytes: number; day: string }[];
  /** Iceberg only: the snapshot this write committed. */
  snapshotId?: string;
}

/**
 * Writes changes to the lake's changelog table: Iceberg → one snapshot (one data file per day),
 * Parquet → one file per `dt=YYYY-MM-DD` folder. Days are the UTC days of `commitTsUs`.
 */
export async function writeChangelog(
  io: LakeIO,
  table: SourceTable,
  changes: readonly SourceChange[],
  opts: WriteChangelogOptions,
): Promise<WriteChangelogResult> {
  for (const c of changes) {
    if (c.table !== table)
      throw new DataProblemError(`writeChangelog(${table}) was given a change of ${c.table}.`);
  }
  const schema = LAKE_SCHEMAS[table];
  const rows = changes.map(changeToLakeRow);
  if (opts.format === 'iceberg') {
    if (rows.length === 0) {
      await icebergCreateTable(io, lakeTableUri(io, 'iceberg', table), schema);
      return { table, format: 'iceberg', rows: 0, files: [] };
    }
    const res: CommitResult = await icebergAppend(
      io,
      lakeTableUri(io, 'iceberg', table),
      schema,
      rows,
      opts.codec ? { codec: opts.codec } : {},
    );
    return { table, format: 'iceberg', rows: rows.length, files: res.files, snapshotId: res.snapshotId };
  }
  const byDay = new Map<number, Record<string, unknown>[]>();
  changes.forEach((c, i) => {
    const d = epochDayOfMicros(c.commitTsUs);
    let list = byDay.get(d);
    if (!list) byDay.set(d, (list = []));
    list.push(rows[i]!);
  });
  const files: WriteChangelogResult['files'] = [];
  for (const [d, dayRows] of [...byDay].sort((a, b) => a[0] - b[0])) {
    const day = dateOfEpochDay(d);
    const bytes = writeParquetBuffer(schema, dayRows, { codec: opts.codec ?? 'ZSTD' });
    const uri = io.url('parquet', table, `dt=${day}`, `part-${Date.now()}-${randomUUID()}.parquet`);
    await io.write(uri, bytes);
    files.push({ uri, records: dayRows.length, bytes: bytes.byteLength, day });
  }
  return { table, format: 'parquet', rows: rows.length, files };
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ParquetScanPlan {
  format: 'parquet';
  tableUri: string;
  files: { uri: string; size: number; day: string }[];
  dayRange: [number, number];
  bytes: number;
  /** Epoch day of the latest `dt=` folder of the table. */
  lastDay: number | undefined;
}

export type LakeScanPlan = IcebergScanPlan | ParquetScanPlan;

/** Which format holds the table: Iceberg if it has metadata, else Parquet if it has files. */
export async function detectFormat(io: LakeIO, table: SourceTable): Promise<LakeFormat | undefined> {
  if (isCatalogIO(io)) {
    const { catalog, namespace } = io.catalog;
    return (await catalog.loadTable(namespace, table)) ? 'iceberg' : undefined;
  }
  if (await tableExists(io, lakeTableUri(io, 'iceberg', table))) return 'iceberg';
  if ((await io.list(lakeTableUri(io, 'parquet', table))).some((o) => o.uri.endsWith('.parquet')))
    return 'parquet';
  return undefined;
}

export interface PlanDaysOptions extends SnapshotChoice {
  format: LakeFormat | 'auto';
  /** Inclusive UTC days, YYYY-MM-DD. */
  from: string;
  to: string;
  metadataFile?: string;
}

/**
 * The files to read for a table and day range (nothing is read yet): the pinned Iceberg snapshot
 * with pruned data and delete files, or the Parquet files of the `dt=` folders. Undefined when the
 * table is not in the lake in that format.
 */
export async function planTableDays(
  io: LakeIO,
  table: SourceTable,
  opts: PlanDaysOptions,
): Promise<LakeScanPlan | undefined> {
  const format = opts.format === 'auto' ? await detectFormat(io, table) : opts.format;
  if (!format) return undefined;
  const dayRange: [number, number] = [epochDayOfDate(opts.from), epochDayOfDate(opts.to)];
  if (isCatalogIO(io)) {
    if (format !== 'iceberg') {
      throw new UsageError(
        `Tables of an Iceberg REST catalog are Iceberg tables; --format ${format} does not apply.`,
        {
          hint: 'Use --format iceberg (or auto), or unset SHOPDATA_ICEBERG_CATALOG_URI to read path-based tables.',
        },
      );
    }
    // The catalog says where the table is and which metadata is current.
    const { catalog, namespace } = io.catalog;
    const loaded = await catalog.loadTable(namespace, table);
    if (!loaded) return undefined;
    const location = String(loaded.metadata.location).replace(/\/+$/, '');
    const metadataFile = opts.metadataFile ?? loaded.metadataLocation;
    const plan = await planIcebergScan(io, location, {
      dayRange,
      snapshotId: opts.snapshotId,
      asOfMs: opts.asOfMs,
      metadataFile,
      name: `${namespace}.${table}`,
    });
    if (plan && plan.metadataUri.startsWith(`${location}/`))
      plan.metadataPath = plan.metadataUri.slice(location.length + 1);
    return plan;
  }
  if (format === 'iceberg') {
    return planIcebergScan(io, lakeTableUri(io, 'iceberg', table), {
      dayRange,
      snapshotId: opts.snapshotId,
      asOfMs: opts.asOfMs,
      metadataFile: opts.metadataFile,
    });
  }
  const tableUri = lakeTableUri(io, 'parquet', table);
  const all = await io.list(tableUri);
  if (!all.some((o) => o.uri.endsWith('.parquet'))) return undefined;
  const files: ParquetScanPlan['files'] = [];
  for (let d = dayRange[0]; d <= dayRange[1]; d++) {
    const day = dateOfEpochDay(d);
    const marker = `/dt=${day}/`;
    for (const o of all)
      if (o.uri.includes(marker) && o.uri.endsWith('.parquet')) files.push({ uri: o.uri, size: o.size, day });
  }
  let lastDay: number | undefined;
  for (const o of all) {
    const m = /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(o.uri);
    if (m && o.uri.endsWith('.parquet')) lastDay = Math.max(lastDay ?? -Infinity, epochDayOfDate(m[1]!));
  }
  return {
    format: 'parquet',
    tableUri,
    files,
    dayRange,
    bytes: files.reduce((s, f) => s + f.size, 0),
    lastDay,
  };
}

/** A lake row that could not become a change: where it is (`origin#row`) and why (field and problem, no value). */
export interface LakeReject {
  table: SourceTable;
  origin: string;
  reason: string;
}

export interface ChangeBatch {
  file: string;
  changes: SourceChange[];
  /** Rows refused by the value rules (src/lib/values); the rest of the file still loads. */
  rejects: LakeReject[];
}

/** Rows → changes; a row with a bad value becomes a reject, not an error for the whole file. */
function rowsToChanges(
  table: SourceTable,
  rows: readonly Record<string, unknown>[],
  origin: string,
  keep: (c: SourceChange) => boolean = () => true,
): { changes: SourceChange[]; rejects: LakeReject[] } {
  const changes: SourceChange[] = [];
  const rejects: LakeReject[] = [];
  rows.forEach((r, i) => {
    try {
      const c = lakeRowToChange(table, r, origin);
      if (keep(c)) changes.push(c);
    } catch (err) {
      if (!(err instanceof LakeRowError)) throw err;
      rejects.push({ table, origin: `${origin}#${i}`, reason: err.message });
    }
  });
  return { changes, rejects };
}

/** Reads a plan as canonical changes, one batch per data file, only rows whose `__ts` is in range. */
export async function* readPlanChanges(
  io: LakeIO,
  table: SourceTable,
  plan: LakeScanPlan,
): AsyncGenerator<ChangeBatch> {
  if (plan.format === 'iceberg') {
    for await (const batch of readIcebergPlan(io, plan)) {
      const origin = `lake:iceberg/${table}/${batch.file.uri.slice(batch.file.uri.lastIndexOf('/') + 1)}`;
      yield { file: batch.file.uri, ...rowsToChanges(table, batch.rows, origin) };
    }
    return;
  }
  const lo = plan.dayRange[0];
  const hi = plan.dayRange[1];
  for (const f of plan.files) {
    const { rows } = await readLakeParquet(io, f.uri, f.size);
    const origin = `lake:parquet/${table}/dt=${f.day}/${f.uri.slice(f.uri.lastIndexOf('/') + 1)}`;
    const inRange = (c: SourceChange) => {
      const d = epochDayOfMicros(c.commitTsUs);
      return d >= lo && d <= hi;
    };
    yield { file: f.uri, ...rowsToChanges(table, rows, origin, inRange) };
  }
}

/** All changes of a table for a day range, in file order (tests, demo, small days). */
export async function readChangelog(
  io: LakeIO,
  table: SourceTable,
  opts: PlanDaysOptions,
): Promise<SourceChange[]> {
  const plan = await planTableDays(io, table, opts);
  if (!plan) return [];
  const out: SourceChange[] = [];
  for await (const b of readPlanChanges(io, table, plan)) {
    const first = b.rejects[0];
    if (first)
      throw new DataProblemError(
        `${b.rejects.length} row(s) of ${first.origin.replace(/#\d+$/, '')} are invalid: ${first.reason}`,
        {
          hint: 'The lake rows do not match the changelog layout of docs/CONTRACT.md §5.',
        },
      );
    out.push(...b.changes);
  }
  return out;
}
