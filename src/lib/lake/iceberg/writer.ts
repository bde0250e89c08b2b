import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LakeIO } from '../io.js';
import {
  DataProblemError,
  DependencyUnavailableError,
  isNetworkError,
  UsageError,
} from '../../errors/index.js';
import { encodeAvro, readAvroFile } from './avro.js';
import {
  sameId,
  type LoadedMetadata,
  type PartitionSpec,
  type Snapshot,
  type TableMetadata,
} from './metadata.js';
import {
  intBound,
  isManifestFile,
  manifestEntrySchema,
  manifestFileSchema,
  manifestHeaders,
  type ManifestEntry,
  type ManifestFile,
} from './manifest.js';
import { writeParquetBuffer, type ParquetCodec } from '../parquet.js';
import {
  icebergSchemaOf,
  lastFieldId,
  lakeTypeFromIceberg,
  type IcebergField,
  type IcebergSchema,
  type IcebergType,
  type LakeField,
  type LakeTableSchema,
} from '../schema.js';
import { US_PER_DAY_BIGINT as US_PER_DAY, dateOfEpochDay, epochDayOfDate } from '../../values/index.js';
import { columnStats } from './stats.js';
import { pathTable, type IcebergTableRef } from './table.js';
import { expireSnapshots, mergeManifests } from './maintenance.js';

/**
 * Iceberg v2 writer for the lake's changelog tables: creates a table partitioned by `day(__ts)`,
 * appends data files and writes position/equality delete files, each as one snapshot commit
 * (data → manifests → manifest list → new metadata published atomically, see table.ts).
 * A reader never sees a half-written snapshot: nothing points at the new files until the
 * metadata is published.
 *
 * Every commit carries a unique `shopdata.commit-id` in its snapshot summary. When a publish
 * fails in a way that leaves its outcome unknown (a lost response, or a retried conditional PUT
 * that answers 412 because the first attempt did succeed), the writer reloads the table and looks
 * for that id before trying again, so a commit is never applied twice.
 */

export const DAY_PARTITION_FIELD = '__ts_day';
export const COMMIT_ID_PROPERTY = 'shopdata.commit-id';
const POS_FILE_PATH_ID = 2147483546;
const POS_POS_ID = 2147483545;
const MAX_ATTEMPTS = 8;

export interface CommitResult {
  snapshotId: string;
  sequenceNumber: number;
  metadataUri: string;
  files: { uri: string; records: number; bytes: number; day: string }[];
  /** The commit was found already applied (its response had been lost), not applied again. */
  recovered?: boolean;
}

function newSnapshotId(): bigint {
  return randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
}

function daySpec(schema: LakeTableSchema): PartitionSpec {
  const ts = schema.fields.find((f) => f.name === '__ts')!;
  return {
    'spec-id': 0,
    fields: [{ 'source-id': ts.id, 'field-id': 1000, name: DAY_PARTITION_FIELD, transform: 'day' }],
  };
}

export function newTableMetadata(tableUri: string, schema: LakeTableSchema, nowMs: number): TableMetadata {
  return {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location: tableUri,
    'last-sequence-number': 0,
    'last-updated-ms': nowMs,
    'last-column-id': lastFieldId(schema),
    'current-schema-id': 0,
    schemas: [icebergSchemaOf(schema, 0)],
    'default-spec-id': 0,
    'partition-specs': [daySpec(schema)],
    'last-partition-id': 1000,
    'default-sort-order-id': 0,
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    properties: { 'write.format.default': 'parquet', 'write.parquet.compression-codec': 'zstd' },
    'current-snapshot-id': null,
    refs: {},
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
  };
}

function unsupported(table: string, feature: string, hint: string): UsageError {
  return new UsageError(
    `Iceberg table ${table}: ${feature} is not supported by shopdata; nothing was written.`,
    {
      hint,
      details: { table, feature },
    },
  );
}

/**
 * Our changelog schema with the field ids of the table's current schema, matched by name: a table
 * created by another writer (the Iceberg sink, pyiceberg) numbers its columns its own way.
 */
