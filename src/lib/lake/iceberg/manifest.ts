import type { PartitionSpec, Long } from './metadata.js';
import type { IcebergSchema } from '../schema.js';

/**
 * Avro schemas of Iceberg v2 manifest lists and manifests (field ids from the Iceberg spec;
 * readers such as pyiceberg and Java resolve fields by these ids, not by name).
 */
const opt = (type: unknown) => ['null', type];

export function manifestFileSchema(): object {
  return {
    type: 'record',
    name: 'manifest_file',
    fields: [
      { name: 'manifest_path', type: 'string', 'field-id': 500 },
      { name: 'manifest_length', type: 'long', 'field-id': 501 },
      { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
      { name: 'content', type: 'int', 'field-id': 517 },
      { name: 'sequence_number', type: 'long', 'field-id': 515 },
      { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
      { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
      { name: 'added_files_count', type: 'int', 'field-id': 504 },
      { name: 'existing_files_count', type: 'int', 'field-id': 505 },
      { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
      { name: 'added_rows_count', type: 'long', 'field-id': 512 },
      { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
      { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
      {
        name: 'partitions',
        type: opt({
          type: 'array',
          'element-id': 508,
          items: {
            type: 'record',
            name: 'r508',
            fields: [
              { name: 'contains_null', type: 'boolean', 'field-id': 509 },
              { name: 'contains_nan', type: opt('boolean'), default: null, 'field-id': 518 },
              { name: 'lower_bound', type: opt('bytes'), default: null, 'field-id': 510 },
              { name: 'upper_bound', type: opt('bytes'), default: null, 'field-id': 511 },
            ],
          },
        }),
        default: null,
        'field-id': 507,
      },
      { name: 'key_metadata', type: opt('bytes'), default: null, 'field-id': 519 },
    ],
  };
}

export interface ManifestFile {
  manifest_path: string;
  manifest_length: number;
  partition_spec_id: number;
  content?: number;
  sequence_number?: Long;
  min_sequence_number?: Long;
  added_snapshot_id: Long;
  added_files_count?: number | null;
  existing_files_count?: number | null;
  deleted_files_count?: number | null;
  added_rows_count?: Long | null;
  existing_rows_count?: Long | null;
  deleted_rows_count?: Long | null;
  partitions?:
    | {
        contains_null: boolean;
        contains_nan?: boolean | null;
        lower_bound?: Buffer | null;
        upper_bound?: Buffer | null;
      }[]
    | null;
  key_metadata?: Buffer | null;
}

/** The partition struct's Avro type for a spec (only the transforms shopdata writes). */
function partitionRecord(spec: PartitionSpec): object {
  return {
    type: 'record',
    name: 'r102',
    fields: spec.fields.map((f) => ({
      name: f.name,
      type: opt(f.transform === 'day' ? { type: 'int', logicalType: 'date' } : 'int'),
      default: null,
      'field-id': f['field-id'],
    })),
  };
}

const intLongMap = (name: string, keyId: number, valueId: number, valueType: string) => ({
  type: 'array',
  logicalType: 'map',
  items: {
    type: 'record',
    name,
    fields: [
      { name: 'key', type: 'int', 'field-id': keyId },
      { name: 'value', type: valueType, 'field-id': valueId },
    ],
  },
});

export function manifestEntrySchema(spec: PartitionSpec): object {
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: opt('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: opt('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: opt('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', type: partitionRecord(spec), 'field-id': 102 },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            {
              name: 'value_counts',
              type: opt(intLongMap('k119_v120', 119, 120, 'long')),
              default: null,
              'field-id': 109,
            },
            {
              name: 'null_value_counts',
              type: opt(intLongMap('k121_v122', 121, 122, 'long')),
              default: null,
              'field-id': 110,
            },
            {
              name: 'lower_bounds',
              type: opt(intLongMap('k126_v127', 126, 127, 'bytes')),
              default: null,
              'field-id': 125,
            },
            {
              name: 'upper_bounds',
              type: opt(intLongMap('k129_v130', 129, 130, 'bytes')),
              default: null,
              'field-id': 128,
            },
            { name: 'key_metadata', type: opt('bytes'), default: null, 'field-id': 131 },
            {
              name: 'split_offsets',
              type: opt({ type: 'array', items: 'long', 'element-id': 133 }),
              default: null,
              'field-id': 132,
            },
            {
              name: 'equality_ids',
              type: opt({ type: 'array', items: 'int', 'element-id': 136 }),
              default: null,
              'field-id': 135,
            },
            { name: 'sort_order_id', type: opt('int'), default: null, 'field-id': 140 },
          ],
        },
      },
    ],
  };
}

export interface DataFile {
  content?: number;
  file_path: string;
  file_format: string;
  partition: Record<string, unknown>;
  record_count: Long;
  file_size_in_bytes: Long;
  value_counts?: { key: number; value: Long }[] | null;
  null_value_counts?: { key: number; value: Long }[] | null;
  lower_bounds?: { key: number; value: Buffer }[] | null;
  upper_bounds?: { key: number; value: Buffer }[] | null;
  equality_ids?: number[] | null;
  [k: string]: unknown;
}

export interface ManifestEntry {
  status: number;
  snapshot_id?: Long | null;
  sequence_number?: Long | null;
  file_sequence_number?: Long | null;
  data_file: DataFile;
}

export function manifestHeaders(
  schema: IcebergSchema,
  spec: PartitionSpec,
  content: 'data' | 'deletes',
): Record<string, string> {
  return {
    schema: JSON.stringify(schema),
    'schema-id': String(schema['schema-id']),
    'partition-spec': JSON.stringify(spec.fields),
    'partition-spec-id': String(spec['spec-id']),
    'format-version': '2',
    content,
  };
}

/** Iceberg's single-value binary encoding of a `date`/`int` (4 bytes little-endian). */
export function intBound(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

export function readIntBound(b: Buffer | Uint8Array | null | undefined): number | undefined {
  if (!b || b.byteLength < 4) return undefined;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).readInt32LE(0);
}

export function longBound(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return b;
}

export function readLongBound(b: Buffer | Uint8Array | null | undefined): bigint | undefined {
  if (!b || b.byteLength < 8) return undefined;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigInt64LE(0);
}

const isLong = (v: unknown) => typeof v === 'number' || typeof v === 'bigint';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A manifest list record has what the reader uses. */
export function isManifestFile(r: unknown): boolean {
  return (
    isObject(r) &&
    typeof r.manifest_path === 'string' &&
    typeof r.partition_spec_id === 'number' &&
    (r.partitions === undefined || r.partitions === null || Array.isArray(r.partitions))
  );
}

/** A manifest entry has what the reader uses. */
export function isManifestEntry(r: unknown): boolean {
  if (!isObject(r) || typeof r.status !== 'number' || !isObject(r.data_file)) return false;
  const f = r.data_file;
  return (
    typeof f.file_path === 'string' &&
    typeof f.file_format === 'string' &&
    isLong(f.record_count) &&
    isLong(f.file_size_in_bytes) &&
    Number(f.file_size_in_bytes) >= 0 &&
    (f.partition === undefined || f.partition === null || isObject(f.partition))
  );
}
