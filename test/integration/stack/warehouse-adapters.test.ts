import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { DependencyUnavailableError } from '../../../src/lib/errors/index.js';
import { WarehouseQueryError } from '../../../src/lib/warehouse/errors.js';
import { stack, uniqueName } from '../../helpers/stack.js';

// The project's own warehouse adapters against both engines: the ClickHouse 18.16 server over
// HTTP and chDB 26 embedded.
// chDB holds one data directory per process: one for this file.
const chdbUrl = `chdb:${mkdtempSync(join(tmpdir(), 'shopdata-chdb-'))}`;
const engines: Array<[string, () => string]> = [
  ['clickhouse 18.16 (HTTP)', () => stack.clickhouseUrl],
  ['chDB (embedded)', () => chdbUrl],
];

describe.each(engines)('warehouse adapter on %s', (_name, url) => {
  const opened: Warehouse[] = [];
  afterAll(async () => {
    for (const w of opened) await w.close();
  });

  it('reports its version, creates, inserts and reads back rows', async () => {
    const wh = await openWarehouse(url());
    opened.push(wh);
    const v = await wh.version();
    expect(v.major).toBeGreaterThanOrEqual(18);
    const db = uniqueName('smoke');
    await wh.exec(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await wh.exec(
      `CREATE TABLE ${db}.t (id UInt64, name String, price Decimal(18,2)) ENGINE = MergeTree ORDER BY id`,
    );
    await wh.insert(`${db}.t`, [
      // Decimals as JSON numbers: 18.16 rejects quoted decimals in JSONEachRow.
      { id: 1, name: 'a', price: 12.5 },
      { id: 2, name: 'b', price: 0.1 },
    ]);
    // Both engines: UInt64 quoted, decimals as JSON numbers (toString(Decimal) differs: 26 drops trailing zeros).
    const rows = await wh.query<{ id: string; name: string; price: number }>(
      `SELECT id, name, price FROM ${db}.t ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: '1', name: 'a', price: 12.5 },
      { id: '2', name: 'b', price: 0.1 },
    ]);
    await wh.exec(`DROP DATABASE ${db}`);
  });

  it('turns a rejected statement into a WarehouseQueryError naming the problem', async () => {
    const wh = await openWarehouse(url());
    opened.push(wh);
    await expect(wh.query('SELECT * FROM no_such_db.no_such_table')).rejects.toBeInstanceOf(
      WarehouseQueryError,
    );
  });
});

describe('chDB adapter', () => {
  const opened: Warehouse[] = [];
  afterAll(async () => {
    for (const w of opened) await w.close();
  });

  it('shares one session per chDB path and refuses a second path in the same process', async () => {
    const a = await openWarehouse(chdbUrl);
    const b = await openWarehouse(chdbUrl);
    opened.push(a, b);
    expect(await b.query('SELECT 1 AS x')).toEqual([{ x: 1 }]);
    await expect(openWarehouse(`chdb:${mkdtempSync(join(tmpdir(), 'shopdata-chdb-'))}`)).rejects.toThrow(
      /one data directory per process/,
    );
  });
});

describe('unreachable ClickHouse', () => {
  it('fails with DependencyUnavailableError (exit 3) after bounded retries', async () => {
    const t = Date.now();
    const err = await openWarehouse('http://default:@127.0.0.1:1', { retries: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as DependencyUnavailableError).exitCode).toBe(3);
    expect(Date.now() - t).toBeLessThan(10_000);
  });
});
