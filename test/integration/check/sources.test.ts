import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ENGINES, openEngine, uniqueDatabases, dropDatabases } from '../vault/engines.js';
import { createTestSources, type TestSources } from '../seed/sources.js';
import { seedHistory } from '../../../src/lib/shop/seed.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import { SAT_TABLES } from '../../../src/lib/check/checks/common.js';
import type { LakeIO } from '../../../src/lib/lake/index.js';
import { stack } from '../../helpers/stack.js';
import { runCli } from '../../helpers/cli.js';
import { SALT, check, loadVault, notPassing, result, testShop, writeLake } from './helpers.js';

// Reconciliation against the real PostgreSQL (unique schema) and FerretDB (unique database) of the
// stack: the shop is written there by the seed writers and loaded into the vault through the one
// mapping; then every check passes. Deleting one day of satellite rows makes reconcile-sources
// report that day and the tables.
const shop = testShop().shop;
let sources: TestSources;
let lake: { io: LakeIO; uri: string };

beforeAll(async () => {
  sources = await createTestSources('ckrec');
  await seedHistory({
    target: {
      postgresUrl: stack.postgresUrl,
      pgSchema: sources.schema,
      mongoUrl: stack.mongoUrl,
      mongoDatabase: sources.mongoDatabase,
    },
    shop: shop.options,
  });
  lake = await writeLake(shop.changes);
}, 180_000);
afterAll(async () => {
  lake?.io.close();
  await sources?.drop();
});

const inputs = () => ({
  postgres: { url: stack.postgresUrl, schema: sources.schema },
  mongo: { url: stack.mongoUrl, database: sources.mongoDatabase },
  lake,
});

