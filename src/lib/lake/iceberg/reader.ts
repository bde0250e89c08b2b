import type { LakeIO } from '../io.js';
import { DataProblemError, UsageError } from '../../errors/index.js';
import { US_PER_DAY_BIGINT as US_PER_DAY } from '../../values/index.js';
import { readAvroFile } from './avro.js';
import {
  loadTableMetadata,
  selectSnapshot,
  type Long,
  type PartitionSpec,
  type SnapshotChoice,
  type TableMetadata,
} from './metadata.js';
import {
  isManifestEntry,
  isManifestFile,
  readIntBound,
  readLongBound,
  type ManifestEntry,
  type ManifestFile,
} from './manifest.js';
import { readLakeParquet } from '../parquet.js';
import type { IcebergField, IcebergSchema } from '../schema.js';

/**
 * Reads an Iceberg (v1/v2) changelog table for given days: pins a snapshot, prunes manifests
 * and files by the `day(__ts)` partition (or by `__ts` column bounds when a table is not
 * partitioned that way), honours position and equality deletes by sequence number, and
 * projects every data file onto the table's current schema by field id (renames and added
 * columns in older files resolve correctly).
 */

export interface IcebergFileTask {
  uri: string;
  size: number;
  records: number;
  /** Data sequence number (deletes apply by it). */
  seq: bigint;
  specId: number;
  /** Epoch day of the file's `day(__ts)` partition, when partitioned by it. */
  partitionDay: number | undefined;
  /** The file's whole partition tuple (spec id and values): equality deletes are scoped by it. */
  partitionKey: string;
  content: 0 | 1 | 2;
  equalityIds: number[];
}

export interface IcebergScanPlan {
  format: 'iceberg';
  tableUri: string;
  metadataUri: string;
  /**
   * A REST catalog's current metadata, relative to the table location: pull mode hands it to
   * ClickHouse (`iceberg_metadata_file_path`), which otherwise picks the highest version it lists.
   */
  metadataPath?: string;
  /** Undefined when the table has no snapshot yet (empty). */
  snapshotId: string | undefined;
  snapshotTimestampMs: number | undefined;
  schema: IcebergSchema;
  dataFiles: IcebergFileTask[];
  deleteFiles: IcebergFileTask[];
  manifests: { total: number; read: number };
  /** First and last epoch day requested (inclusive). */
  dayRange: [number, number];
  bytes: number;
  /** Epoch day of the latest `day(__ts)` partition in the snapshot (undefined: unknown or empty). */
  lastDay: number | undefined;
}

export interface PlanOptions extends SnapshotChoice {
  /** Epoch days [from, to] inclusive. */
  dayRange: [number, number];
  metadataFile?: string | undefined;
  /** The table's name in messages (default: its location). */
  name?: string | undefined;
}

function unsupported(table: string, feature: string, hint: string): UsageError {
  return new UsageError(
    `Iceberg table ${table}: ${feature} is not supported by shopdata; nothing was read.`,
    {
      hint,
      details: { table, feature },
    },
  );
}

export async function tableExists(io: LakeIO, tableUri: string): Promise<boolean> {
  return (await io.list(`${tableUri}/metadata`)).some((o) => o.uri.endsWith('.metadata.json'));
}