export function bindSchema(current: IcebergSchema, ours: LakeTableSchema, table: string): LakeTableSchema {
  const bindFields = (fields: LakeField[], theirs: IcebergField[], path: string): LakeField[] =>
    fields.map((f) => {
      const t = theirs.find((x) => x.name === f.name);
      if (!t) {
        throw new UsageError(
          `Iceberg table ${table} has no column ${path}${f.name}; shopdata appends only to tables with the changelog layout of docs/CONTRACT.md §5. Nothing was written.`,
          { hint: 'Write to a new table, or add the column to the table first.' },
        );
      }
      if (f.type.kind === 'list') {
        const lt = t.type as Extract<IcebergType, { type: 'list' }>;
        const el = typeof lt === 'object' && lt.type === 'list' ? lt.element : undefined;
        if (!el || typeof el !== 'object' || el.type !== 'struct')
          throw typeMismatch(table, path + f.name, t.type);
        return {
          id: t.id,
          name: f.name,
          type: {
            kind: 'list',
            elementId: lt['element-id'],
            element: {
              kind: 'struct',
              fields: bindFields(f.type.element.fields, el.fields, `${path}${f.name}.`),
            },
          },
        };
      }
      const theirType = lakeTypeFromIceberg(t.type);
      const same =
        theirType !== undefined &&
        theirType.kind === f.type.kind &&
        (f.type.kind !== 'decimal' ||
          (theirType.kind === 'decimal' &&
            theirType.scale === f.type.scale &&
            theirType.precision >= f.type.precision));
      if (!same) throw typeMismatch(table, path + f.name, t.type);
      return { ...f, id: t.id };
    });
  const required = current.fields.filter((f) => f.required && !ours.fields.some((o) => o.name === f.name));
  if (required.length > 0) {
    throw new UsageError(
      `Iceberg table ${table} has required column(s) ${required.map((f) => f.name).join(', ')} that the changelog does not have; nothing was written.`,
      { hint: 'Make those columns optional, or write to a new table.' },
    );
  }
  return { ...ours, fields: bindFields(ours.fields, current.fields, '') };
}

function typeMismatch(table: string, column: string, t: IcebergType): UsageError {
  return new UsageError(
    `Iceberg table ${table}: column ${column} has type ${JSON.stringify(t)}, which differs from the changelog layout of docs/CONTRACT.md §5; nothing was written.`,
    { hint: 'Write to a new table with the contract layout.' },
  );
}

/** The partition field of the table's default spec: `day(__ts)`, or none (unpartitioned). */
function writeSpec(
  md: TableMetadata,
  schema: LakeTableSchema,
  table: string,
): { spec: PartitionSpec; dayField: string | undefined } {
  const spec = md['partition-specs'].find((s) => s['spec-id'] === md['default-spec-id']);
  if (!spec)
    throw new DataProblemError(
      `Iceberg table ${table}: its default partition spec is missing from its metadata.`,
    );
  if (spec.fields.length === 0) return { spec, dayField: undefined };
  const ts = schema.fields.find((f) => f.name === '__ts')!;
  const f = spec.fields[0]!;
  if (
    spec.fields.length > 1 ||
    f['source-id'] !== ts.id ||
    (f.transform !== 'day' && f.transform !== 'days')
  ) {
    throw unsupported(
      table,
      `the partition spec ${JSON.stringify(spec.fields.map((x) => `${x.transform}(${x['source-id']})`))} (anything other than day(__ts) or unpartitioned)`,
      'Partition the table by day(__ts) only, as docs/CONTRACT.md §5 lays it out.',
    );
  }
  return { spec, dayField: f.name };
}

interface PendingFile {
  file: ManifestEntry['data_file'];
  /** Epoch day of the file's rows (its partition, or its rows' day when unpartitioned). */
  day: number;
}
interface PendingManifest {
  content: 0 | 1 | 2;
  entries: PendingFile[];
}

export interface BuildContext {
  /** The metadata this commit goes on top of (undefined: the table is being created). */
  current: TableMetadata | undefined;
  seq: number;
  snapshotId: bigint;
  /** Our schema bound to the table's field ids. */
  schema: LakeTableSchema;
  icebergSchema: IcebergSchema;
  spec: PartitionSpec;
  /** Name of the `day(__ts)` partition field; undefined when the table is unpartitioned. */
  dayField: string | undefined;
  /** Location of the table (no trailing slash). */
  location: string;
}

export interface BuildResult {
  manifests: PendingManifest[];
  /** Extra snapshot summary properties (e.g. the Kafka offsets the commit covers). */
  summary?: Record<string, string>;
}

