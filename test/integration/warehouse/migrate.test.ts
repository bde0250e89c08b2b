import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import {
  migrate,
  warehouseStatus,
  MigrationStateError,
  MIGRATIONS_TABLE,
} from '../../../src/lib/warehouse/migrations/index.js';
import { VAULT_TABLES, type VaultDatabases } from '../../../src/lib/vault/tables.js';
import { MART_VIEWS } from '../../../src/lib/vault/marts.js';
import { ENGINES, openEngine, uniqueDatabases, dropDatabases } from '../vault/engines.js';

for (const engine of ENGINES) {
  describe(`warehouse migrations on ${engine.name}`, () => {
    let wh: Warehouse;
    let dbs: VaultDatabases;
    beforeAll(async () => {
      wh = await openEngine(engine.url());
      dbs = uniqueDatabases('mig');
    });
    afterAll(async () => {
      await dropDatabases(wh, dbs);
      await wh.close();
    });

    it('dry-run on an empty server lists the statements and changes nothing', async () => {
      const r = await migrate(wh, { dbs, dryRun: true });
      expect(r.dryRun).toBe(true);
      expect(r.versionBefore).toBe(0);
      expect(r.statements.length).toBeGreaterThan(VAULT_TABLES.length);
      expect(r.statements.some((s) => s.sql.includes(`${dbs.vault}.hub_user`))).toBe(true);
      const dbsNow = await wh.query<{ name: string }>(
        `SELECT name FROM system.databases WHERE name IN ('${dbs.vault}', '${dbs.ops}', '${dbs.mart}')`,
      );
      expect(dbsNow).toEqual([]);
    });

    it('migrates, then a second run is a no-op', async () => {
      const first = await migrate(wh, { dbs });
      expect(first.versionAfter).toBeGreaterThanOrEqual(2);
      expect(first.applied.map((a) => a.name)).toContain('002_vault_tables');
      const second = await migrate(wh, { dbs });
      expect(second.applied).toEqual([]);
      expect(second.statements).toEqual([]);
      expect(second.versionBefore).toBe(first.versionAfter);
      const dry = await migrate(wh, { dbs, dryRun: true });
      expect(dry.statements).toEqual([]);
    });

    it('creates every vault table with the model columns and the mart views with the contract columns', async () => {
      const tables = await wh.query<{ name: string }>(
        `SELECT name FROM system.tables WHERE database = '${dbs.vault}' ORDER BY name`,
      );
      expect(tables.map((t) => t.name).sort()).toEqual(VAULT_TABLES.map((t) => t.name).sort());
      for (const [view, cols] of Object.entries(MART_VIEWS)) {
        const live = await wh.query<{ name: string; type: string }>(
          `SELECT name, type FROM system.columns WHERE database = '${dbs.mart}' AND table = '${view}'`,
        );
        expect(live.map((c) => ({ name: c.name, type: c.type.replace(/\s+/g, '') }))).toEqual(
          cols.map((c) => ({ name: c.name, type: c.type.replace(/\s+/g, '') })),
        );
        // the views run (empty vault → no rows)
        expect(await wh.query(`SELECT * FROM ${dbs.mart}.${view}`)).toEqual([]);
      }
    });

    it('status shows the applied version, nothing pending, and row counts per table', async () => {
      const s = await warehouseStatus(wh, dbs);
      expect(s.appliedVersion).toBe(s.latestVersion);
      expect(s.upToDate).toBe(true);
      expect(s.pending).toEqual([]);
      expect(s.drift).toEqual([]);
      const hub = s.tables.find((t) => t.table === 'hub_user')!;
      expect(hub).toMatchObject({ database: dbs.vault, kind: 'hub', exists: true, rows: 0 });
      expect(s.tables.find((t) => t.table === 'daily_orders')).toMatchObject({
        database: dbs.mart,
        kind: 'view',
        rows: null,
      });
      expect(s.tables.find((t) => t.table === MIGRATIONS_TABLE)!.rows).toBeGreaterThan(0);
    });

    it('refuses a warehouse migrated by a newer shopdata (exit 2), and a changed applied migration', async () => {
      const other = uniqueDatabases('migbad');
      try {
        await migrate(wh, { dbs: other });
        await wh.insert(`${other.ops}.${MIGRATIONS_TABLE}`, [
          {
            kind: 'versioned',
            version: 999,
            name: '999_future',
            checksum: 'x',
            description: 'from the future',
            statements: 1,
            applied_at: 1,
            duration_ms: 0,
          },
        ]);
        const err = await migrate(wh, { dbs: other }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(MigrationStateError);
        expect((err as MigrationStateError).exitCode).toBe(2);
        expect((err as Error).message).toMatch(/version 999/);
        await expect(warehouseStatus(wh, other)).rejects.toBeInstanceOf(MigrationStateError);

        await wh.exec(`DROP TABLE ${other.ops}.${MIGRATIONS_TABLE}`);
        await migrate(wh, { dbs: other }); // re-records everything (statements are idempotent)
        await wh.insert(`${other.ops}.${MIGRATIONS_TABLE}`, [
          {
            kind: 'versioned',
            version: 2,
            name: '002_vault_tables',
            checksum: 'changed',
            description: 'x',
            statements: 1,
            applied_at: 4102444800,
            duration_ms: 0,
          },
        ]);
        const err2 = await migrate(wh, { dbs: other }).catch((e: unknown) => e);
        expect(err2).toBeInstanceOf(MigrationStateError);
        expect((err2 as Error).message).toMatch(/002_vault_tables has changed/);
      } finally {
        await dropDatabases(wh, other);
      }
    });
  });
}