export async function planIcebergScan(
  io: LakeIO,
  tableUri: string,
  opts: PlanOptions,
): Promise<IcebergScanPlan | undefined> {
  const loaded = await loadTableMetadata(io, tableUri, opts.metadataFile);
  if (!loaded) return undefined;
  const md = loaded.metadata;
  const name = opts.name ?? tableUri;
  if (!Array.isArray(md.schemas)) {
    throw unsupported(
      name,
      `format-version ${md['format-version']} metadata without "schemas" (only the legacy "schema")`,
      'Rewrite the table metadata with a current Iceberg writer (it adds "schemas"), or upgrade the table to format version 2.',
    );
  }
  if (!Array.isArray(md['partition-specs'])) {
    throw unsupported(
      name,
      `format-version ${md['format-version']} metadata without "partition-specs" (only the legacy "partition-spec")`,
      'Rewrite the table metadata with a current Iceberg writer, or upgrade the table to format version 2.',
    );
  }
  const schema = md.schemas.find((s) => s['schema-id'] === md['current-schema-id']);
  if (!schema)
    throw new DataProblemError(
      `Iceberg table ${name}: current schema ${md['current-schema-id']} is missing from its metadata.`,
    );
  const snapshot = selectSnapshot(md, opts, name);
  const plan: IcebergScanPlan = {
    format: 'iceberg',
    tableUri,
    metadataUri: loaded.uri,
    snapshotId: snapshot ? String(snapshot['snapshot-id']) : undefined,
    snapshotTimestampMs: snapshot?.['timestamp-ms'],
    schema,
    dataFiles: [],
    deleteFiles: [],
    manifests: { total: 0, read: 0 },
    dayRange: opts.dayRange,
    bytes: 0,
    lastDay: undefined,
  };
  if (!snapshot) return plan;

  const tsField = schema.fields.find((f) => f.name === '__ts');
  if (!tsField) throw new DataProblemError(`Iceberg table ${name} has no __ts column (docs/CONTRACT.md §5).`);
  const dayFieldOf = new Map<number, string | undefined>();
  for (const spec of md['partition-specs'])
    dayFieldOf.set(spec['spec-id'], dayPartitionField(spec, tsField.id));
  const [from, to] = opts.dayRange;
  const overlaps = (lo: number | undefined, hi: number | undefined) =>
    (lo === undefined || lo <= to) && (hi === undefined || hi >= from);

  const manifestList = await readAvroFile<ManifestFile>(
    io,
    snapshot['manifest-list'],
    'manifest list',
    isManifestFile,
  );
  plan.manifests.total = manifestList.records.length;
  for (const mf of manifestList.records) {
    const spec = md['partition-specs'].find((s) => s['spec-id'] === mf.partition_spec_id);
    if (!spec)
      throw new DataProblemError(
        `Iceberg table ${name}: manifest ${mf.manifest_path} uses partition spec ${mf.partition_spec_id}, which its metadata lacks.`,
      );
    if (spec.fields.length > 1) {
      throw unsupported(
        name,
        `a partition spec with ${spec.fields.length} fields (${spec.fields.map((f) => `${f.transform}(${f['source-id']})`).join(', ')}; shopdata reads day(__ts) or one field)`,
        'Partition the table by day(__ts) only, as docs/CONTRACT.md §5 lays it out.',
      );
    }
    const dayField = dayFieldOf.get(mf.partition_spec_id);
    if (spec && dayField !== undefined && mf.partitions) {
      const idx = spec.fields.findIndex((f) => f.name === dayField);
      const summary = mf.partitions[idx];
      const upper = readIntBound(summary?.upper_bound);
      if ((mf.content ?? 0) === 0 && upper !== undefined)
        plan.lastDay = Math.max(plan.lastDay ?? upper, upper);
      if (
        summary &&
        !summary.contains_null &&
        !overlaps(readIntBound(summary.lower_bound), readIntBound(summary.upper_bound))
      )
        continue;
    }
    plan.manifests.read++;
    const manifest = await readAvroFile<ManifestEntry>(io, mf.manifest_path, 'manifest', isManifestEntry);
    const inheritedSeq = BigInt(mf.sequence_number ?? 0);
    for (const entry of manifest.records) {
      if (entry.status === 2) continue; // deleted from the table in this snapshot
      const df = entry.data_file;
      const content = (df.content ?? 0) as 0 | 1 | 2;
      const partitionDay =
        dayField !== undefined
          ? ((df.partition[dayField] as number | null | undefined) ?? undefined)
          : undefined;
      if (dayField !== undefined && partitionDay !== undefined) {
        if (partitionDay < from || partitionDay > to) continue;
      } else if (content === 0) {
        // Not partitioned by day(__ts): prune by the file's __ts bounds when it has them.
        const lo = readLongBound(df.lower_bounds?.find((b) => b.key === tsField.id)?.value);
        const hi = readLongBound(df.upper_bounds?.find((b) => b.key === tsField.id)?.value);
        if (
          !overlaps(
            lo === undefined ? undefined : Number(floorDiv(lo, US_PER_DAY)),
            hi === undefined ? undefined : Number(floorDiv(hi, US_PER_DAY)),
          )
        )
          continue;
      }
      const seq = entry.sequence_number ?? (entry.status === 1 ? inheritedSeq : undefined);
      if (seq === undefined || seq === null) {
        if (md['format-version'] >= 2)
          throw new DataProblemError(
            `Iceberg manifest ${mf.manifest_path} has an existing file without a sequence number.`,
          );
      }
      const task: IcebergFileTask = {
        uri: df.file_path,
        size: Number(df.file_size_in_bytes),
        records: Number(df.record_count),
        seq: BigInt(seq ?? 0),
        specId: mf.partition_spec_id,
        partitionDay,
        partitionKey: partitionKeyOf(spec, df.partition),
        content,
        equalityIds: df.equality_ids ?? [],
      };
      if (df.file_format.toUpperCase() !== 'PARQUET') {
        throw new DataProblemError(
          `Iceberg file ${df.file_path} is ${df.file_format}; shopdata reads Parquet data files only.`,
        );
      }
      (content === 0 ? plan.dataFiles : plan.deleteFiles).push(task);
      plan.bytes += task.size;
    }
  }
  plan.dataFiles.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : a.uri < b.uri ? -1 : 1));
  return plan;
}

