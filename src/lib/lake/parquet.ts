import { gzipSync, zstdCompressSync } from 'node:zlib';
import {
  parquetMetadataAsync,
  parquetReadObjects,
  type AsyncBuffer,
  type FileMetaData,
  type SchemaElement,
} from 'hyparquet';
import { compressors as decompressors } from 'hyparquet-compressors';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { LakeIO } from './io.js';
import { MICROS_PARSERS } from './changes.js';
import type { LakeField, LakeTableSchema, LakeType } from './schema.js';

export type ParquetCodec = 'ZSTD' | 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED';

/** An AsyncBuffer over one lake object: hyparquet fetches the footer and column chunks by range. */
export async function lakeAsyncBuffer(io: LakeIO, uri: string, knownSize?: number): Promise<AsyncBuffer> {
  const byteLength = knownSize ?? (await io.size(uri));
  if (byteLength === undefined)
    return { byteLength: 0, slice: () => Promise.reject(new Error(`missing ${uri}`)) };
  // Small files are cheaper to fetch whole than with one range request per column chunk.
  if (byteLength <= 4 * 1024 * 1024) {
    const whole = await io.read(uri);
    const ab = whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.byteLength) as ArrayBuffer;
    return {
      byteLength: ab.byteLength,
      slice: (start: number, end?: number) => ab.slice(start, end ?? ab.byteLength),
    };
  }
  return {
    byteLength,
    slice: async (start: number, end?: number) => {
      const bytes = await io.readRange(uri, start, end ?? byteLength);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

export interface ParquetFileData {
  metadata: FileMetaData;
  /** Top-level column name → Iceberg field id (when the writer recorded ids). */
  fieldIds: Map<string, number>;
  rows: Record<string, unknown>[];
}

export async function readParquetMetadata(file: AsyncBuffer): Promise<FileMetaData> {
  return parquetMetadataAsync(file, { parsers: MICROS_PARSERS });
}

/** Top-level columns of a Parquet file with their field ids (schema[0] is the root). */
export function topLevelColumns(metadata: FileMetaData): { name: string; fieldId: number | undefined }[] {
  const out: { name: string; fieldId: number | undefined }[] = [];
  const schema = metadata.schema;
  let i = 1;
  const skip = (idx: number): number => {
    const el = schema[idx]!;
    let next = idx + 1;
    for (let c = 0; c < (el.num_children ?? 0); c++) next = skip(next);
    return next;
  };
  const rootChildren = schema[0]?.num_children ?? 0;
  for (let c = 0; c < rootChildren && i < schema.length; c++) {
    const el = schema[i]!;
    out.push({ name: el.name, fieldId: el.field_id });
    i = skip(i);
  }
  return out;
}

/** Reads whole rows (objects) of a Parquet file; timestamps come back as epoch µs numbers. */
export async function readParquetRows(
  file: AsyncBuffer,
  columns?: string[],
  metadata?: FileMetaData,
): Promise<ParquetFileData> {
  const md = metadata ?? (await readParquetMetadata(file));
  const fieldIds = new Map<string, number>();
  for (const c of topLevelColumns(md)) if (c.fieldId !== undefined) fieldIds.set(c.name, c.fieldId);
  const rows =
    Number(md.num_rows) === 0
      ? []
      : ((await parquetReadObjects({
          file,
          metadata: md,
          ...(columns ? { columns } : {}),
          compressors: decompressors,
          parsers: MICROS_PARSERS,
        })) as Record<string, unknown>[]);
  return { metadata: md, fieldIds, rows };
}

// ---------------------------------------------------------------------------------------------
// Writing

const compressors = {
  GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)),
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdCompressSync(input)),
};

function leafElement(name: string, t: LakeType, fieldId: number): SchemaElement[] {
  const base = { name, repetition_type: 'OPTIONAL' as const, field_id: fieldId };
  switch (t.kind) {
    case 'long':
      return [{ ...base, type: 'INT64' }];
    case 'int':
      return [{ ...base, type: 'INT32' }];
    case 'string':
      return [{ ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } }];
    case 'boolean':
      return [{ ...base, type: 'BOOLEAN' }];
    case 'timestamptz':
      return [
        {
          ...base,
          type: 'INT64',
          converted_type: 'TIMESTAMP_MICROS',
          logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
        },
      ];
    case 'decimal':
      return [
        {
          ...base,
          type: 'INT64',
          converted_type: 'DECIMAL',
          scale: t.scale,
          precision: t.precision,
          logical_type: { type: 'DECIMAL', scale: t.scale, precision: t.precision },
        },
      ];
    case 'list': {
      // The standard 3-level list: <name> (LIST) → list (repeated) → element (struct).
      const fields = t.element.fields.flatMap((f) => leafElement(f.name, f.type, f.id));
      return [
        { ...base, converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        {
          name: 'element',
          repetition_type: 'OPTIONAL',
          field_id: t.elementId,
          num_children: t.element.fields.length,
        },
        ...fields,
      ];
    }
  }
}

export function parquetSchemaOf(fields: LakeField[]): SchemaElement[] {
  return [
    { name: 'schema', num_children: fields.length },
    ...fields.flatMap((f) => leafElement(f.name, f.type, f.id)),
  ];
}

/**
 * Encodes rows (physical values, see changes.ts `changeToLakeRow`) as one Parquet file with
 * Iceberg field ids, so pyiceberg, ClickHouse and our reader resolve columns by id.
 */
export function writeParquetBuffer(
  schema: LakeTableSchema,
  rows: Record<string, unknown>[],
  opts: { codec?: ParquetCodec; kvMetadata?: { key: string; value: string }[]; fields?: LakeField[] } = {},
): Uint8Array {
  const fields = opts.fields ?? schema.fields;
  const columnData = fields.map((f) => ({ name: f.name, data: rows.map((r) => r[f.name] ?? null) }));
  const buf = parquetWriteBuffer({
    columnData,
    schema: parquetSchemaOf(fields) as never,
    codec: opts.codec ?? 'ZSTD',
    compressors,
    rowGroupSize: 100_000,
    ...(opts.kvMetadata ? { kvMetadata: opts.kvMetadata } : {}),
    createdBy: 'shopdata (hyparquet-writer)',
  });
  return new Uint8Array(buf);
}