for (const engine of ENGINES) {
  describe(`vault check reconciliation on ${engine.name}`, () => {
    let wh: Warehouse;
    let dbs: VaultDatabases;
    beforeAll(async () => {
      wh = await openEngine(engine.url());
      dbs = uniqueDatabases('ck_src');
      await loadVault(wh, dbs, shop.changes);
    });
    afterAll(async () => {
      await dropDatabases(wh, dbs).catch(() => undefined);
      await wh.close();
    });

    it('a clean vault matches PostgreSQL, FerretDB and the lake: every check passes (replica-agreement skipped: one server)', async () => {
      const report = await check({ wh, dbs, ...inputs() });
      expect(
        notPassing(report),
        JSON.stringify(
          report.checks.filter((c) => c.status !== 'pass'),
          null,
          1,
        ),
      ).toEqual({});
      // Every check but replica-agreement, which has no replicas to compare on one server.
      expect(report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id} ${c.status}`)).toEqual([
        'replica-agreement skip',
      ]);
      const counts = result(report, 'reconcile-sources').details!.counts as Array<{
        table: string;
        day: string;
        source: number;
        vault: number;
      }>;
      expect(new Set(counts.map((c) => c.table))).toEqual(
        new Set([
          'sellers',
          'users',
          'auth_credentials',
          'products',
          'purchases',
          'cancellations',
          'ratings',
        ]),
      );
      const purchases = counts.filter((c) => c.table === 'purchases').reduce((a, c) => a + c.source, 0);
      expect(purchases).toBe(shop.changes.filter((c) => c.table === 'purchases').length);
      expect(counts.every((c) => c.source === c.vault)).toBe(true);
      const day = await check({ wh, dbs, ...inputs(), date: '2026-11-11', checks: 'reconciliation' });
      expect(notPassing(day)).toEqual({});
    });

    it('after deleting one day of vault rows, reconcile-sources names that day and table', async () => {
      const dropped = uniqueDatabases('ck_drop');
      await loadVault(wh, dropped, shop.changes);
      try {
        for (const sat of SAT_TABLES)
          await wh.exec(`ALTER TABLE ${dropped.vault}.${sat.name} DROP PARTITION 20261111`);
        const r = await check({
          wh,
          dbs: dropped,
          postgres: inputs().postgres,
          mongo: inputs().mongo,
          checks: 'reconcile-sources',
        });
        expect(notPassing(r)).toEqual({ 'reconcile-sources': 'fail' });
        const c = result(r, 'reconcile-sources');
        const cells = (
          c.details!.counts as Array<{ table: string; day: string; source: number; vault: number }>
        ).filter((x) => x.source !== x.vault);
        const day11 = cells.filter((x) => x.day === '2026-11-11');
        expect(day11.map((x) => x.table)).toEqual(expect.arrayContaining(['purchases', 'ratings']));
        for (const x of day11) expect(x.vault).toBeLessThan(x.source);
        expect(c.sample.some((s) => s.table === 'purchases' && s.key === 'day=2026-11-11')).toBe(true);
        expect(c.message).toContain('purchases 2026-11-11');
        // narrowed: the day is reported, the next day is clean
        expect(
          notPassing(
            await check({ wh, dbs: dropped, ...inputs(), checks: 'reconcile-sources', date: '2026-11-11' }),
          ),
        ).toEqual({ 'reconcile-sources': 'fail' });
        expect(
          notPassing(
            await check({ wh, dbs: dropped, ...inputs(), checks: 'reconcile-sources', date: '2026-11-12' }),
          ),
        ).toEqual({});
      } finally {
        await dropDatabases(wh, dropped).catch(() => undefined);
      }
    });

    if (engine.name.startsWith('clickhouse')) {
      it('the CLI: exit 0 and a report on a clean vault, exit 1 with the JSON report after a corruption, exit 2 for an unknown check', async () => {
        const env = {
          SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl,
          SHOPDATA_POSTGRES_URL: stack.postgresUrl,
          SHOPDATA_MONGO_URL: `${stack.mongoUrl.replace(/\/[^/]*$/, '')}/${sources.mongoDatabase}`,
          SHOPDATA_LAKE: lake.uri,
          SHOPDATA_PII_SALT: SALT,
          SHOPDATA_LOG_LEVEL: 'silent',
        };
        const suffix = dbs.vault.slice('vault_'.length);
        const base = ['vault', 'check', '--db-suffix', suffix, '--pg-schema', sources.schema];
        const ok = await runCli([...base], { env });
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stdout).toMatch(/15 checks: 14 passed, 0 failed, 0 warnings, 1 skipped/);
        const junit = await runCli([...base, '--format', 'junit', '--checks', 'orphans,freshness'], { env });
        expect(junit.code).toBe(0);
        expect(junit.stdout).toMatch(
          /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="shopdata vault check" tests="3" failures="0"/,
        );
        expect(junit.stdout).toContain('<testcase classname="vault.orphans" name="orphan-links"');
        const bad = await runCli([...base, '--checks', 'orphans,nope'], { env });
        expect(bad.code).toBe(2);
        expect(bad.stderr).toContain('Unknown check "nope"');
        expect(bad.stderr).toContain('orphan-links');
        const badDate = await runCli([...base, '--date', '2026-13-01'], { env });
        expect(badDate.code).toBe(2);

        // an orphan satellite row: exit 1, and the JSON report is on stdout before it
        await wh.exec(
          `INSERT INTO ${dbs.vault}.sat_seller (hk_seller, effective_us, effective_ts, hashdiff, is_deleted, load_ts, record_source)
           SELECT toFixedString(hex(MD5('999999')), 32), toUInt64(1763000000000000), toDateTime(1763000000, 'UTC'), toFixedString(hex(MD5('^^')), 32), 0, now(), 'shop.public.sellers'`,
        );
        const failed = await runCli([...base, '--format', 'json', '--checks', 'orphans'], { env });
        expect(failed.code).toBe(1);
        const report = JSON.parse(failed.stdout) as {
          ok: boolean;
          checks: Array<{ id: string; status: string; count: number; sample: Array<{ key: string }> }>;
        };
        expect(report.ok).toBe(false);
        const orphan = report.checks.find((x) => x.id === 'orphan-satellites')!;
        expect(orphan.status).toBe('fail');
        expect(orphan.count).toBe(1);
        expect(failed.stderr).toContain('orphan-satellites');
        const table = await runCli([...base, '--checks', 'orphan-satellites'], { env });
        expect(table.code).toBe(1);
        expect(table.stdout).toContain('FAIL orphan-satellites: 1 satellite key without a parent');
        const asJson = await runCli([...base, '--checks', 'orphan-satellites', '--json'], { env });
        expect(asJson.code).toBe(1);
        expect(
          (JSON.parse(asJson.stdout) as { error: { details: { report: { ok: boolean } } } }).error.details
            .report.ok,
        ).toBe(false);
        // ClickHouse unreachable: exit 3
        const down = await runCli([...base, '--checks', 'orphans'], {
          env: { ...env, SHOPDATA_CLICKHOUSE_URL: 'http://default:@127.0.0.1:1' },
        });
        expect(down.code).toBe(3);
      });
    }
  });
}