export interface CommitOptions {
  /** Identifies this commit across retries (default: a new UUID). */
  commitId?: string;
  /** Wait before retrying after a conflict (ms; doubled each time, jittered). */
  backoffMs?: number;
}

/**
 * One commit: `build` writes data/delete files for the new snapshot on top of the given metadata
 * and returns their manifest entries (or null: nothing to commit); this function writes
 * manifests, the manifest list and the metadata, retrying from the latest metadata if another
 * writer committed first, and recognising its own earlier attempt by the commit id.
 */
export async function commitTo(
  table: IcebergTableRef,
  schema: LakeTableSchema,
  operation: 'append' | 'overwrite',
  build: (ctx: BuildContext) => Promise<BuildResult | null>,
  opts: CommitOptions = {},
): Promise<CommitResult | undefined> {
  const commitId = opts.commitId ?? randomUUID();
  let backoff = opts.backoffMs ?? 50;
  let lastError: unknown;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let loaded = await table.load();
    if (!loaded && table.createFirst) loaded = await table.create(newTableMetadata('', schema, Date.now()));
    const mine = loaded ? findCommit(loaded, commitId) : undefined;
    if (mine) return mine;
    if (loaded) checkWritable(loaded.metadata, table.name);
    const result = await commitOnce(table, schema, operation, build, commitId, loaded, attempt);
    if (result === null) return undefined;
    if (typeof result === 'object' && 'unknown' in result) {
      // Unknown outcome: the next load tells whether it was applied; otherwise it is retried.
      lastError = result.unknown;
      if (attempt === MAX_ATTEMPTS - 1) break;
    } else if (result !== 'conflict') {
      return result;
    }
    await sleep(backoff * (0.5 + Math.random()));
    backoff = Math.min(backoff * 2, 2000);
  }
  const again = await table.load();
  const mine = again ? findCommit(again, commitId) : undefined;
  if (mine) return mine;
  if (lastError) throw lastError;
  throw new DataProblemError(
    `Could not commit to Iceberg table ${table.name}: other writers kept committing first.`,
    {
      hint: 'Retry when the other writers are done.',
    },
  );
}

function checkWritable(md: TableMetadata, name: string): void {
  if (md['format-version'] < 2) {
    throw unsupported(
      name,
      `appending to a format-version ${md['format-version']} table`,
      "Upgrade the table to format version 2 (e.g. ALTER TABLE … SET TBLPROPERTIES ('format-version'='2') in Spark), or write to a new table.",
    );
  }
}

/** The snapshot an earlier attempt of this commit created, if the table has it. */
function findCommit(loaded: LoadedMetadata, commitId: string): CommitResult | undefined {
  const s = (loaded.metadata.snapshots ?? []).find((x) => x.summary?.[COMMIT_ID_PROPERTY] === commitId);
  if (!s) return undefined;
  return {
    snapshotId: String(s['snapshot-id']),
    sequenceNumber: Number(s['sequence-number'] ?? 0),
    metadataUri: loaded.uri,
    files: [],
    recovered: true,
  };
}

