import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../../../src/lib/warehouse/index.js';
import { warehouseDialect } from '../../../src/lib/warehouse/dialect.js';
import databasesMigration from '../../../src/lib/warehouse/migrations/001_databases.js';
import type { Warehouse } from '../../../src/lib/warehouse/types.js';
import { testDatabases } from '../../../src/lib/vault/tables.js';
import { runCli } from '../../helpers/cli.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import type { TopSample } from '../../../src/lib/top/types.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SALT, createVault, dropVault, encodeAll, makeChanges, namespace } from '../stream/support.js';

// `shopdata top` with a ClickHouse server URL reads the stream's loads from ops.loads (the table
// of migration 001, in a database of this test's own) on the stack's ClickHouse 18.16.
describe('shopdata top reads ops.loads', () => {
  const dbs = testDatabases(uniqueName('top').replace(/^top_/, ''));
  let wh: Warehouse;
  const env = {
    SHOPDATA_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    SHOPDATA_CONNECT_URL: '',
    SHOPDATA_LOG_LEVEL: 'warn',
  };

  beforeAll(async () => {
    wh = await openWarehouse(stack.clickhouseUrl);
    await wh.exec(`CREATE DATABASE IF NOT EXISTS ${dbs.ops}`);
    const dialect = await warehouseDialect(wh);
    for (const sql of databasesMigration.statements({ dbs, dialect })) {
      if (sql.includes('.loads')) await wh.exec(sql);
    }
  });
  afterAll(async () => {
    await wh.exec(`DROP DATABASE IF EXISTS ${dbs.ops}`);
    await wh.close();
  });

  it('freshness from the newest loaded commit time, insert rate over the last minute', async () => {
    const now = Math.floor(Date.now() / 1000);
    const row = (agoS: number, rows: number, newestAgoS: number, command = 'stream') => ({
      loaded_at: now - agoS,
      command,
      run_id: 'r1',
      vault_table: 'hub_user',
      record_source: 'shop.public.users',
      rows,
      min_effective_us: (now - newestAgoS - 5) * 1e6,
      max_effective_us: (now - newestAgoS) * 1e6,
    });
    await wh.insert(`${dbs.ops}.loads`, [
      row(300, 5000, 310), // older than a minute: not in the rate
      row(30, 1200, 33),
      row(5, 600, 8),
      row(2, 99_999, 1, 'backfill'), // not the stream
    ]);
    const r = await runCli(
      [
        'top',
        '--once',
        '--json',
        '--group',
        'no-such-group',
        '--clickhouse-url',
        stack.clickhouseUrl,
        '--ops-database',
        dbs.ops,
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const sample = JSON.parse(r.stdout) as TopSample;
    if (!sample.warehouse.ok) throw new Error(sample.warehouse.error);
    expect(sample.warehouse.loadsLastDay).toBe(3);
    expect(sample.warehouse.insertRate).toBeCloseTo(1800 / 60, 5);
    expect(sample.warehouse.freshnessSeconds!).toBeGreaterThanOrEqual(8);
    expect(sample.warehouse.freshnessSeconds!).toBeLessThan(20);
    expect(sample.warehouse.lastLoadAgeSeconds!).toBeGreaterThanOrEqual(5);
    expect(sample.warehouse.lastLoadAgeSeconds!).toBeLessThan(20);
    // The backfill row is not the stream's; it is the last backfill.
    expect(sample.warehouse.lastBackfillAgeSeconds!).toBeGreaterThanOrEqual(2);
    expect(sample.warehouse.lastBackfillAgeSeconds!).toBeLessThan(20);
    expect(sample.warehouse.backfilledThrough).toBe(new Date((now - 1) * 1000).toISOString().slice(0, 10));
  });

  it('the embedded chDB is not opened; a ClickHouse server that is down gets a banner, not a failure', async () => {
    const chdb = await runCli(
      [
        'top',
        '--once',
        '--json',
        '--group',
        'no-such-group',
        '--clickhouse-url',
        'chdb:./.shopdata/warehouse',
      ],
      { env },
    );
    expect(chdb.code, chdb.stderr).toBe(0);
    const a = JSON.parse(chdb.stdout) as TopSample;
    expect(a.warehouse).toMatchObject({ ok: false, configured: false });

    const down = await runCli(
      [
        'top',
        '--once',
        '--json',
        '--group',
        'no-such-group',
        '--clickhouse-url',
        'http://default:pw@127.0.0.1:1',
      ],
      { env },
    );
    expect(down.code, down.stderr).toBe(0);
    const b = JSON.parse(down.stdout) as TopSample;
    expect(b.kafka.ok).toBe(true);
    expect(b.warehouse).toMatchObject({ ok: false, configured: true });
    if (!b.warehouse.ok)
      expect(b.warehouse.error).toMatch(/^ClickHouse unreachable at http:\/\/default:\*\*\*@127\.0\.0\.1:1/);
    expect(down.stdout).not.toContain(':pw@');
  });
});

// The producer and the consumer together: `stream` records its batches in <ops>.loads, and `top`
// reports the stream's freshness from them (no hand-written rows).
describe('stream → ops.loads → top', () => {
  const ns = namespace('toploads');
  const dir = mkdtempSync(join(tmpdir(), 'shopdata-toploads-'));
  const file = join(dir, 'events.jsonl');
  const changes = makeChanges(60, 4);
  let wh: Warehouse;

  beforeAll(async () => {
    wh = await createVault(ns);
    const lines = encodeAll(changes, ns.router, { light: true }).map((m, i) =>
      JSON.stringify({ topic: m.topic, partition: 0, offset: i, key: m.key, value: m.value }),
    );
    writeFileSync(file, lines.join('\n') + '\n');
  });
  afterAll(async () => {
    await dropVault(wh, ns);
    await wh.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('top --once --json reports the freshness and insert rate of what stream just loaded', async () => {
    const stream = await runCli(
      [
        'stream',
        '--from-file',
        file,
        '--until-idle',
        '--clickhouse-url',
        stack.clickhouseUrl,
        '--postgres-topic-prefix',
        ns.router.prefixes.postgres,
        '--mongo-topic-prefix',
        ns.router.prefixes.mongo,
        '--db-suffix',
        ns.suffix,
        '--json',
      ],
      { env: { SHOPDATA_PII_SALT: SALT, SHOPDATA_LOG_LEVEL: 'warn' } },
    );
    expect(stream.code, stream.stderr.slice(-2000)).toBe(0);
    const loaded = JSON.parse(stream.stdout) as { vaultRows: Record<string, number> };
    const rowsLoaded = Object.values(loaded.vaultRows).reduce((a, b) => a + b, 0);
    expect(rowsLoaded).toBeGreaterThan(0);

    const top = await runCli(
      [
        'top',
        '--once',
        '--json',
        '--group',
        'no-such-group',
        '--clickhouse-url',
        stack.clickhouseUrl,
        '--ops-database',
        ns.dbs.ops,
      ],
      { env: { SHOPDATA_KAFKA_BROKERS: stack.kafkaBrokers.join(','), SHOPDATA_LOG_LEVEL: 'warn' } },
    );
    const sampledAt = Date.now() / 1000;
    expect(top.code, top.stderr).toBe(0);
    const sample = JSON.parse(top.stdout) as TopSample;
    if (!sample.warehouse.ok) throw new Error(sample.warehouse.error);
    // Freshness: now minus the newest source commit time the stream loaded.
    const newest = Math.max(...changes.map((c) => c.commitTsUs)) / 1e6;
    expect(sample.warehouse.freshnessSeconds).not.toBeNull();
    expect(Math.abs(sample.warehouse.freshnessSeconds! - (sampledAt - newest))).toBeLessThan(30);
    expect(sample.warehouse.loadsLastDay).toBeGreaterThan(0);
    expect(sample.warehouse.lastLoadAgeSeconds!).toBeLessThan(60);
    // Every vault row the stream reported is in ops.loads, so within the minute's rate.
    expect(sample.warehouse.insertRate * 60).toBe(rowsLoaded);
  });
});
