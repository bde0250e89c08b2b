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
import { READ_LIMITS, type LakeIO } from './io.js';
import { DataProblemError, ShopdataError } from '../errors/index.js';
import { MICROS_PARSERS } from './changes.js';
import type { LakeField, LakeTableSchema, LakeType } from './schema.js';

export type ParquetCodec = 'ZSTD' | 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED';

const SMALL_FILE = 4 * 1024 * 1024;

function corrupt(uri: string, problem: string): DataProblemError {
  return new DataProblemError(`The Parquet file ${uri} is corrupt: ${problem}.`, {
    hint: 'Restore the file from a good copy, or remove it from the table (its snapshot still names it).',
    details: { uri },
  });
}

/**
 * An AsyncBuffer over one lake object: hyparquet fetches the footer and column chunks by range.
 * The footer is validated first (magic bytes, metadata length within the file and within
 * READ_LIMITS), and a file shorter than its manifest says is reported, naming the file.
 */
export async function lakeAsyncBuffer(io: LakeIO, uri: string, knownSize?: number): Promise<AsyncBuffer> {
  const declared = knownSize ?? (await io.size(uri));
  if (declared === undefined) throw corrupt(uri, 'the file does not exist');
  let buffer: AsyncBuffer;
  // Small files are cheaper to fetch whole than with one range request per column chunk.
  if (declared <= SMALL_FILE) {
    const whole = await io.read(uri, { maxBytes: SMALL_FILE });
    const ab = whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.byteLength) as ArrayBuffer;
    buffer = {
      byteLength: ab.byteLength,
      slice: (start: number, end?: number) => ab.slice(start, end ?? ab.byteLength),
    };
  } else {
    buffer = {
      byteLength: declared,
      slice: async (start: number, end?: number) => {
        const want = (end ?? declared) - start;
        const bytes = await io.readRange(uri, start, end ?? declared);
        if (bytes.byteLength < want)
          throw corrupt(uri, `it is shorter than the ${declared} bytes its manifest says`);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      },
    };
  }
  const size = buffer.byteLength;
  if (size < 12) throw corrupt(uri, `it has ${size} bytes, too few for a Parquet file`);
  const tail = new Uint8Array(await buffer.slice(size - 8, size));
  const magic = String.fromCharCode(...tail.subarray(4));
  if (magic !== 'PAR1') throw corrupt(uri, 'it does not end with the Parquet magic bytes PAR1');
  const footer = new DataView(tail.buffer, tail.byteOffset).getUint32(0, true);
  if (footer + 12 > size) throw corrupt(uri, `its footer claims ${footer} bytes, more than the file holds`);
  if (footer > READ_LIMITS.parquetFooter)
    throw corrupt(uri, `its footer claims ${footer} bytes, more than shopdata reads`);
  return buffer;
}

/** Reads a Parquet file of the lake; a file hyparquet cannot decode is a data problem naming it. */
export async function readLakeParquet(
  io: LakeIO,
  uri: string,
  size: number | undefined,
  columns?: string[],
): Promise<ParquetFileData> {
  const buffer = await lakeAsyncBuffer(io, uri, size);
  try {
    return await readParquetRows(buffer, columns);
  } catch (err) {
    if (err instanceof ShopdataError) throw err;
    throw corrupt(uri, (err as Error).message ?? String(err));
  }
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
