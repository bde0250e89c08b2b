import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate, warehouseStatus } from '../../../src/lib/warehouse/migrations/index.js';
import { tableExists } from '../../../src/lib/warehouse/migrations/migrate.js';
import { schemaDrift } from '../../../src/lib/warehouse/migrations/drift.js';
import { sqlIdent, sqlTable } from '../../../src/lib/warehouse/quote.js';
import { VAULT_TABLES, type VaultDatabases } from '../../../src/lib/vault/tables.js';
import { uniqueName } from '../../helpers/stack.js';
import { ENGINES, openEngine, uniqueDatabases, dropDatabases } from '../vault/engines.js';

// Issue 18 §10: a table named like this in ops made `warehouse status` run the attacker's SQL.
const EVIL_TABLE = "loads WHERE 0 UNION ALL SELECT toUInt64(throwIf(1,'INJECTED-VIA-TABLE-NAME'))";

for (const engine of ENGINES) {
  describe(`names read back from ClickHouse are quoted (${engine.name})`, () => {
    let wh: Warehouse;
    let dbs: VaultDatabases;
    const odd = `${uniqueName('sec_db')}'x\`y`;
    beforeAll(async () => {
      wh = await openEngine(engine.url());
      dbs = uniqueDatabases('quote');
      await migrate(wh, { dbs });
    });
    afterAll(async () => {
      await dropDatabases(wh, dbs);
      await wh.exec(`DROP DATABASE IF EXISTS ${sqlIdent(odd)}`);
      await wh.close();
    });

    it('warehouse status counts a table with an SQL-shaped name instead of running it', async () => {
      await wh.exec(`CREATE TABLE ${sqlTable(dbs.ops, EVIL_TABLE)} (x UInt8) ENGINE = Memory`);
      await wh.exec(`INSERT INTO ${sqlTable(dbs.ops, EVIL_TABLE)} VALUES (1), (2)`);
      const s = await warehouseStatus(wh, dbs);
      const row = s.tables.find((t) => t.table === EVIL_TABLE);
      expect(row).toEqual({ database: dbs.ops, table: EVIL_TABLE, kind: 'table', exists: true, rows: 2 });
      expect(s.tables.filter((t) => t.database === dbs.vault && t.exists)).toHaveLength(VAULT_TABLES.length);
    });

    it('database names with quotes are literals, not SQL (tableExists, schemaDrift)', async () => {
      await wh.exec(`CREATE DATABASE ${sqlIdent(odd)}`);
      await wh.exec(`CREATE TABLE ${sqlTable(odd, "t'1")} (x UInt8) ENGINE = Memory`);
      expect(await tableExists(wh, odd, "t'1")).toBe(true);
      expect(await tableExists(wh, odd, "t'2")).toBe(false);
      const drift = await schemaDrift(wh, { vault: odd, mart: odd, ops: odd });
      expect(drift).toHaveLength(VAULT_TABLES.length);
      expect(drift[0]).toMatch(/is missing$/);
    });
  });
}
