import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import migration020 from '../../../src/lib/warehouse/migrations/020_key_version_rank.js';
import { dialectFor } from '../../../src/lib/warehouse/dialect.js';
import { mapChanges } from '../../../src/lib/vault/mapping.js';
import { insertRowSet } from '../../../src/lib/vault/writer.js';
import { hashKey } from '../../../src/lib/vault/hashing.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import { ENGINES, openEngine, uniqueDatabases, dropDatabases } from '../vault/engines.js';
import { migrated } from './helpers.js';
import { SALT } from '../../golden/values-cases.js';

// Migration 020: hub and link rows written before the record-source tie-break carry
// ver = 2^53 − 1 − first_seen_us. The migration writes them again with the new version, so a key
// seen by two sources at the same time keeps the owning source, an earlier legacy sighting still
// beats a later new one, and running it twice changes nothing.

const BASE = 2n ** 53n - 1n;
const T = 1_764_000_000_000_000;

for (const engine of ENGINES) {
  describe(`migration 020 (key version rank) on ${engine.name}`, () => {
    let wh: Warehouse;
    let dbs: VaultDatabases;
    beforeAll(async () => {
      wh = await openEngine(engine.url());
      dbs = await migrated(wh, uniqueDatabases('m020'));
    });
    afterAll(async () => {
      await dropDatabases(wh, dbs).catch(() => undefined);
      await wh?.close();
    });

    it('rewrites legacy versions so the owning source and the earliest sighting win', async () => {
      const legacy = (id: number, us: number, source: string) => ({
        hk_seller: hashKey([id]),
        seller_id: id,
        first_seen_us: us,
        ver: (BASE - BigInt(us)).toString(),
        load_ts: 0,
        record_source: source,
      });
      // seller 1: seen by products, then by sellers, at the same time (arrival decided before)
      // seller 2: seen by sellers at T, a legacy row; a new-style product sighting at T + 1 follows
      await wh.insert(`${dbs.vault}.hub_seller`, [legacy(1, T, 'shop.public.products')]);
      await wh.insert(`${dbs.vault}.hub_seller`, [legacy(1, T, 'shop.public.sellers')]);
      await wh.insert(`${dbs.vault}.hub_seller`, [legacy(2, T, 'shop.public.sellers')]);
      // the same arrival order the other way round for seller 3
      await wh.insert(`${dbs.vault}.hub_seller`, [legacy(3, T, 'shop.public.sellers')]);
      await wh.insert(`${dbs.vault}.hub_seller`, [legacy(3, T, 'shop.public.products')]);

      const d = dialectFor(await wh.version());
      const run = async () => {
        for (const sql of migration020.statements({ dbs, dialect: d })) await wh.exec(sql);
      };
      await run();
      const product = (id: number, sellerId: number, us: number) =>
        mapChanges(
          [
            {
              table: 'products',
              op: 'c',
              commitTsUs: us,
              row: {
                id,
                seller_id: sellerId,
                sku: 's',
                name: 'n',
                category: 'c',
                price: '1.00',
                active: true,
              },
            },
          ],
          { piiSalt: SALT, loadTs: new Date() },
        );
      await insertRowSet(wh, product(10, 2, T + 1), dbs);

      const read = () =>
        wh.query<{ seller_id: string; record_source: string; first_seen_us: string; ver: string }>(
          `SELECT seller_id, record_source, toString(first_seen_us) AS first_seen_us, toString(ver) AS ver FROM ${dbs.vault}.hub_seller FINAL ORDER BY seller_id`,
        );
      const after = await read();
      const v = (us: number, rank: number) => ((BASE - BigInt(us)) * 16n + BigInt(15 - rank)).toString();
      expect(after).toEqual([
        { seller_id: '1', record_source: 'shop.public.sellers', first_seen_us: String(T), ver: v(T, 0) },
        { seller_id: '2', record_source: 'shop.public.sellers', first_seen_us: String(T), ver: v(T, 0) },
        { seller_id: '3', record_source: 'shop.public.sellers', first_seen_us: String(T), ver: v(T, 0) },
      ]);
      // merged: no legacy version is left, and a second run changes nothing
      const [left] = await wh.query<{ n: string }>(
        `SELECT count() AS n FROM ${dbs.vault}.hub_seller WHERE ver <= ${BASE}`,
      );
      expect(Number(left!.n)).toBe(0);
      await run();
      expect(await read()).toEqual(after);
    });
  });
}
