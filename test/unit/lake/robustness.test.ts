import { describe, it, expect } from 'vitest';
import {
  mkdtempSync,
  readFileSync,
  writeFileSync,
  truncateSync,
  symlinkSync,
  cpSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog, readChangelog, lakeTableUri } from '../../../src/lib/lake/index.js';
import {
  loadTableMetadata,
  parseJsonExact,
  stringifyJsonExact,
  type TableMetadata,
} from '../../../src/lib/lake/iceberg/metadata.js';
import { encodeAvro } from '../../../src/lib/lake/iceberg/avro.js';
import {
  manifestEntrySchema,
  manifestFileSchema,
  manifestHeaders,
} from '../../../src/lib/lake/iceberg/manifest.js';
import { writeParquetBuffer } from '../../../src/lib/lake/parquet.js';
import { icebergSchemaOf, LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';
import { changeToLakeRow } from '../../../src/lib/lake/changes.js';
import { DataProblemError, UsageError } from '../../../src/lib/errors/index.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';

const DAY = '2026-11-23';
const T0 = Date.parse(`${DAY}T00:00:00Z`) * 1000;
const H = 3_600_000_000;
const range = { format: 'iceberg' as const, from: DAY, to: DAY };

function rating(id: number, stars: number, ts: number): SourceChange {
  return {
    table: 'ratings',
    op: 'c',
    row: { _id: `r${id}`, user_id: id, product_id: 100 + id, stars, comment: `c${id}`, ts },
    commitTsUs: ts,
  };
}

async function ratingsLake(): Promise<{ io: LakeIO; dir: string; tableUri: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lake-robust-'));
  const io = openLake(dir);
  await writeChangelog(io, 'ratings', [rating(1, 5, T0 + H), rating(2, 4, T0 + 2 * H)], {
    format: 'iceberg',
  });
  return { io, dir, tableUri: lakeTableUri(io, 'iceberg', 'ratings') };
}

/** Rewrites the table's current metadata file in place. */
async function editMetadata(
  io: LakeIO,
  tableUri: string,
  edit: (md: TableMetadata) => void,
): Promise<string> {
  const loaded = (await loadTableMetadata(io, tableUri))!;
  const md = parseJsonExact<TableMetadata>(readFileSync(loaded.uri, 'utf8'));
  edit(md);
  writeFileSync(loaded.uri, stringifyJsonExact(md, 2));
  return loaded.uri;
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('crafted lake metadata: reads stay inside the lake root and are bounded', () => {
  it('refuses a manifest list outside the lake, naming it (exit 1)', async () => {
    const { io, tableUri } = await ratingsLake();
    await editMetadata(io, tableUri, (md) => {
      md.snapshots![0]!['manifest-list'] = '/etc/passwd';
    });
    const err = await failure(readChangelog(io, 'ratings', range));
    expect(err).toBeInstanceOf(DataProblemError);
    expect(err.message).toMatch(/\/etc\/passwd.*outside the lake/);
  });

  it('refuses /dev/zero, also through a symlink inside the lake', async () => {
    const { io, dir, tableUri } = await ratingsLake();
    await editMetadata(io, tableUri, (md) => {
      md.snapshots![0]!['manifest-list'] = 'file:///dev/zero';
    });
    expect((await failure(readChangelog(io, 'ratings', range))).message).toMatch(
      /\/dev\/zero.*outside the lake/,
    );

    const link = join(dir, 'iceberg', 'ratings', 'metadata', 'zero.avro');
    symlinkSync('/dev/zero', link);
    await editMetadata(io, tableUri, (md) => {
      md.snapshots![0]!['manifest-list'] = link;
    });
    const err = await failure(readChangelog(io, 'ratings', range));
    expect(err).toBeInstanceOf(DataProblemError);
    expect(err.message).toContain('zero.avro');
  });

  it('refuses a metadata file beyond the size bound without reading it', async () => {
    const { io, tableUri } = await ratingsLake();
    const big = join(tableUri, 'metadata', 'v9.metadata.json');
    writeFileSync(big, '{');
    truncateSync(big, 200 * 1024 * 1024); // sparse: no disk used, but 200 MB to a reader
    const err = await failure(readChangelog(io, 'ratings', range));
    expect(err).toBeInstanceOf(DataProblemError);
    expect(err.message).toMatch(/v9\.metadata\.json is 209715200 bytes, more than/);
  });

  it('refuses a manifest that is not Avro, naming it', async () => {
    const { io, tableUri } = await ratingsLake();
    const fake = join(tableUri, 'metadata', 'fake-m0.avro');
    writeFileSync(fake, 'not avro at all');
    await editMetadata(io, tableUri, (md) => {
      md.snapshots![0]!['manifest-list'] = fake;
    });
    const err = await failure(readChangelog(io, 'ratings', range));
    expect(err).toBeInstanceOf(DataProblemError);
    expect(err.message).toContain('fake-m0.avro');
  });

  it('a copied lake does not read the original location', async () => {
    const { dir } = await ratingsLake();
    const copy = mkdtempSync(join(tmpdir(), 'lake-copy-'));
    cpSync(dir, copy, { recursive: true });
    const err = await failure(readChangelog(openLake(copy), 'ratings', range));
    expect(err).toBeInstanceOf(DataProblemError);
    expect(err.message).toContain(dir);
    expect(err.message).toMatch(/outside the lake/);
  });
});

describe('corrupt Parquet is a data problem naming the file (exit 1)', () => {
  const cases: [string, (file: string) => void][] = [
    [
      'no PAR1 footer',
      (f) => writeFileSync(f, Buffer.concat([readFileSync(f).subarray(0, -4), Buffer.from('XXXX')])),
    ],
    ['truncated', (f) => truncateSync(f, Math.floor(statSync(f).size / 2))],
    [
      'footer length beyond the file',
      (f) => {
        const b = readFileSync(f);
        b.writeUInt32LE(0x7fffffff, b.length - 8);
        writeFileSync(f, b);
      },
    ],
    [
      'garbled footer',
      (f) => {
        const b = readFileSync(f);
        const len = b.readUInt32LE(b.length - 8);
        b.fill(0xff, b.length - 8 - len, b.length - 8);
        writeFileSync(f, b);
      },
    ],
    [
      'garbled pages',
      (f) => {
        const b = readFileSync(f);
        b.fill(0x5a, 4, Math.floor(b.length / 2));
        writeFileSync(f, b);
      },
    ],
  ];
  for (const [name, damage] of cases) {
    it(name, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lake-corrupt-'));
      const io = openLake(dir);
      const w = await writeChangelog(io, 'ratings', [rating(1, 5, T0 + H), rating(2, 4, T0 + 2 * H)], {
        format: 'iceberg',
      });
      const file = w.files[0]!.uri;
      damage(file);
      const err = await failure(readChangelog(io, 'ratings', range));
      expect(err, err.stack).toBeInstanceOf(DataProblemError);
      expect(err.message).toContain(file);
    });
  }
});

describe('unsupported Iceberg features are refused with exit 2, naming the table and the feature', () => {
  it('v1 metadata without schemas (reading)', async () => {
    const { io, tableUri } = await ratingsLake();
    await editMetadata(io, tableUri, (md) => {
      md['format-version'] = 1;
      md.schema = md.schemas[0];
      delete (md as Partial<TableMetadata>).schemas;
    });
    const err = await failure(readChangelog(io, 'ratings', range));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain(tableUri);
    expect(err.message).toMatch(/format-version 1 metadata without "schemas"/);
  });

  it('appending to a v1 table', async () => {
    const { io, tableUri } = await ratingsLake();
    await editMetadata(io, tableUri, (md) => {
      md['format-version'] = 1;
    });
    const before = readFileSync((await loadTableMetadata(io, tableUri))!.uri, 'utf8');
    const err = await failure(
      writeChangelog(io, 'ratings', [rating(3, 1, T0 + 3 * H)], { format: 'iceberg' }),
    );
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain(tableUri);
    expect(err.message).toMatch(/appending to a format-version 1 table/);
    const after = await loadTableMetadata(io, tableUri);
    expect(readFileSync(after!.uri, 'utf8')).toBe(before);
  });

  it('a partition spec with more fields than day(__ts), reading and appending', async () => {
    const { io, tableUri } = await ratingsLake();
    await editMetadata(io, tableUri, (md) => {
      md['partition-specs'][0]!.fields.push({
        'source-id': 4,
        'field-id': 1001,
        name: 'stars',
        transform: 'identity',
      });
    });
    const read = await failure(readChangelog(io, 'ratings', range));
    expect(read).toBeInstanceOf(UsageError);
    expect(read.message).toMatch(/partition spec with 2 fields/);
    expect(read.message).toContain(tableUri);
    const write = await failure(
      writeChangelog(io, 'ratings', [rating(3, 1, T0 + 3 * H)], { format: 'iceberg' }),
    );
    expect(write).toBeInstanceOf(UsageError);
    expect(write.message).toMatch(/partition spec/);
  });
});

describe('equality deletes apply within the whole partition tuple', () => {
  it('identity(stars): a delete in stars=5 leaves the same key in stars=4 alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lake-eqscope-'));
    const io = openLake(dir);
    const loc = join(dir, 'iceberg', 'ratings');
    const schema = LAKE_SCHEMAS.ratings;
    const stars = schema.fields.find((f) => f.name === 'stars')!;
    const spec = {
      'spec-id': 0,
      fields: [{ 'source-id': stars.id, 'field-id': 1000, name: 'stars', transform: 'identity' }],
    };
    const ice = icebergSchemaOf(schema);
    // The same _id in two partitions (a user re-rated: the row moved partitions).
    const five = changeToLakeRow(rating(1, 5, T0 + H));
    const four = changeToLakeRow({ ...rating(1, 4, T0 + 2 * H) });
    const entries: object[] = [];
    const add = async (
      name: string,
      rows: Record<string, unknown>[],
      starsValue: number,
      seq: number,
      content: 0 | 2,
    ) => {
      const fields = content === 2 ? schema.fields.filter((f) => f.name === '_id') : schema.fields;
      const bytes = writeParquetBuffer(schema, rows, { fields });
      const path = join(loc, 'data', name);
      await io.write(path, bytes);
      entries.push({
        status: 1,
        snapshot_id: 1,
        sequence_number: seq,
        file_sequence_number: seq,
        data_file: {
          content,
          file_path: path,
          file_format: 'PARQUET',
          partition: { stars: starsValue },
          record_count: rows.length,
          file_size_in_bytes: bytes.byteLength,
          value_counts: null,
          null_value_counts: null,
          lower_bounds: null,
          upper_bounds: null,
          key_metadata: null,
          split_offsets: null,
          equality_ids: content === 2 ? [schema.fields.find((f) => f.name === '_id')!.id] : null,
          sort_order_id: null,
        },
      });
    };
    await add('five.parquet', [five], 5, 1, 0);
    await add('four.parquet', [four], 4, 1, 0);
    await add('del-five.parquet', [{ _id: 'r1' }], 5, 2, 2);
    const manifest = join(loc, 'metadata', 'm.avro');
    await io.write(
      manifest,
      await encodeAvro(manifestEntrySchema(spec), entries, manifestHeaders(ice, spec, 'data')),
    );
    const list = join(loc, 'metadata', 'snap-1.avro');
    await io.write(
      list,
      await encodeAvro(
        manifestFileSchema(),
        [
          {
            manifest_path: manifest,
            manifest_length: 1,
            partition_spec_id: 0,
            content: 0,
            sequence_number: 2,
            min_sequence_number: 1,
            added_snapshot_id: 1,
            added_files_count: 3,
            existing_files_count: 0,
            deleted_files_count: 0,
            added_rows_count: 3,
            existing_rows_count: 0,
            deleted_rows_count: 0,
            partitions: null,
            key_metadata: null,
          },
        ],
        {},
      ),
    );
    const md: TableMetadata = {
      'format-version': 2,
      'table-uuid': '00000000-0000-0000-0000-000000000001',
      location: loc,
      'last-sequence-number': 2,
      'last-updated-ms': 1,
      'last-column-id': 20,
      'current-schema-id': 0,
      schemas: [ice],
      'default-spec-id': 0,
      'partition-specs': [spec],
      'last-partition-id': 1000,
      'current-snapshot-id': 1,
      snapshots: [
        {
          'snapshot-id': 1,
          'sequence-number': 2,
          'timestamp-ms': 1,
          'manifest-list': list,
          summary: { operation: 'overwrite' },
        },
      ],
    };
    await io.write(join(loc, 'metadata', 'v1.metadata.json'), stringifyJsonExact(md));
    const rows = await readChangelog(io, 'ratings', range);
    expect(rows.map((c) => `${c.row._id}:${c.row.stars}`)).toEqual(['r1:4']);
  });
});
