import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mapChanges } from '../../../src/lib/vault/mapping.js';
import { encodeRowBinary, rowBinaryColumns, RowValueError } from '../../../src/lib/vault/rowbinary.js';
import { VAULT_TABLES, vaultTable } from '../../../src/lib/vault/tables.js';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { testDatabases } from '../../../src/lib/vault/tables.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { makeChanges } from '../stream/support.js';

// The stream and the push backfill hand rows to ClickHouse as RowBinary (Warehouse.insertEncoded)
// instead of JSONEachRow. On the stack's ClickHouse 18.16 and on embedded chDB, the same mapped
// rows inserted both ways must give identical tables, every column compared (load_ts included).
// RowBinary has no text for the server to refuse, so the encoder itself refuses a value outside
// its column type, naming the column and never the value.

const rows = mapChanges(makeChanges(3000, 7), {
  piiSalt: 'c03ed6f8e21d11d54eefb62c80fd86ae3f4faaa1260a867f34b2586e2158211b',
  loadTs: new Date(1_764_000_000_000),
});
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function compareBothWays(wh: Warehouse): Promise<void> {
  const viaJson = testDatabases(uniqueName('encj'));
  const viaBinary = testDatabases(uniqueName('encb'));
  try {
    await migrate(wh, { dbs: viaJson });
    await migrate(wh, { dbs: viaBinary });
    for (const t of VAULT_TABLES) {
      const list = rows.get(t.name) ?? [];
      expect(list.length, t.name).toBeGreaterThan(0);
      await wh.insert(`${viaJson.vault}.${t.name}`, list);
      await wh.insertEncoded!(
        `${viaBinary.vault}.${t.name}`,
        rowBinaryColumns(t),
        'RowBinary',
        encodeRowBinary(t, list),
      );
    }
    for (const t of VAULT_TABLES) {
      const cols = t.columns.map((c) => `toString(${c.name})`).join(', ');
      const read = async (db: string) =>
        (
          await wh.query<{ r: string }>(
            `SELECT concat(${cols.split(', ').join(", '|', ")}) AS r FROM ${db}.${t.name} ORDER BY r`,
          )
        ).map((x) => x.r);
      const a = await read(viaJson.vault);
      expect(a.length, t.name).toBe(rows.get(t.name)!.length);
      expect(await read(viaBinary.vault), t.name).toEqual(a);
    }
  } finally {
    for (const dbs of [viaJson, viaBinary])
      for (const db of [dbs.mart, dbs.vault, dbs.ops]) await wh.exec(`DROP DATABASE IF EXISTS ${db}`);
  }
}

describe('RowBinary inserts', () => {
  it('give the same tables as JSONEachRow on ClickHouse 18.16', async () => {
    const wh = await openWarehouse(stack.clickhouseUrl, { retries: 2 });
    try {
      await compareBothWays(wh);
    } finally {
      await wh.close();
    }
  });

  it('give the same tables as JSONEachRow on chDB', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-encoded-'));
    dirs.push(dir);
    const wh = await openWarehouse(`chdb:${dir}`);
    try {
      await compareBothWays(wh);
    } finally {
      await wh.close();
    }
  });

  it('refuse a value outside its column type, naming the column but not the value', () => {
    const hub = vaultTable('hub_user');
    const good = rows.get('hub_user')![0]!;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...good, user_id: -5 }, 'user_id', /outside the range of UInt64/],
      [{ ...good, user_id: 1e20 }, 'user_id', /outside the range of UInt64/],
      [{ ...good, user_id: 1.5 }, 'user_id', /not an integer/],
      [{ ...good, load_ts: 2 ** 32 }, 'load_ts', /outside the range of UInt32/],
      [{ ...good, hk_user: 'short' }, 'hk_user', /not 32 ASCII characters/],
      [{ ...good, record_source: null }, 'record_source', /missing/],
    ];
    for (const [row, column, problem] of cases) {
      let err: unknown;
      try {
        encodeRowBinary(hub, [good, row]);
      } catch (e) {
        err = e;
      }
      expect(err, column).toBeInstanceOf(RowValueError);
      expect((err as RowValueError).column).toBe(column);
      expect((err as Error).message).toMatch(problem);
      expect((err as Error).message).not.toMatch(/-5|1e\+?20|short|4294967296/);
      expect((err as { rowIndex?: number }).rowIndex).toBe(1);
    }
    const product = vaultTable('sat_product');
    const p = rows.get('sat_product')![0]!;
    expect(() => encodeRowBinary(product, [{ ...p, price: 1e10 }])).toThrow(/outside Decimal\(12, 2\)/);
    expect(() => encodeRowBinary(product, [{ ...p, price: '12.345' }])).toThrow(/more than 2 decimal places/);
  });
});