async function commitOnce(
  table: IcebergTableRef,
  ours: LakeTableSchema,
  operation: 'append' | 'overwrite',
  build: (ctx: BuildContext) => Promise<BuildResult | null>,
  commitId: string,
  loaded: LoadedMetadata | undefined,
  attempt: number,
): Promise<CommitResult | 'conflict' | { unknown: unknown } | null> {
  const now = Date.now();
  const location = table.location(loaded);
  const md: TableMetadata = loaded ? structuredClone(loaded.metadata) : newTableMetadata(location, ours, now);
  const icebergSchema = md.schemas?.find((s) => s['schema-id'] === md['current-schema-id']);
  if (!icebergSchema) {
    throw unsupported(
      table.name,
      'metadata without a current schema in `schemas`',
      'Write to a format-version 2 table.',
    );
  }
  const schema = loaded ? bindSchema(icebergSchema, ours, table.name) : ours;
  const { spec, dayField } = writeSpec(md, schema, table.name);
  const seq = (md['last-sequence-number'] ?? 0) + 1;
  const snapshotId = newSnapshotId();
  const parentId = md.refs?.main?.['snapshot-id'] ?? md['current-snapshot-id'];
  const parent = (md.snapshots ?? []).find((s) => sameId(s['snapshot-id'], parentId));

  const built = await build({
    current: loaded?.metadata,
    seq,
    snapshotId,
    schema,
    icebergSchema,
    spec,
    dayField,
    location,
  });
  if (!built) return null;
  const pending = built.manifests.filter((p) => p.entries.length > 0);
  const { manifests: newManifests, files } = await writeManifests(table.io, location, pending, {
    spec,
    icebergSchema,
    seq,
    snapshotId,
    dayField,
  });

  const listUri = await writeManifestList(table.io, location, newManifests, parent, {
    spec,
    schema: icebergSchema,
    md,
    snapshotId,
    seq,
    attempt,
  });
  const timestampMs = Math.max(now, ...(md.snapshots ?? []).map((s) => s['timestamp-ms'] + 1));
  const snapshot: Snapshot = {
    'snapshot-id': snapshotId,
    ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
    'sequence-number': seq,
    'timestamp-ms': timestampMs,
    'manifest-list': listUri,
    summary: {
      ...snapshotSummary(operation, files, pending, parent),
      ...built.summary,
      [COMMIT_ID_PROPERTY]: commitId,
    },
    'schema-id': icebergSchema['schema-id'],
  };
  addSnapshot(md, snapshot, loaded);

  // Another writer committed first: the files we wrote stay unreferenced; the caller retries on top.
  let published: Awaited<ReturnType<IcebergTableRef['publish']>>;
  try {
    published = await table.publish(loaded, md, snapshot);
  } catch (err) {
    // Unreachable after retries: it may have been applied. Anything else did not happen.
    if (err instanceof DependencyUnavailableError || isNetworkError(err)) return { unknown: err };
    throw err;
  }
  if (published === 'conflict') return 'conflict';
  return { snapshotId: String(snapshotId), sequenceNumber: seq, metadataUri: published.metadataUri, files };
}

/** The new snapshot's manifest list: its manifests, then the parent's (merged when there are many). */
async function writeManifestList(
  io: LakeIO,
  location: string,
  fresh: ManifestFile[],
  parent: Snapshot | undefined,
  c: {
    spec: PartitionSpec;
    schema: IcebergSchema;
    md: TableMetadata;
    snapshotId: bigint;
    seq: number;
    attempt: number;
  },
): Promise<string> {
  const previous: ManifestFile[] = parent
    ? (
        await readAvroFile<ManifestFile>(io, parent['manifest-list'], 'manifest list', isManifestFile)
      ).records.map(normaliseManifestFile)
    : [];
  // Many commits (archive commits every minute) must not make the list grow without bound.
  const list = await mergeManifests(io, location, fresh, previous, c);
  const uri = `${location}/metadata/snap-${c.snapshotId}-${c.attempt}-${randomUUID()}.avro`;
  const bytes = await encodeAvro(manifestFileSchema(), list, {
    'snapshot-id': String(c.snapshotId),
    'parent-snapshot-id': parent ? String(parent['snapshot-id']) : 'null',
    'sequence-number': String(c.seq),
    'format-version': '2',
  });
  await io.write(uri, bytes);
  return uri;
}

/** Makes `snapshot` the current one of `md` (main branch, logs), expiring old snapshots. */
function addSnapshot(md: TableMetadata, snapshot: Snapshot, loaded: LoadedMetadata | undefined): void {
  const id = snapshot['snapshot-id'];
  const at = snapshot['timestamp-ms'];
  md['last-sequence-number'] = snapshot['sequence-number'];
  md['last-updated-ms'] = at;
  md.snapshots = [...(md.snapshots ?? []), snapshot];
  md['current-snapshot-id'] = id;
  md.refs = { ...(md.refs ?? {}), main: { 'snapshot-id': id, type: 'branch' } };
  md['snapshot-log'] = [...(md['snapshot-log'] ?? []), { 'snapshot-id': id, 'timestamp-ms': at }];
  if (loaded)
    md['metadata-log'] = [
      ...(md['metadata-log'] ?? []),
      { 'metadata-file': loaded.uri, 'timestamp-ms': loaded.metadata['last-updated-ms'] },
    ];
  // Old snapshots leave the metadata, which every commit and every read loads.
  expireSnapshots(md, at);
}

