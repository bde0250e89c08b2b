import { randomBytes, randomUUID } from 'node:crypto';
import type { LakeIO } from '../io.js';
import { DataProblemError } from '../../errors/index.js';
import { encodeAvro, decodeAvro } from './avro.js';
import {
  loadTableMetadata,
  stringifyJsonExact,
  type PartitionSpec,
  type Snapshot,
  type TableMetadata,
} from './metadata.js';
import {
  intBound,
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
  type IcebergSchema,
  type LakeField,
  type LakeTableSchema,
} from '../schema.js';
import { dateOfEpochDay } from '../changes.js';

/**
 * Iceberg v2 writer for the lake's changelog tables: creates a table partitioned by `day(__ts)`,
 * appends data files and writes position/equality delete files, each as one snapshot commit
 * (data → manifests → manifest list → `vN.metadata.json` created only if absent → version hint).
 * A reader never sees a half-written snapshot: nothing points at the new files until the
 * metadata file exists.
 */

export const DAY_PARTITION_FIELD = '__ts_day';
const US_PER_DAY = 86_400_000_000n;
const POS_FILE_PATH_ID = 2147483546;
const POS_POS_ID = 2147483545;

export interface CommitResult {
  snapshotId: string;
  sequenceNumber: number;
  metadataUri: string;
  files: { uri: string; records: number; bytes: number; day: string }[];
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

function newTableMetadata(tableUri: string, schema: LakeTableSchema, nowMs: number): TableMetadata {
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

/** Checks that an existing table has the columns (by id and name) that we are about to write. */
function assertCompatible(md: TableMetadata, schema: LakeTableSchema, tableUri: string): IcebergSchema {
  const current = md.schemas.find((s) => s['schema-id'] === md['current-schema-id'])!;
  for (const f of schema.fields) {
    const existing = current.fields.find((x) => x.id === f.id);
    if (!existing || existing.name !== f.name) {
      throw new DataProblemError(
        `Iceberg table ${tableUri} does not have column ${f.name} with field id ${f.id}; shopdata only appends to tables with the changelog layout it creates.`,
        {
          hint: 'Write to a new table location, or append with the tool that created this table.',
        },
      );
    }
  }
  return current;
}

interface PendingManifest {
  content: 0 | 1 | 2;
  entries: { file: ManifestEntry['data_file']; day: number }[];
}

/**
 * One commit: `build` writes data/delete files for the new snapshot and returns their manifest
 * entries; this function writes manifests, the manifest list and the metadata, retrying from
 * the latest metadata if another writer committed first.
 */
async function commit(
  io: LakeIO,
  tableUri: string,
  schema: LakeTableSchema,
  operation: 'append' | 'overwrite',
  build: (ctx: { seq: number; snapshotId: bigint; md: TableMetadata }) => Promise<PendingManifest[]>,
): Promise<CommitResult> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = Date.now();
    const loaded = await loadTableMetadata(io, tableUri);
    const md: TableMetadata = loaded
      ? structuredClone(loaded.metadata)
      : newTableMetadata(tableUri, schema, now);
    const version = loaded ? (loaded.version ?? 0) + 1 : 1;
    const icebergSchema = loaded ? assertCompatible(md, schema, tableUri) : md.schemas[0]!;
    const spec = md['partition-specs'].find((s) => s['spec-id'] === md['default-spec-id'])!;
    const seq = (md['last-sequence-number'] ?? 0) + 1;
    const snapshotId = newSnapshotId();
    const parent = (md.snapshots ?? []).find(
      (s) =>
        md['current-snapshot-id'] !== null &&
        md['current-snapshot-id'] !== undefined &&
        BigInt(s['snapshot-id']) === BigInt(md['current-snapshot-id']),
    );

    const pending = await build({ seq, snapshotId, md });
    const newManifests: ManifestFile[] = [];
    const files: CommitResult['files'] = [];
    for (const p of pending) {
      if (p.entries.length === 0) continue;
      const entries: ManifestEntry[] = p.entries.map((e) => ({
        status: 1,
        snapshot_id: snapshotId,
        sequence_number: null,
        file_sequence_number: null,
        data_file: e.file,
      }));
      const bytes = await encodeAvro(
        manifestEntrySchema(spec),
        entries,
        manifestHeaders(icebergSchema, spec, p.content === 0 ? 'data' : 'deletes'),
      );
      const uri = `${tableUri}/metadata/${randomUUID()}-m${p.content}.avro`;
      await io.write(uri, bytes);
      const days = p.entries.map((e) => e.day);
      const rows = p.entries.reduce((s, e) => s + Number(e.file.record_count), 0);
      newManifests.push({
        manifest_path: uri,
        manifest_length: bytes.byteLength,
        partition_spec_id: spec['spec-id'],
        content: p.content === 0 ? 0 : 1,
        sequence_number: seq,
        min_sequence_number: seq,
        added_snapshot_id: snapshotId,
        added_files_count: p.entries.length,
        existing_files_count: 0,
        deleted_files_count: 0,
        added_rows_count: rows,
        existing_rows_count: 0,
        deleted_rows_count: 0,
        partitions: [
          {
            contains_null: false,
            contains_nan: false,
            lower_bound: intBound(Math.min(...days)),
            upper_bound: intBound(Math.max(...days)),
          },
        ],
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

    const previous: ManifestFile[] = parent
      ? (await decodeAvro<ManifestFile>(await io.read(parent['manifest-list']))).records.map(
          normaliseManifestFile,
        )
      : [];
    const listUri = `${tableUri}/metadata/snap-${snapshotId}-${attempt}-${randomUUID()}.avro`;
    const listBytes = await encodeAvro(manifestFileSchema(), [...newManifests, ...previous], {
      'snapshot-id': String(snapshotId),
      'parent-snapshot-id': parent ? String(parent['snapshot-id']) : 'null',
      'sequence-number': String(seq),
      'format-version': '2',
    });
    await io.write(listUri, listBytes);

    const timestampMs = Math.max(now, ...(md.snapshots ?? []).map((s) => s['timestamp-ms'] + 1));
    const summary = snapshotSummary(operation, files, pending, parent);
    const snapshot: Snapshot = {
      'snapshot-id': snapshotId,
      ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
      'sequence-number': seq,
      'timestamp-ms': timestampMs,
      'manifest-list': listUri,
      summary,
      'schema-id': icebergSchema['schema-id'],
    };
    md['last-sequence-number'] = seq;
    md['last-updated-ms'] = timestampMs;
    md.snapshots = [...(md.snapshots ?? []), snapshot];
    md['current-snapshot-id'] = snapshotId;
    md.refs = { ...(md.refs ?? {}), main: { 'snapshot-id': snapshotId, type: 'branch' } };
    md['snapshot-log'] = [
      ...(md['snapshot-log'] ?? []),
      { 'snapshot-id': snapshotId, 'timestamp-ms': timestampMs },
    ];
    if (loaded)
      md['metadata-log'] = [
        ...(md['metadata-log'] ?? []),
        { 'metadata-file': loaded.uri, 'timestamp-ms': loaded.metadata['last-updated-ms'] },
      ];

    const metadataUri = `${tableUri}/metadata/v${version}.metadata.json`;
    if (await io.writeIfAbsent(metadataUri, stringifyJsonExact(md, 2))) {
      await io.write(`${tableUri}/metadata/version-hint.text`, String(version));
      return { snapshotId: String(snapshotId), sequenceNumber: seq, metadataUri, files };
    }
    // Another writer committed v{version} first: the files we wrote stay unreferenced; retry on top.
  }
  throw new DataProblemError(
    `Could not commit to Iceberg table ${tableUri}: other writers kept committing first.`,
    { hint: 'Retry when the other writers are done.' },
  );
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

function dayOf(row: Record<string, unknown>): number {
  const ts = row.__ts;
  if (typeof ts !== 'bigint') throw new DataProblemError('Iceberg append: a row without __ts.');
  const q = ts / US_PER_DAY;
  return Number(ts % US_PER_DAY !== 0n && ts < 0n ? q - 1n : q);
}

function dataFileEntry(
  uri: string,
  bytes: number,
  records: number,
  day: number,
  content: 0 | 1 | 2,
  equalityIds?: number[],
): ManifestEntry['data_file'] {
  return {
    content,
    file_path: uri,
    file_format: 'PARQUET',
    partition: { [DAY_PARTITION_FIELD]: day },
    record_count: records,
    file_size_in_bytes: bytes,
    value_counts: null,
    null_value_counts: null,
    lower_bounds: null,
    upper_bounds: null,
    key_metadata: null,
    split_offsets: null,
    equality_ids: equalityIds ?? null,
    sort_order_id: content === 0 ? 0 : null,
  };
}

/** Creates an empty table (metadata v1, no snapshot) unless it exists. */
export async function icebergCreateTable(
  io: LakeIO,
  tableUri: string,
  schema: LakeTableSchema,
): Promise<string> {
  const loaded = await loadTableMetadata(io, tableUri);
  if (loaded) return loaded.uri;
  const uri = `${tableUri}/metadata/v1.metadata.json`;
  if (await io.writeIfAbsent(uri, stringifyJsonExact(newTableMetadata(tableUri, schema, Date.now()), 2))) {
    await io.write(`${tableUri}/metadata/version-hint.text`, '1');
  }
  return uri;
}

/** Appends rows (physical values, see changes.ts `changeToLakeRow`) as one snapshot, one file per day. */
export async function icebergAppend(
  io: LakeIO,
  tableUri: string,
  schema: LakeTableSchema,
  rows: Record<string, unknown>[],
  opts: { codec?: ParquetCodec } = {},
): Promise<CommitResult> {
  const byDay = new Map<number, Record<string, unknown>[]>();
  for (const r of rows) {
    const d = dayOf(r);
    let list = byDay.get(d);
    if (!list) byDay.set(d, (list = []));
    list.push(r);
  }
  return commit(io, tableUri, schema, 'append', async ({ seq, md }) => {
    const current = md.schemas.find((s) => s['schema-id'] === md['current-schema-id'])!;
    const entries: PendingManifest['entries'] = [];
    for (const [day, dayRows] of [...byDay].sort((a, b) => a[0] - b[0])) {
      const bytes = writeParquetBuffer(schema, dayRows, {
        codec: opts.codec ?? 'ZSTD',
        kvMetadata: [{ key: 'iceberg.schema', value: JSON.stringify(current) }],
      });
      const uri = `${tableUri}/data/${DAY_PARTITION_FIELD}=${dateOfEpochDay(day)}/${String(seq).padStart(5, '0')}-${randomUUID()}.parquet`;
      await io.write(uri, bytes);
      entries.push({ file: dataFileEntry(uri, bytes.byteLength, dayRows.length, day, 0), day });
    }
    return [{ content: 0, entries }];
  });
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
  return commit(io, tableUri, schema, 'overwrite', async ({ seq }) => {
    const entries: PendingManifest['entries'] = [];
    for (const d of deletes) {
      const rows = [...d.positions]
        .sort((a, b) => a - b)
        .map((p) => ({ file_path: d.dataFile, pos: BigInt(p) }));
      const bytes = writeParquetBuffer(schema, rows, { fields: posFields, codec: 'ZSTD' });
      const day = Math.floor(Date.parse(`${d.day}T00:00:00Z`) / 86_400_000);
      const uri = `${tableUri}/data/${DAY_PARTITION_FIELD}=${d.day}/${String(seq).padStart(5, '0')}-${randomUUID()}-deletes.parquet`;
      await io.write(uri, bytes);
      entries.push({ file: dataFileEntry(uri, bytes.byteLength, rows.length, day, 1), day });
    }
    return [{ content: 1, entries }];
  });
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
  const fields = columns.map((c) => {
    const f = schema.fields.find((x) => x.name === c);
    if (!f) throw new DataProblemError(`Equality delete on unknown column ${c}.`);
    return f;
  });
  return commit(io, tableUri, schema, 'overwrite', async ({ seq }) => {
    const bytes = writeParquetBuffer(schema, keys, { fields, codec: 'ZSTD' });
    const dayNum = Math.floor(Date.parse(`${day}T00:00:00Z`) / 86_400_000);
    const uri = `${tableUri}/data/${DAY_PARTITION_FIELD}=${day}/${String(seq).padStart(5, '0')}-${randomUUID()}-eq-deletes.parquet`;
    await io.write(uri, bytes);
    return [
      {
        content: 2,
        entries: [
          {
            file: dataFileEntry(
              uri,
              bytes.byteLength,
              keys.length,
              dayNum,
              2,
              fields.map((f) => f.id),
            ),
            day: dayNum,
          },
        ],
      },
    ];
  });
}