/** Spec id and the partition values in spec order: two files share a partition iff keys are equal. */
function partitionKeyOf(spec: PartitionSpec, partition: Record<string, unknown> | null | undefined): string {
  const values = spec.fields.map((f) => valueKey(partition?.[f.name]));
  return `${spec['spec-id']}:${values.join('|')}`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** Name of the spec's partition field that is `day(__ts)` (Iceberg `day`; ClickHouse writes `days`). */
function dayPartitionField(spec: PartitionSpec, tsFieldId: number): string | undefined {
  return spec.fields.find(
    (f) => f['source-id'] === tsFieldId && (f.transform === 'day' || f.transform === 'days'),
  )?.name;
}

function valueKey(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint' || typeof v === 'number') return `n${String(v)}`;
  if (v instanceof Date) return `t${v.getTime()}`;
  if (v instanceof Uint8Array) return `b${Buffer.from(v).toString('hex')}`;
  return `s${JSON.stringify(v)}`;
}

interface DeleteIndex {
  /** data file path → positions deleted, with the delete's sequence number. */
  positions: Map<string, { seq: bigint; pos: Set<number> }[]>;
  equality: {
    seq: bigint;
    partitionKey: string;
    global: boolean;
    ids: number[];
    keys: Set<string>;
  }[];
}

async function loadDeletes(
  io: LakeIO,
  plan: IcebergScanPlan,
  md: { specs: Map<number, PartitionSpec> },
): Promise<DeleteIndex> {
  const index: DeleteIndex = { positions: new Map(), equality: [] };
  for (const d of plan.deleteFiles) {
    const { rows, fieldIds } = await readLakeParquet(io, d.uri, d.size);
    if (d.content === 1) {
      for (const r of rows) {
        const path = String(r.file_path);
        const pos = Number(r.pos);
        let list = index.positions.get(path);
        if (!list) index.positions.set(path, (list = []));
        let bucket = list.find((b) => b.seq === d.seq);
        if (!bucket) list.push((bucket = { seq: d.seq, pos: new Set() }));
        bucket.pos.add(pos);
      }
    } else {
      const nameById = new Map<number, string>();
      for (const [name, id] of fieldIds) nameById.set(id, name);
      const cols = d.equalityIds.map((id) => {
        const byId = nameById.get(id);
        if (byId) return byId;
        const f = plan.schema.fields.find((x) => x.id === id);
        if (!f)
          throw new DataProblemError(
            `Equality delete ${d.uri} names field id ${id}, which the table schema lacks.`,
          );
        return f.name;
      });
      const keys = new Set(rows.map((r) => cols.map((c) => valueKey(r[c])).join('|')));
      const spec = md.specs.get(d.specId);
      index.equality.push({
        seq: d.seq,
        partitionKey: d.partitionKey,
        global: !spec || spec.fields.length === 0,
        ids: d.equalityIds,
        keys,
      });
    }
  }
  return index;
}

export interface IcebergBatch {
  file: IcebergFileTask;
  /** Rows keyed by the current schema's column names; timestamps as epoch µs. */
  rows: Record<string, unknown>[];
  deletedByPosition: number;
  deletedByEquality: number;
}

/**
 * Reads the plan's data files one at a time (bounded memory), applies deletes, projects by field
 * id, and keeps only rows whose `__ts` falls in the plan's day range.
 */
export async function* readIcebergPlan(
  io: LakeIO,
  plan: IcebergScanPlan,
  metadata?: TableMetadata,
): AsyncGenerator<IcebergBatch> {
  const md = metadata ?? (await loadTableMetadata(io, plan.tableUri, plan.metadataUri))!.metadata;
  const specs = new Map(md['partition-specs'].map((s) => [s['spec-id'], s]));
  const deletes = await loadDeletes(io, plan, { specs });
  const nameMapping = parseNameMapping(md.properties?.['schema.name-mapping.default']);
  const [from, to] = plan.dayRange;
  const lo = Number(BigInt(from) * US_PER_DAY);
  const hi = Number(BigInt(to + 1) * US_PER_DAY);

  for (const file of plan.dataFiles) {
    const { rows: raw, fieldIds } = await readLakeParquet(io, file.uri, file.size);
    const project = projection(plan.schema.fields, fieldIds, nameMapping, raw[0]);

    const positionSets = (deletes.positions.get(file.uri) ?? []).filter((b) => b.seq >= file.seq);
    const equality = deletes.equality.filter(
      (e) => e.seq > file.seq && (e.global || e.partitionKey === file.partitionKey),
    );
    const eqColumns = equality.map((e) =>
      e.ids.map((id) => plan.schema.fields.find((f) => f.id === id)?.name ?? ''),
    );
    let byPos = 0;
    let byEq = 0;
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < raw.length; i++) {
      if (positionSets.some((b) => b.pos.has(i))) {
        byPos++;
        continue;
      }
      const row = project(raw[i]!);
      if (equality.length) {
        const hit = equality.some((e, k) =>
          e.keys.has(eqColumns[k]!.map((name) => valueKey(row[name])).join('|')),
        );
        if (hit) {
          byEq++;
          continue;
        }
      }
      const ts = row.__ts;
      const tsUs = typeof ts === 'number' ? ts : ts instanceof Date ? ts.getTime() * 1000 : Number(ts);
      if (tsUs < lo || tsUs >= hi) continue;
      out.push(row);
    }
    yield { file, rows: out, deletedByPosition: byPos, deletedByEquality: byEq };
  }
}