async function writeManifests(
  io: LakeIO,
  location: string,
  pending: PendingManifest[],
  c: {
    spec: PartitionSpec;
    icebergSchema: IcebergSchema;
    seq: number;
    snapshotId: bigint;
    dayField: string | undefined;
  },
): Promise<{ manifests: ManifestFile[]; files: CommitResult['files'] }> {
  const manifests: ManifestFile[] = [];
  const files: CommitResult['files'] = [];
  for (const p of pending) {
    const entries: ManifestEntry[] = p.entries.map((e) => ({
      status: 1,
      snapshot_id: c.snapshotId,
      sequence_number: null,
      file_sequence_number: null,
      data_file: e.file,
    }));
    const bytes = await encodeAvro(
      manifestEntrySchema(c.spec),
      entries,
      manifestHeaders(c.icebergSchema, c.spec, p.content === 0 ? 'data' : 'deletes'),
    );
    const uri = `${location}/metadata/${randomUUID()}-m${p.content}.avro`;
    await io.write(uri, bytes);
    const days = p.entries.map((e) => e.day);
    manifests.push({
      manifest_path: uri,
      manifest_length: bytes.byteLength,
      partition_spec_id: c.spec['spec-id'],
      content: p.content === 0 ? 0 : 1,
      sequence_number: c.seq,
      min_sequence_number: c.seq,
      added_snapshot_id: c.snapshotId,
      added_files_count: p.entries.length,
      existing_files_count: 0,
      deleted_files_count: 0,
      added_rows_count: p.entries.reduce((s, e) => s + Number(e.file.record_count), 0),
      existing_rows_count: 0,
      deleted_rows_count: 0,
      partitions: c.dayField
        ? [
            {
              contains_null: false,
              contains_nan: false,
              lower_bound: intBound(Math.min(...days)),
              upper_bound: intBound(Math.max(...days)),
            },
          ]
        : [],
      key_metadata: null,
    });
    for (const e of p.entries)
      files.push({
        uri: e.file.file_path,
        records: Number(e.file.record_count),
        bytes: Number(e.file.file_size_in_bytes),
        day: dateOfEpochDay(e.day),
      });
  }
  return { manifests, files };
}

function normaliseManifestFile(m: ManifestFile): ManifestFile {
  return {
    manifest_path: m.manifest_path,
    manifest_length: m.manifest_length,
    partition_spec_id: m.partition_spec_id,
    content: m.content ?? 0,
    sequence_number: m.sequence_number ?? 0,
    min_sequence_number: m.min_sequence_number ?? 0,
    added_snapshot_id: m.added_snapshot_id,
    added_files_count: m.added_files_count ?? 0,
    existing_files_count: m.existing_files_count ?? 0,
    deleted_files_count: m.deleted_files_count ?? 0,
    added_rows_count: m.added_rows_count ?? 0,
    existing_rows_count: m.existing_rows_count ?? 0,
    deleted_rows_count: m.deleted_rows_count ?? 0,
    partitions: m.partitions ?? null,
    key_metadata: m.key_metadata ?? null,
  };
}

function snapshotSummary(
  operation: string,
  files: CommitResult['files'],
  pending: PendingManifest[],
  parent: Snapshot | undefined,
): Record<string, string> {
  const prev = (k: string) => Number(parent?.summary[k] ?? 0);
  const count = (content: number) =>
    pending.filter((p) => p.content === content).reduce((s, p) => s + p.entries.length, 0);
  const rows = (content: number) =>
    pending
      .filter((p) => p.content === content)
      .reduce((s, p) => s + p.entries.reduce((t, e) => t + Number(e.file.record_count), 0), 0);
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  return {
    operation,
    'added-data-files': String(count(0)),
    'added-records': String(rows(0)),
    'added-delete-files': String(count(1) + count(2)),
    'added-position-deletes': String(rows(1)),
    'added-equality-deletes': String(rows(2)),
    'added-files-size': String(bytes),
    'total-data-files': String(prev('total-data-files') + count(0)),
    'total-delete-files': String(prev('total-delete-files') + count(1) + count(2)),
    'total-records': String(prev('total-records') + rows(0)),
    'total-files-size': String(prev('total-files-size') + bytes),
    'total-position-deletes': String(prev('total-position-deletes') + rows(1)),
    'total-equality-deletes': String(prev('total-equality-deletes') + rows(2)),
  };
}

