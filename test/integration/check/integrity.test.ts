import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ENGINES, openEngine, uniqueDatabases, dropDatabases } from '../vault/engines.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import {
  VER_BASE,
  ZERO_KEY,
  hashKey,
  hashdiff,
  md5Hex,
  mapChanges,
  type SourceChange,
} from '../../../src/lib/vault/index.js';
import { martSelectSql } from '../../../src/lib/vault/marts.js';
import { dialectFor } from '../../../src/lib/warehouse/dialect.js';
import type { LakeIO } from '../../../src/lib/lake/index.js';
import { CHECK_IDS } from '../../../src/lib/check/index.js';
import { SALT, check, loadVault, notPassing, nowSec, result, testShop, writeLake } from './helpers.js';

// Each test: a fresh set of databases loaded through migrate + mapping + writer, one planted
// corruption, then every check (with the lake configured, without sources): exactly the check
// for that corruption fires and names the offending key.
const shop = testShop();
const changes = shop.changes;
let lake: { io: LakeIO; uri: string };

beforeAll(async () => {
  lake = await writeLake(changes);
});
afterAll(() => lake?.io.close());

/** The satellite rows (or any vault table's rows) the mapping makes of one change. */
function rowsOf(c: SourceChange, table: string): Record<string, unknown>[] {
  return mapChanges([c], { piiSalt: SALT, loadTs: new Date() }).get(table) ?? [];
}

const seller = (id: number) => shop.shop.simulator.sellers.get(id)!;

