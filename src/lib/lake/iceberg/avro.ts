import { inflateRawSync, deflateRawSync, zstdDecompressSync, zstdCompressSync } from 'node:zlib';
import avro from 'avsc';
import { DataProblemError } from '../../errors/index.js';
import { READ_LIMITS, type LakeIO } from '../io.js';

/**
 * Avro object container files (Iceberg manifest lists and manifests) from and to bytes, with avsc.
 * Iceberg's longs (snapshot ids) use all 63 bits, beyond JS numbers: they decode to a `number`
 * when safe and a `bigint` otherwise, and encode from either.
 */
const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const MIN = BigInt(Number.MIN_SAFE_INTEGER);

export const bigLongType = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => {
    const v = buf.readBigInt64LE();
    return v <= MAX && v >= MIN ? Number(v) : v;
  },
  toBuffer: (n: number | bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (x: number | bigint) => x,
  toJSON: (x: number | bigint) => (typeof x === 'bigint' ? Number(x) : x),
  isValid: (x: unknown) => (typeof x === 'number' && Number.isInteger(x)) || typeof x === 'bigint',
  compare: (a: number | bigint, b: number | bigint) =>
    BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0,
});

type Callback = (err: Error | null, out?: Buffer) => void;
const codecs = {
  null: (buf: Buffer, cb: Callback) => cb(null, buf),
  deflate: (buf: Buffer, cb: Callback) => {
    try {
      cb(null, inflateRawSync(buf));
    } catch (err) {
      cb(err as Error);
    }
  },
  zstandard: (buf: Buffer, cb: Callback) => {
    try {
      cb(null, zstdDecompressSync(buf));
    } catch (err) {
      cb(err as Error);
    }
  },
};
const encodeCodecs = {
  null: (buf: Buffer, cb: Callback) => cb(null, buf),
  deflate: (buf: Buffer, cb: Callback) => cb(null, deflateRawSync(buf)),
  zstandard: (buf: Buffer, cb: Callback) => cb(null, zstdCompressSync(buf)),
};

export function avroType(schema: object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: bigLongType }, wrapUnions: 'auto' });
}

export interface AvroFile<T> {
  /** The header's key-value metadata (e.g. Iceberg's `schema`, `partition-spec`), decoded as UTF-8. */
  metadata: Record<string, string>;
  records: T[];
}

export function decodeAvro<T = Record<string, unknown>>(bytes: Uint8Array): Promise<AvroFile<T>> {
  return new Promise((resolve, reject) => {
    const records: T[] = [];
    let metadata: Record<string, string> = {};
    const decoder = new avro.streams.BlockDecoder({
      codecs: codecs as never,
      parseHook: (schema: avro.Schema) => avroType(schema as object),
    });
    decoder.on('metadata', (_type: unknown, _codec: string, header: { meta: Record<string, Buffer> }) => {
      metadata = Object.fromEntries(Object.entries(header.meta).map(([k, v]) => [k, v.toString('utf8')]));
    });
    decoder.on('data', (r: T) => records.push(r));
    decoder.on('error', reject);
    decoder.on('end', () => resolve({ metadata, records }));
    decoder.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}

export function encodeAvro(
  schema: object,
  records: readonly object[],
  metadata: Record<string, string>,
  codec: 'null' | 'deflate' = 'deflate',
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const type = avroType(schema);
    const chunks: Buffer[] = [];
    const encoder = new avro.streams.BlockEncoder(
      type as never,
      {
        codec,
        codecs: encodeCodecs as never,
        metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, 'utf8')])),
      } as never,
    );
    // Write the schema as given, with Iceberg's field-id/element-id attributes (avsc drops field
    // attributes when it re-exports a Type); encoding still uses our bigint-aware type.
    (encoder as unknown as { _schema: object })._schema = schema;
    encoder.on('data', (c: Buffer) => chunks.push(c));
    encoder.on('error', reject);
    encoder.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    for (const r of records) encoder.write(r);
    encoder.end();
  });
}

/**
 * Reads an Avro file of the lake (a manifest list or manifest) within READ_LIMITS; a file that is
 * not Avro, or whose records fail `valid`, is a data problem naming the file (exit 1).
 */
export async function readAvroFile<T>(
  io: LakeIO,
  uri: string,
  what: string,
  valid: (record: unknown) => boolean,
): Promise<AvroFile<T>> {
  const bytes = await io.read(uri, { maxBytes: READ_LIMITS.manifest });
  let file: AvroFile<T>;
  try {
    file = await decodeAvro<T>(bytes);
  } catch (err) {
    throw new DataProblemError(
      `The Iceberg ${what} ${uri} is not a readable Avro file: ${(err as Error).message}`,
      {
        hint: 'The table metadata is damaged or points at the wrong file; restore it from a good copy.',
        details: { uri },
      },
    );
  }
  const bad = file.records.findIndex((r) => !valid(r));
  if (bad >= 0) {
    throw new DataProblemError(`The Iceberg ${what} ${uri} has a malformed record (number ${bad + 1}).`, {
      hint: 'The table metadata is damaged or points at the wrong file; restore it from a good copy.',
      details: { uri },
    });
  }
  return file;
}