export function dayOfRow(row: Record<string, unknown>): number {
  const ts = row.__ts;
  if (typeof ts !== 'bigint') throw new DataProblemError('Iceberg append: a row without __ts.');
  const q = ts / US_PER_DAY;
  return Number(ts % US_PER_DAY !== 0n && ts < 0n ? q - 1n : q);
}

function dataFileEntry(
  uri: string,
  bytes: number,
  records: number,
  partition: Record<string, unknown>,
  content: 0 | 1 | 2,
  stats?: ReturnType<typeof columnStats>,
  equalityIds?: number[],
): ManifestEntry['data_file'] {
  return {
    content,
    file_path: uri,
    file_format: 'PARQUET',
    partition,
    record_count: records,
    file_size_in_bytes: bytes,
    value_counts: stats?.value_counts ?? null,
    null_value_counts: stats?.null_value_counts ?? null,
    lower_bounds: stats?.lower_bounds ?? null,
    upper_bounds: stats?.upper_bounds ?? null,
    key_metadata: null,
    split_offsets: null,
    equality_ids: equalityIds ?? null,
    sort_order_id: content === 0 ? 0 : null,
  };
}

function dataDir(ctx: BuildContext, day: number): string {
  return ctx.dayField
    ? `${ctx.location}/data/${ctx.dayField}=${dateOfEpochDay(day)}`
    : `${ctx.location}/data`;
}

function partitionOf(ctx: BuildContext, day: number): Record<string, unknown> {
  return ctx.dayField ? { [ctx.dayField]: day } : {};
}

/**
 * Writes rows as Parquet data files (one per day, or per `maxRowsPerFile` rows) with column
 * statistics, and returns their manifest entries. Used inside a commit's `build`.
 */
export async function writeDataFiles(
  ctx: BuildContext,
  io: LakeIO,
  rows: readonly Record<string, unknown>[],
  opts: { codec?: ParquetCodec; maxRowsPerFile?: number } = {},
): Promise<PendingManifest> {
  const byDay = new Map<number, Record<string, unknown>[]>();
  for (const r of rows) {
    const d = dayOfRow(r);
    let list = byDay.get(d);
    if (!list) byDay.set(d, (list = []));
    list.push(r);
  }
  const max = opts.maxRowsPerFile ?? Infinity;
  const entries: PendingFile[] = [];
  const kv = [{ key: 'iceberg.schema', value: JSON.stringify(ctx.icebergSchema) }];
  const groups: [number, Record<string, unknown>[]][] = ctx.dayField
    ? [...byDay].sort((a, b) => a[0] - b[0])
    : [[Math.min(...byDay.keys()), [...rows]]];
  for (const [day, dayRows] of groups) {
    for (let i = 0; i < dayRows.length; i += max) {
      const part = max === Infinity ? dayRows : dayRows.slice(i, i + max);
      const bytes = writeParquetBuffer(ctx.schema, part, { codec: opts.codec ?? 'ZSTD', kvMetadata: kv });
      const uri = `${dataDir(ctx, day)}/${String(ctx.seq).padStart(5, '0')}-${randomUUID()}.parquet`;
      await io.write(uri, bytes);
      const stats = columnStats(ctx.schema.fields, part);
      entries.push({
        file: dataFileEntry(uri, bytes.byteLength, part.length, partitionOf(ctx, day), 0, stats),
        day,
      });
      if (max === Infinity) break;
    }
  }
  return { content: 0, entries };
}

/** Creates an empty table (no snapshot) unless it exists; returns its metadata location. */
export async function createTable(table: IcebergTableRef, schema: LakeTableSchema): Promise<string> {
  const loaded = await table.load();
  if (loaded) return loaded.uri;
  return (await table.create(newTableMetadata(table.location(undefined), schema, Date.now()))).uri;
}

export async function icebergCreateTable(
  io: LakeIO,
  tableUri: string,
  schema: LakeTableSchema,
): Promise<string> {
  return createTable(pathTable(io, tableUri), schema);
}

export interface AppendOptions extends CommitOptions {
  codec?: ParquetCodec;
  /** Split a day's rows into files of at most this many rows. */
  maxRowsPerFile?: number;
}