type NameMapping = { 'field-id'?: number; names: string[]; fields?: NameMapping[] }[];
function parseNameMapping(text: string | undefined): NameMapping | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as NameMapping;
  } catch {
    return undefined;
  }
}

/** Maps a file's columns onto the current schema: by field id, else name mapping, else name. */
function projection(
  fields: IcebergField[],
  fileIds: Map<string, number>,
  nameMapping: NameMapping | undefined,
  sample: Record<string, unknown> | undefined,
): (row: Record<string, unknown>) => Record<string, unknown> {
  const idToFileName = new Map<number, string>();
  for (const [name, id] of fileIds) idToFileName.set(id, name);
  const pairs: [string, string | undefined][] = fields.map((f) => {
    if (fileIds.size > 0) return [f.name, idToFileName.get(f.id)];
    const mapped = nameMapping?.find((m) => m['field-id'] === f.id)?.names.find((n) => sample && n in sample);
    return [f.name, mapped ?? f.name];
  });
  return (row) => {
    const out: Record<string, unknown> = {};
    for (const [to, from] of pairs) out[to] = from === undefined ? null : (row[from] ?? null);
    return out;
  };
}

export function snapshotIdOf(plan: IcebergScanPlan): Long | undefined {
  return plan.snapshotId === undefined ? undefined : BigInt(plan.snapshotId);
}
