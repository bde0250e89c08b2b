import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { readChangelog } from '../../../src/lib/lake/index.js';
import { LAKE_SCHEMAS, icebergSchemaOf, type LakeType } from '../../../src/lib/lake/schema.js';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { SOURCE_TABLES, type SourceTable } from '../../../src/lib/vault/types.js';
import { stack, REPO_ROOT } from '../../helpers/stack.js';
import { sampleChanges, onDay, DAY1 } from '../../fixtures/lake/changes.js';
import { pyTool, s3Lake, expectedRow, sortRows, repoTmpDir, removeTmpDirs } from './helpers.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
const changes = sampleChanges(12, 11);

function chType(t: LakeType): string {
  switch (t.kind) {
    case 'long':
      return 'Nullable(Int64)';
    case 'int':
      return 'Nullable(Int32)';
    case 'string':
      return 'Nullable(String)';
    case 'boolean':
      return 'Nullable(Bool)';
    case 'timestamptz':
      return "Nullable(DateTime64(6, 'UTC'))";
    case 'decimal':
      return `Nullable(Decimal(${t.precision}, ${t.scale}))`;
    case 'list':
      return 'Array(Tuple(product_id Int64, qty Int32, unit_price Decimal(12, 2)))';
  }
}
function rawType(t: LakeType): string {
  if (t.kind === 'timestamptz') return 'Nullable(Int64)';
  if (t.kind === 'decimal') return 'Nullable(String)';
  if (t.kind === 'list') return 'Array(Tuple(product_id Int64, qty Int32, unit_price String))';
  return chType(t);
}
function convert(name: string, t: LakeType): string {
  if (t.kind === 'timestamptz') return `fromUnixTimestamp64Micro(${name}, 'UTC')`;
  if (t.kind === 'list')
    return `CAST(arrayMap(x -> (x.1, x.2, toDecimal64(x.3, 2)), ${name}) AS ${chType(t)})`;
  return `CAST(${name} AS ${chType(t)})`;
}

let wh: Warehouse;
const ios: LakeIO[] = [];
beforeAll(async () => {
  wh = await openWarehouse(`chdb:${repoTmpDir('chdb')}`);
});
afterAll(async () => {
  await wh?.close();
  ios.forEach((io) => io.close());
  removeTmpDirs();
});

/** Writes a table's changes as one Parquet file with chDB (ClickHouse 26) and the given codec. */
async function chdbWrite(path: string, table: SourceTable, codec: string): Promise<void> {
  const fields = LAKE_SCHEMAS[table].fields;
  const structure = fields.map((f) => `${f.name} ${rawType(f.type)}`).join(', ');
  const json = changes[table]
    .map((c) => JSON.stringify(expectedRow(c), (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)))
    .join('\n');
  const rel = relative(process.cwd(), path);
  await wh.exec(
    `INSERT INTO FUNCTION file('${rel}', 'Parquet') SELECT ${fields.map((f) => `${convert(f.name, f.type)} AS ${f.name}`).join(', ')} ` +
      `FROM format(JSONEachRow, '${structure}', $$${json}$$)`,
    { output_format_parquet_compression_method: codec, engine_file_truncate_on_insert: 1 },
  );
}

describe('Parquet files written by ClickHouse 26 (chDB) and pyarrow load exactly', () => {
  for (const codec of ['zstd', 'snappy', 'gzip']) {
    it(`chDB ${codec}, every table, from S3`, async () => {
      const dir = repoTmpDir(`pq_${codec}`);
      const io = openLake(s3Lake(`pq_${codec}`), { s3Endpoint: stack.s3Endpoint });
      ios.push(io);
      for (const table of SOURCE_TABLES) {
        const local = `${dir}/${table}.parquet`;
        await chdbWrite(local, table, codec);
        const bytes = readFileSync(local);
        // All rows of the fixture in the DAY1 folder (rows of other days must be filtered out).
        await io.write(io.url('parquet', table, `dt=${DAY1}`, `${codec}.parquet`), bytes);
        const got = await readChangelog(io, table, { format: 'parquet', from: DAY1, to: DAY1 });
        expect(sortRows(got.map(expectedRow)), table).toEqual(
          sortRows(onDay(changes[table], DAY1).map(expectedRow)),
        );
      }
    });
  }

  for (const codec of ['snappy', 'zstd', 'gzip']) {
    it(`pyarrow ${codec} (no field ids), local lake`, async () => {
      const lakeDir = repoTmpDir(`pa_${codec}`);
      const io = openLake(lakeDir);
      for (const table of ['purchases', 'products', 'users'] as const) {
        const path = io.url('parquet', table, `dt=${DAY1}`, 'part-0.parquet');
        await io.write(path, new Uint8Array(0));
        await pyTool('parquet', {
          path,
          schema: icebergSchemaOf(LAKE_SCHEMAS[table]),
          rows: onDay(changes[table], DAY1).map(expectedRow),
          compression: codec,
        });
        const got = await readChangelog(io, table, { format: 'auto', from: DAY1, to: DAY1 });
        expect(sortRows(got.map(expectedRow)), table).toEqual(
          sortRows(onDay(changes[table], DAY1).map(expectedRow)),
        );
      }
    });
  }
});

describe('ClickHouse 26 reads our Iceberg tables', () => {
  it('icebergLocal sees the rows our reader sees (after position and equality deletes)', async () => {
    const { writeChangelog, lakeTableUri } = await import('../../../src/lib/lake/index.js');
    const { icebergDeletePositions, icebergDeleteEquality } =
      await import('../../../src/lib/lake/iceberg/writer.js');
    const dir = repoTmpDir('ice_ch');
    const io = openLake(dir);
    const cs = changes.ratings;
    const w = await writeChangelog(io, 'ratings', cs, { format: 'iceberg' });
    const uri = lakeTableUri(io, 'iceberg', 'ratings');
    const f = w.files.find((x) => x.day === DAY1)!;
    await icebergDeletePositions(io, uri, LAKE_SCHEMAS.ratings, [
      { dataFile: f.uri, day: DAY1, positions: [1] },
    ]);
    const victim = onDay(cs, DAY1)[3]!;
    await icebergDeleteEquality(io, uri, LAKE_SCHEMAS.ratings, DAY1, ['_id'], [{ _id: victim.row._id }]);
    const ours = await readChangelog(io, 'ratings', { format: 'iceberg', from: DAY1, to: '2026-11-30' });
    expect(ours).toHaveLength(cs.length - 2);
    const rel = relative(process.cwd(), uri);
    const ch = await wh.query<{ _id: string; stars: number | null; ts_us: string }>(
      `SELECT _id, stars, toString(toUnixTimestamp64Micro(__ts)) AS ts_us FROM icebergLocal('${rel}') ORDER BY _id, ts_us`,
    );
    const expected = ours.map((c) => ({ _id: c.row._id, stars: c.row.stars, ts_us: String(c.commitTsUs) }));
    expect(sortRows(ch)).toEqual(sortRows(expected));
  });
});

void REPO_ROOT;