/**
 * Appends rows (physical values, see changes.ts `changeToLakeRow`) as one snapshot, one file per
 * day. `prepare` may drop rows (or everything: returns null) given the metadata the commit lands
 * on, and add summary properties: the archive uses it to skip offsets already in the table. No
 * rows with a summary commits a snapshot without files that records only the summary.
 */
export async function appendTo(
  table: IcebergTableRef,
  schema: LakeTableSchema,
  prepare: (
    current: TableMetadata | undefined,
  ) => { rows: readonly Record<string, unknown>[]; summary?: Record<string, string> } | null,
  opts: AppendOptions = {},
): Promise<CommitResult | undefined> {
  return commitTo(
    table,
    schema,
    'append',
    async (ctx) => {
      const p = prepare(ctx.current);
      if (!p) return null;
      // No rows but a summary: a snapshot that only records progress (e.g. offsets of tombstones).
      if (p.rows.length === 0 && !p.summary) return null;
      const manifests = p.rows.length > 0 ? [await writeDataFiles(ctx, table.io, p.rows, opts)] : [];
      return { manifests, ...(p.summary ? { summary: p.summary } : {}) };
    },
    opts,
  );
}

/** Appends rows to the table at a path of the lake (see appendTo). */
export async function icebergAppend(
  io: LakeIO,
  tableUri: string,
  schema: LakeTableSchema,
  rows: Record<string, unknown>[],
  opts: AppendOptions = {},
): Promise<CommitResult> {
  const res = await appendTo(pathTable(io, tableUri), schema, () => ({ rows }), opts);
  if (!res) throw new DataProblemError(`Iceberg append to ${tableUri}: no rows to append.`);
  return res;
}

/** Marks rows deleted by position (row index within a data file), as Iceberg position delete files. */
export async function icebergDeletePositions(
  io: LakeIO,
  tableUri: string,
  schema: LakeTableSchema,
  deletes: { dataFile: string; day: string; positions: number[] }[],
): Promise<CommitResult> {
  const posFields: LakeField[] = [
    { id: POS_FILE_PATH_ID, name: 'file_path', type: { kind: 'string' } },
    { id: POS_POS_ID, name: 'pos', type: { kind: 'long' } },
  ];
  const res = await commitTo(pathTable(io, tableUri), schema, 'overwrite', async (ctx) => {
    const entries: PendingFile[] = [];
    for (const d of deletes) {
      const rows = [...d.positions]
        .sort((a, b) => a - b)
        .map((p) => ({ file_path: d.dataFile, pos: BigInt(p) }));
      const bytes = writeParquetBuffer(schema, rows, { fields: posFields, codec: 'ZSTD' });
      const day = epochDayOfDate(d.day);
      const uri = `${dataDir(ctx, day)}/${String(ctx.seq).padStart(5, '0')}-${randomUUID()}-deletes.parquet`;
      await io.write(uri, bytes);
      entries.push({
        file: dataFileEntry(uri, bytes.byteLength, rows.length, partitionOf(ctx, day), 1),
        day,
      });
    }
    return { manifests: [{ content: 1, entries }] };
  });
  return res!;
}

/** Deletes every older row whose `columns` equal one of `keys` (physical values), within one day partition. */
export async function icebergDeleteEquality(
  io: LakeIO,
  tableUri: string,
  schema: LakeTableSchema,
  day: string,
  columns: string[],
  keys: Record<string, unknown>[],
): Promise<CommitResult> {
  const res = await commitTo(pathTable(io, tableUri), schema, 'overwrite', async (ctx) => {
    const fields = columns.map((c) => {
      const f = ctx.schema.fields.find((x) => x.name === c);
      if (!f) throw new DataProblemError(`Equality delete on unknown column ${c}.`);
      return f;
    });
    const bytes = writeParquetBuffer(ctx.schema, keys, { fields, codec: 'ZSTD' });
    const dayNum = epochDayOfDate(day);
    const uri = `${dataDir(ctx, dayNum)}/${String(ctx.seq).padStart(5, '0')}-${randomUUID()}-eq-deletes.parquet`;
    await io.write(uri, bytes);
    const file = dataFileEntry(
      uri,
      bytes.byteLength,
      keys.length,
      partitionOf(ctx, dayNum),
      2,
      undefined,
      fields.map((f) => f.id),
    );
    return { manifests: [{ content: 2, entries: [{ file, day: dayNum }] }] };
  });
  return res!;
}