for (const engine of ENGINES) {
  describe(`vault check integrity on ${engine.name}`, () => {
    let wh: Warehouse;
    const created: VaultDatabases[] = [];
    beforeAll(async () => {
      wh = await openEngine(engine.url());
    });
    afterAll(async () => {
      for (const d of created) await dropDatabases(wh, d).catch(() => undefined);
      await wh.close();
    });

    async function vault(
      prefix: string,
      load: readonly SourceChange[] = changes,
      loadTsFor?: Parameters<typeof loadVault>[3] extends infer O ? O : never,
    ) {
      const dbs = uniqueDatabases(prefix);
      created.push(dbs);
      await loadVault(wh, dbs, load, loadTsFor as never);
      return dbs;
    }
    const run = (dbs: VaultDatabases, extra: Record<string, unknown> = {}) =>
      check({ wh, dbs, lake, ...extra });

    it('a clean vault passes every check (sources not configured: reconcile-sources skipped)', async () => {
      const dbs = await vault('ck_clean');
      const report = await run(dbs);
      expect(
        notPassing(report),
        JSON.stringify(
          report.checks.filter((c) => c.status === 'fail'),
          null,
          1,
        ),
      ).toEqual({});
      expect(report.ok).toBe(true);
      expect(report.checks.map((c) => c.id)).toEqual(CHECK_IDS);
      expect(result(report, 'reconcile-sources').status).toBe('skip');
      // One server, no replicas to compare.
      expect(result(report, 'replica-agreement').status).toBe('skip');
      for (const c of report.checks.filter((x) => !['reconcile-sources', 'replica-agreement'].includes(x.id)))
        expect(c.status, c.id).toBe('pass');
      expect(result(report, 'lost-changes').details?.expectedRows).toBeGreaterThan(changes.length);
      // narrowed to one day, still clean
      const day = await run(dbs, { date: '2026-11-11' });
      expect(notPassing(day)).toEqual({});
    });

    it('ghost records (zero key, empty business key) are not findings', async () => {
      const dbs = await vault('ck_ghost');
      await wh.insert(`${dbs.vault}.hub_order`, [
        {
          hk_order: ZERO_KEY,
          order_id: '',
          first_seen_us: 0,
          ver: VER_BASE,
          load_ts: nowSec(),
          record_source: 'SYSTEM',
        },
      ]);
      await wh.insert(`${dbs.vault}.sat_order`, [
        {
          hk_order: ZERO_KEY,
          status: '',
          effective_us: 0,
          effective_ts: 0,
          hashdiff: ZERO_KEY,
          is_deleted: 0,
          load_ts: nowSec(),
          record_source: 'SYSTEM',
        },
      ]);
      expect(notPassing(await run(dbs))).toEqual({});
    });

    it('orphan-links: a link row whose product is not in hub_product', async () => {
      const dbs = await vault('ck_orl');
      const t = shop.afterUs;
      const hk = hashKey([999001, 1]);
      await wh.insert(`${dbs.vault}.link_product_seller`, [
        {
          hk_product_seller: hk,
          hk_product: hashKey([999001]),
          hk_seller: hashKey([1]),
          first_seen_us: t,
          ver: VER_BASE - t,
          load_ts: nowSec(),
          record_source: 'shop.public.products',
        },
      ]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'orphan-links': 'fail' });
      const c = result(r, 'orphan-links');
      expect(c.count).toBe(1);
      expect(c.counts).toEqual({ link_product_seller: 1 });
      expect(c.sample[0]!.key).toContain(hk);
      expect(c.sample[0]!.detail).toContain(`no hub_product row for ${hashKey([999001])}`);
    });

    it('orphan-satellites: satellite rows of a seller missing from hub_seller', async () => {
      const dbs = await vault('ck_ors');
      const s = { ...seller(1), id: 999002, name: 'Nobody Ltd' };
      const rows = rowsOf({ table: 'sellers', op: 'c', row: s, commitTsUs: shop.afterUs }, 'sat_seller');
      await wh.insert(`${dbs.vault}.sat_seller`, rows);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'orphan-satellites': 'fail' });
      expect(result(r, 'orphan-satellites').sample[0]).toMatchObject({
        table: 'sat_seller',
        key: `hk_seller=${hashKey([999002])}`,
      });
    });

    it('duplicate-business-keys: an order under a second, untrimmed hash key', async () => {
      const dbs = await vault('ck_dbk');
      const order = changes.find((c) => c.table === 'purchases')!.row.order_id as string;
      const bad = md5Hex(` ${order}`);
      await wh.insert(`${dbs.vault}.hub_order`, [
        {
          hk_order: bad,
          order_id: ` ${order}`,
          first_seen_us: shop.afterUs,
          ver: VER_BASE - shop.afterUs,
          load_ts: nowSec(),
          record_source: 'shop_events.purchases',
        },
      ]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'duplicate-business-keys': 'fail' });
      const c = result(r, 'duplicate-business-keys');
      expect(c.count).toBe(1);
      expect(c.sample[0]!.key).toContain(`order_id=${order}`);
      expect(c.sample[0]!.detail).toContain(bad);
      expect(c.sample[0]!.detail).toContain(hashKey([order]));
    });

    it('hash-key-mismatch: a hub row whose key is not the hash of its business key', async () => {
      const dbs = await vault('ck_hkm');
      const wrong = hashKey([999004]);
      await wh.insert(`${dbs.vault}.hub_product`, [
        {
          hk_product: wrong,
          product_id: 999003,
          first_seen_us: shop.afterUs,
          ver: VER_BASE - shop.afterUs,
          load_ts: nowSec(),
          record_source: 'shop.public.products',
        },
      ]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'hash-key-mismatch': 'fail' });
      const c = result(r, 'hash-key-mismatch');
      expect(c.sample).toEqual([
        {
          table: 'hub_product',
          key: 'product_id=999003',
          detail: `stored ${wrong}, the spec gives ${hashKey([999003])}`,
        },
      ]);
    });

    it("hash-key-mismatch: a link row whose key is not the hash of its hubs' business keys", async () => {
      const dbs = await vault('ck_hkl');
      const rated = new Set(
        changes
          .filter((c) => c.table === 'ratings')
          .map((c) => `${String(c.row.user_id)}/${String(c.row.product_id)}`),
      );
      const users = [...shop.shop.simulator.users.keys()];
      const products = [...shop.shop.simulator.products.keys()];
      let pair: [number, number] | undefined;
      for (const u of users) for (const p of products) if (!pair && !rated.has(`${u}/${p}`)) pair = [u, p];
      const [u, p] = pair!;
      const wrong = hashKey([u, p, 'extra']);
      await wh.insert(`${dbs.vault}.link_rating`, [
        {
          hk_rating: wrong,
          hk_user: hashKey([u]),
          hk_product: hashKey([p]),
          first_seen_us: shop.afterUs,
          ver: VER_BASE - shop.afterUs,
          load_ts: nowSec(),
          record_source: 'shop_events.ratings',
        },
      ]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'hash-key-mismatch': 'fail' });
      const c = result(r, 'hash-key-mismatch');
      expect(c.counts).toEqual({ link_rating: 1 });
      expect(c.sample[0]).toEqual({
        table: 'link_rating',
        key: `hk_rating=${wrong} [user_id=${u}, product_id=${p}]`,
        detail: `stored ${wrong}, the spec gives ${hashKey([u, p])} from user_id=${u}, product_id=${p}`,
      });
    });

    it('hashdiff-mismatch: a satellite row whose hashdiff does not match its attributes', async () => {
      const dbs = await vault('ck_hdm');
      const row = rowsOf(
        { table: 'sellers', op: 'u', row: { ...seller(1), name: 'Renamed GmbH' }, commitTsUs: shop.afterUs },
        'sat_seller',
      )[0]!;
      const stored = hashdiff(['not', 'these', 'values']);
      await wh.insert(`${dbs.vault}.sat_seller`, [{ ...row, hashdiff: stored }]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'hashdiff-mismatch': 'fail' });
      const c = result(r, 'hashdiff-mismatch');
      expect(c.count).toBe(1);
      expect(c.sample[0]!.key).toContain(`hk_seller=${hashKey([1])} [seller_id=1] @`);
      expect(c.sample[0]!.detail).toBe(`stored ${stored}, the spec gives ${row.hashdiff as string}`);
    });

    it('null-keys: an order with an empty business key outside the ghost record', async () => {
      const dbs = await vault('ck_nul');
      const hk = md5Hex('lost-key');
      await wh.insert(`${dbs.vault}.hub_order`, [
        {
          hk_order: hk,
          order_id: '',
          first_seen_us: shop.afterUs,
          ver: VER_BASE - shop.afterUs,
          load_ts: nowSec(),
          record_source: 'shop_events.purchases',
        },
      ]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'null-keys': 'fail' });
      expect(result(r, 'null-keys').sample[0]).toMatchObject({
        table: 'hub_order',
        detail: 'empty business key outside the ghost record',
      });
      expect(result(r, 'null-keys').sample[0]!.key).toContain(hk);
    });

    it('null-keys: a satellite row with zero bytes as its key', async () => {
      const dbs = await vault('ck_nul2');
      const row = rowsOf(
        { table: 'sellers', op: 'u', row: { ...seller(1), name: 'Keyless' }, commitTsUs: shop.afterUs },
        'sat_seller',
      )[0]!;
      await wh.insert(`${dbs.vault}.sat_seller`, [{ ...row, hk_seller: '\u0000'.repeat(32) }]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'null-keys': 'fail' });
      expect(result(r, 'null-keys').sample[0]!.key).toContain(`hk_seller=0x${'00'.repeat(32)}`);
    });

    it('duplicate-satellite-rows: the same state loaded again at a later commit time', async () => {
      const dbs = await vault('ck_dup');
      const again = rowsOf(
        { table: 'sellers', op: 'r', row: { ...seller(3) }, commitTsUs: shop.afterUs },
        'sat_seller',
      );
      await wh.insert(`${dbs.vault}.sat_seller`, again);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'duplicate-satellite-rows': 'fail' });
      const c = result(r, 'duplicate-satellite-rows');
      expect(c.count).toBe(1);
      expect(c.sample[0]!.key).toContain(`hk_seller=${hashKey([3])}`);
      expect(c.sample[0]!.detail).toContain(`same hashdiff ${again[0]!.hashdiff as string}`);
    });

    it('lost-changes: a loader that dropped the return to an earlier state (A→B→A)', async () => {
      const dbs = await vault(
        'ck_lost',
        changes.filter((c) => c !== shop.returnChange),
      );
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'lost-changes': 'fail' });
      const c = result(r, 'lost-changes');
      expect(c.count).toBe(1);
      expect(c.details?.returnsToEarlierState).toBe(1);
      expect(c.sample[0]!.key).toContain(`hk_seller=${hashKey([2])}`);
      expect(c.sample[0]!.key).toContain('sellers 2');
      expect(c.sample[0]!.detail).toContain('return to an earlier state');
      // the same vault narrowed to the day of the loss, and to another day
      const lossDay = new Date(shop.returnChange.commitTsUs / 1000).toISOString().slice(0, 10);
      expect(notPassing(await run(dbs, { date: lossDay, checks: 'lost-changes' }))).toEqual({
        'lost-changes': 'fail',
      });
      expect(notPassing(await run(dbs, { date: '2026-11-10', checks: 'lost-changes' }))).toEqual({});
    });

    it('future-load-times: a hub row loaded a day from now', async () => {
      const dbs = await vault('ck_fut');
      await wh.insert(`${dbs.vault}.hub_seller`, [
        {
          hk_seller: hashKey([999005]),
          seller_id: 999005,
          first_seen_us: shop.afterUs,
          ver: VER_BASE - shop.afterUs,
          load_ts: nowSec() + 86_400,
          record_source: 'shop.public.sellers',
        },
      ]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'future-load-times': 'fail' });
      expect(result(r, 'future-load-times').sample[0]).toMatchObject({ table: 'hub_seller' });
      expect(result(r, 'future-load-times').sample[0]!.key).toContain('seller_id=999005');
    });

    it('missing-record-source: a hub row without record source', async () => {
      const dbs = await vault('ck_rs');
      await wh.insert(`${dbs.vault}.hub_seller`, [
        {
          hk_seller: hashKey([999006]),
          seller_id: 999006,
          first_seen_us: shop.afterUs,
          ver: VER_BASE - shop.afterUs,
          load_ts: nowSec(),
          record_source: ' ',
        },
      ]);
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'missing-record-source': 'fail' });
      expect(result(r, 'missing-record-source').sample[0]!.key).toContain('seller_id=999006');
    });

    it('reconcile-lake: the vault deleted a seller the lake says exists', async () => {
      const dbs = await vault('ck_rlk');
      const s = seller(3);
      await wh.insert(
        `${dbs.vault}.sat_seller`,
        rowsOf({ table: 'sellers', op: 'd', row: { ...s }, commitTsUs: shop.afterUs }, 'sat_seller'),
      );
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'reconcile-lake': 'fail' });
      const c = result(r, 'reconcile-lake');
      const day = new Date(s.created_at / 1000).toISOString().slice(0, 10);
      expect(c.sample).toEqual([
        {
          table: 'sellers',
          key: `day=${day}`,
          detail: expect.stringMatching(/^lake (\d+), vault (\d+) \(-1\)$/) as unknown as string,
        },
      ]);
      // with a tolerance that covers one row in that cell, it passes
      const tol = await run(dbs, { checks: 'reconcile-lake', tolerance: 0.5 });
      expect(notPassing(tol)).toEqual({});
    });

    it('reconcile-marts: a mart view that drifted from the vault', async () => {
      const dbs = await vault('ck_mrt');
      const d = dialectFor(await wh.version());
      const day = '2026-11-11';
      await wh.exec(`CREATE VIEW ${dbs.mart}.daily_orders_base AS ${martSelectSql('daily_orders', dbs, d)}`);
      for (const sql of d.replaceView(
        `${dbs.mart}.daily_orders`,
        `SELECT day, orders + if(day = toDate('${day}'), 1, 0) AS orders, buyers, units, gross_revenue, cancellations FROM ${dbs.mart}.daily_orders_base`,
      )) {
        await wh.exec(sql);
      }
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ 'reconcile-marts': 'fail' });
      const c = result(r, 'reconcile-marts');
      expect(c.count).toBe(1);
      expect(c.sample[0]!.table).toBe(`${dbs.mart}.daily_orders`);
      expect(c.sample[0]!.key).toBe(`day=${day}`);
      expect(c.sample[0]!.detail).toMatch(/^orders mart (\d+) vault (\d+)$/);
      const [, m, v] = /^orders mart (\d+) vault (\d+)$/.exec(c.sample[0]!.detail)!;
      expect(Number(m)).toBe(Number(v) + 1);
    });

    it('freshness (warning): one source last loaded three hours ago', async () => {
      const dbs = await vault('ck_fr', changes, {
        loadTsFor: (t) => (t === 'sellers' ? new Date(Date.now() - 3 * 3_600_000) : new Date()),
      });
      const r = await run(dbs);
      expect(notPassing(r)).toEqual({ freshness: 'fail' });
      const c = result(r, 'freshness');
      expect(c.severity).toBe('warn');
      expect(c.sample[0]!.key).toBe('shop.public.sellers');
      expect(r.ok).toBe(true); // a warning does not fail the run
    });
  });
}
