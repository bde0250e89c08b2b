import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLake } from '../../../src/lib/lake/io.js';
import {
  writeParquetBuffer,
  readParquetRows,
  lakeAsyncBuffer,
  type ParquetCodec,
} from '../../../src/lib/lake/parquet.js';
import { LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';
import { changeToLakeRow, lakeRowToChange, LakeRowError } from '../../../src/lib/lake/changes.js';
import { formatDecimal, unscaledAt } from '../../../src/lib/values/index.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';

const purchase: SourceChange = {
  table: 'purchases',
  op: 'c',
  row: {
    _id: '65a1b2c3d4e5f60718293a4b',
    order_id: 'o-1',
    user_id: 42,
    items: [
      { product_id: 7, qty: 2, unit_price: '12.50' },
      { product_id: 9007199254740993n, qty: 1, unit_price: '99999999.99' },
    ],
    ts: 1_764_000_000_123_456,
  },
  commitTsUs: 1_764_000_000_123_457,
};
const productDelete: SourceChange = {
  table: 'products',
  op: 'd',
  row: {
    id: 5,
    seller_id: null,
    sku: null,
    name: null,
    category: null,
    price: null,
    active: null,
    created_at: null,
    updated_at: null,
  },
  commitTsUs: 1_764_000_001_000_000,
};
const product: SourceChange = {
  table: 'products',
  op: 'u',
  row: {
    id: 6,
    seller_id: 1,
    sku: 'SKU-6',
    name: 'Müsli 🥣',
    category: 'food',
    price: '-0.05',
    active: false,
    created_at: 1,
    updated_at: 1_764_000_000_000_001,
  },
  commitTsUs: 1_764_000_002_000_000,
};

describe('decimal strings', () => {
  it('formats and parses exactly, and refuses to round', () => {
    expect(formatDecimal(1250n, 2)).toBe('12.50');
    expect(formatDecimal(-5n, 2)).toBe('-0.05');
    expect(formatDecimal(7n, 0)).toBe('7');
    expect(unscaledAt('12.5', 2)).toBe(1250n);
    expect(unscaledAt('1e3', 2)).toBe(100000n);
    expect(unscaledAt('-3', 2)).toBe(-300n);
    // the lake path used to round 0.005 to 0.01; the one rule is to reject (issue 17)
    expect(() => unscaledAt('0.005', 2)).toThrow(/more than 2 decimal places/);
  });

  it('rejects a lake row whose decimal has more digits than the column, naming the column, not the value', () => {
    const row = { ...changeToLakeRow(productDelete), __op: 'u', __deleted: false, price: 19.995 };
    let err: unknown;
    try {
      lakeRowToChange('products', row);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LakeRowError);
    expect((err as Error).message).toBe('products.price: has more than 2 decimal places.');
    expect(lakeRowToChange('products', { ...row, price: 19.99 }).row.price).toBe('19.99');
    expect(lakeRowToChange('products', { ...row, price: '19.990' }).row.price).toBe('19.99');
    expect(lakeRowToChange('products', { ...row, price: -0 }).row.price).toBe('0.00');
  });
});

describe('commit time', () => {
  it('takes the microseconds of __ts_us where the sink wrote them, else __ts', () => {
    // The Iceberg sink's __ts holds milliseconds; __ts_us keeps what the stream orders versions by.
    const row = { ...changeToLakeRow(productDelete), __ts: 1_764_000_002_000_000n };
    expect(lakeRowToChange('products', row).commitTsUs).toBe(1_764_000_002_000_000);
    expect(lakeRowToChange('products', { ...row, __ts_us: 1_764_000_002_000_789n }).commitTsUs).toBe(
      1_764_000_002_000_789,
    );
    expect(lakeRowToChange('products', { ...row, __ts_us: null }).commitTsUs).toBe(1_764_000_002_000_000);
    expect(() => lakeRowToChange('products', { ...row, __ts_us: 1.5 })).toThrow(LakeRowError);
  });
});

describe('parquet round trip', () => {
  for (const codec of ['ZSTD', 'SNAPPY', 'GZIP', 'UNCOMPRESSED'] as ParquetCodec[]) {
    it(`writes and reads ${codec} with exact decimals, µs timestamps and nested items`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lake-pq-'));
      const io = openLake(dir);
      const bytes = writeParquetBuffer(LAKE_SCHEMAS.purchases, [changeToLakeRow(purchase)], { codec });
      const uri = io.url('p.parquet');
      await io.write(uri, bytes);
      const { rows, fieldIds } = await readParquetRows(await lakeAsyncBuffer(io, uri));
      expect(fieldIds.get('_id')).toBe(1);
      expect(rows).toHaveLength(1);
      expect(lakeRowToChange('purchases', rows[0]!)).toEqual(purchase);
    });
  }
  it('keeps delete before-images and nulls', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lake-pq-'));
    const io = openLake(dir);
    const uri = io.url('x/y.parquet');
    await io.write(
      uri,
      writeParquetBuffer(LAKE_SCHEMAS.products, [productDelete, product].map(changeToLakeRow)),
    );
    const { rows } = await readParquetRows(await lakeAsyncBuffer(io, uri));
    expect(rows.map((r) => lakeRowToChange('products', r))).toEqual([productDelete, product]);
  });
});
