import { describe, it, expect } from 'vitest';
import { dayRange, parseDay, partitionId } from '../../../src/lib/backfill/dates.js';
import { UsageError } from '../../../src/lib/errors/index.js';
import { recordSourcesOf, carryOverSql, SATELLITES } from '../../../src/lib/backfill/vaultsql.js';
import { targetInserts, srcTableSql, lakeSource } from '../../../src/lib/backfill/pull.js';
import { vaultTable, testDatabases } from '../../../src/lib/vault/tables.js';
import { dialectFor } from '../../../src/lib/warehouse/dialect.js';
import { parseVersion } from '../../../src/lib/warehouse/types.js';
import { openLake } from '../../../src/lib/lake/io.js';
import type { IcebergScanPlan } from '../../../src/lib/lake/iceberg/reader.js';
import { icebergSchemaOf, LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';

const dbs = testDatabases('unit');

describe('dates', () => {
  it('accepts calendar days and ranges, rejects the rest with exit 2', () => {
    expect(parseDay('2026-11-24')).toBe('2026-11-24');
    expect(dayRange('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(partitionId('2026-11-24')).toBe(20261124);
    for (const bad of ['2026-02-30', '24.11.2026', '2026-1-1', '']) {
      expect(() => parseDay(bad)).toThrow(UsageError);
    }
    expect(() => dayRange('2026-11-24', '2026-11-01')).toThrow(/before --date/);
    let caught: unknown;
    try {
      parseDay('nope');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
  });
});

describe('vault SQL of the backfill', () => {
  it('knows which record sources feed each satellite and keeps only streamed rows past the high-water mark', () => {
    expect(
      recordSourcesOf(vaultTable('sat_order'))
        .map((r) => r.source)
        .sort(),
    ).toEqual(['cancellations', 'purchases']);
    expect(
      recordSourcesOf(vaultTable('hub_user'))
        .map((r) => r.source)
        .sort(),
    ).toEqual(['auth_credentials', 'cancellations', 'purchases', 'ratings', 'users']);
    const sql = carryOverSql(dbs, vaultTable('sat_order'), 20261124, new Map([['purchases', 123]]))!;
    expect(sql).toContain(`record_source = 'shop_events.purchases' AND effective_us > 123`);
    expect(sql).toContain(`record_source = 'shop_events.cancellations' AND effective_us > 0`);
    expect(sql).toContain('toYYYYMMDD(effective_ts) = 20261124');
    expect(SATELLITES.every((t) => t.partitionBy === 'toYYYYMMDD(effective_ts)')).toBe(true);
  });
});

describe('pull SQL generated from the model', () => {
  const ctx = {
    dbs,
    dialect: dialectFor(parseVersion('26.7.2')),
    saltSql: '(SELECT any(salt) FROM ops_unit.backfill_20261124_key)',
    loadSec: 1_800_000_000,
  };
  it('explodes purchase items and writes every target of the feed', () => {
    const sqls = targetInserts('purchases', 20261124, ctx);
    const targets = sqls.map((s) => /INSERT INTO \S+\.backfill_20261124_(\w+)/.exec(s)![1]);
    expect(targets).toEqual([
      'hub_order',
      'hub_user',
      'link_order_user',
      'sat_order',
      'hub_product',
      'link_order_line',
      'sat_order_line',
    ]);
    expect(sqls[6]).toContain('ARRAY JOIN items AS it_, arrayEnumerate(items) AS item_no_');
    expect(sqls[3]).toContain('toDecimalString');
  });
  it('pins the planned snapshot and reads S3 through the configured endpoint', () => {
    const io = openLake('s3://bucket/pre');
    const plan = {
      format: 'iceberg',
      tableUri: 's3://bucket/pre/iceberg/users',
      snapshotId: '42',
      schema: icebergSchemaOf(LAKE_SCHEMAS.users),
      dataFiles: [],
      deleteFiles: [],
    } as unknown as IcebergScanPlan;
    // No credentials in the SQL: the engine's own, or a named collection on the server.
    const src = lakeSource(io, plan, { ...ctx, s3: { endpoint: 'http://s3:9000' } });
    expect(src.from).toBe("icebergS3('http://s3:9000/bucket/pre/iceberg/users/')");
    expect(src.settings).toEqual({ iceberg_snapshot_id: '42' });
    const cluster = lakeSource(io, plan, {
      ...ctx,
      cluster: 'c1',
      s3: { endpoint: 'http://s3:9000', namedCollection: 'lake' },
    });
    expect(cluster.from).toBe(
      "icebergS3Cluster('c1', `lake`, url = 'http://s3:9000/bucket/pre/iceberg/users/')",
    );
    const sql = srcTableSql('users', 20261124, '2026-11-24', '2026-11-25', src, ctx);
    expect(sql.insert).toContain("__ts >= toDateTime64('2026-11-24 00:00:00', 6, 'UTC')");
    expect(sql.insert).toContain('toUnixTimestamp64Micro(assumeNotNull(__ts)) AS ts_us_');
    // A table of the Iceberg sink has __ts_us: the exact commit time wins where it is set.
    const sinkSchema = icebergSchemaOf(LAKE_SCHEMAS.users);
    sinkSchema.fields.push({ id: 99, name: '__ts_us', required: false, type: 'long' });
    const sinkSrc = lakeSource(
      io,
      { ...plan, schema: sinkSchema },
      { ...ctx, s3: { endpoint: 'http://s3:9000' } },
    );
    expect(srcTableSql('users', 20261124, '2026-11-24', '2026-11-25', sinkSrc, ctx).insert).toContain(
      'ifNull(__ts_us, toUnixTimestamp64Micro(assumeNotNull(__ts))) AS ts_us_',
    );
    io.close();
  });
});
