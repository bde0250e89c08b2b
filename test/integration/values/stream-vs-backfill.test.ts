import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { runBackfill } from '../../../src/lib/backfill/run.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { SOURCE_TABLES, type SourceChange } from '../../../src/lib/vault/types.js';
import { testDatabases, type VaultDatabases } from '../../../src/lib/vault/tables.js';
import { dayOfMicros } from '../../../src/lib/values/index.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { runCli } from '../../helpers/cli.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { ENGINES, openEngine, dropDatabases } from '../vault/engines.js';
import { repoTmpDir, removeTmpDirs } from '../lake/helpers.js';
import { encodeAll, makeChanges, SALT } from '../stream/support.js';
import { migrated, streamReplay, vaultRows } from './helpers.js';

// The held-out check of issue 17: stream a Debezium replay into one warehouse, backfill the same
// changes from a Parquet lake into another, and compare every vault table, all columns but
// load_ts. On 18.16 both runs are the built CLI (`npm run build` first); on chDB, which holds one
// data directory per process, they run in this process through the same code the commands call.

/**
 * A shop history (every table and op, updates with TOAST placeholders, deletes and tombstones)
 * plus first sightings that collide: two sources see one key at the same commit time, and the
 * referencing source's event comes first (products before sellers, auth before users,
 * cancellations before purchases). Arrival order must not decide the hub and link rows.
 */
function history(): SourceChange[] {
  const base = makeChanges(360, 17);
  let t = Math.max(...base.map((c) => c.commitTsUs)) + 86_400_000_000; // the next day, ms-aligned below
  t -= t % 1000;
  const out = [...base];
  for (let k = 0; k < 6; k++) {
    t += 1_000_000;
    const seller = 9000 + k;
    out.push(
      {
        table: 'products',
        op: 'c',
        commitTsUs: t,
        row: {
          id: 9100 + k,
          seller_id: seller,
          sku: `C-${k}`,
          name: 'Collider',
          category: 'toys',
          price: '1.50',
          active: true,
          created_at: t,
          updated_at: t,
        },
      },
      {
        table: 'sellers',
        op: 'c',
        commitTsUs: t,
        row: { id: seller, name: `Seller ${k}`, country: 'FR', created_at: t, updated_at: t },
      },
      {
        table: 'auth_credentials',
        op: 'c',
        commitTsUs: t,
        row: { user_id: 9200 + k, last_login_at: null, failed_logins: 0, updated_at: t },
      },
      {
        table: 'users',
        op: 'c',
        commitTsUs: t,
        row: {
          id: 9200 + k,
          email: `c${k}@example.com`,
          full_name: 'C',
          city: 'Oslo',
          created_at: t,
          updated_at: t,
        },
      },
      {
        table: 'cancellations',
        op: 'c',
        commitTsUs: t,
        row: {
          _id: `6745a1b2ffff00000000000${k}`,
          order_id: `CO-${k}`,
          user_id: 9200 + k,
          reason: 'x',
          ts: t,
        },
      },
      {
        table: 'purchases',
        op: 'c',
        commitTsUs: t,
        row: {
          _id: `6745a1b2eeee00000000000${k}`,
          order_id: `CO-${k}`,
          user_id: 9200 + k,
          items: [{ product_id: 9100 + k, qty: 2, unit_price: '1.50' }],
          ts: t,
        },
      },
    );
  }
  return out;
}

function replayLines(changes: SourceChange[]): string[] {
  return encodeAll(changes, new TopicRouter()).map((m, i) =>
    JSON.stringify({
      topic: m.topic,
      partition: 0,
      offset: i,
      key: m.key,
      value: m.value,
      headers: m.headers ?? {},
    }),
  );
}

async function writeLake(dir: string, changes: SourceChange[]): Promise<void> {
  const io = openLake(dir);
  try {
    for (const table of SOURCE_TABLES)
      await writeChangelog(
        io,
        table,
        changes.filter((c) => c.table === table),
        { format: 'parquet', codec: 'SNAPPY' },
      );
  } finally {
    io.close();
  }
}

/** "hub_seller: stream 2 rows, backfill 2 rows (values differ)" for every table that differs. */
function differences(a: Record<string, unknown[]>, b: Record<string, unknown[]>): string[] {
  return Object.keys(a)
    .filter((t) => JSON.stringify(a[t]) !== JSON.stringify(b[t]))
    .map((t) => `${t}: stream ${a[t]!.length} rows, backfill ${b[t]!.length} rows (values differ)`);
}

const changes = history();
const days = [...new Set(changes.map((c) => dayOfMicros(c.commitTsUs)))].sort();

for (const engine of ENGINES) {
  describe(`stream and backfill agree table by table on ${engine.name} (issue 17, held-out check)`, () => {
    let wh: Warehouse;
    const created: VaultDatabases[] = [];
    let dir: string;
    beforeAll(async () => {
      wh = await openEngine(engine.url());
      dir = repoTmpDir('svb');
      await writeLake(join(dir, 'lake'), changes);
    });
    afterAll(async () => {
      for (const dbs of created) await dropDatabases(wh, dbs).catch(() => undefined);
      await wh?.close();
      if (engine.name.startsWith('chdb')) removeTmpDirs();
    });

    it('gives identical vault rows from a Debezium replay and from a Parquet lake of the same changes', async () => {
      const streamSuffix = uniqueName('svbs');
      const backfillSuffix = uniqueName('svbb');
      const streamed = await migrated(wh, testDatabases(streamSuffix));
      const backfilled = await migrated(wh, testDatabases(backfillSuffix));
      created.push(streamed, backfilled);
      const lines = replayLines(changes);

      if (engine.name.startsWith('chdb')) {
        const run = await streamReplay(join(dir, 'replay'), engine.url(), streamed, SALT, lines, 5);
        expect(run.result.dlq.count).toBe(0);
        const res = await runBackfill({
          wh,
          io: openLake(join(dir, 'lake')),
          dbs: backfilled,
          days,
          format: 'parquet',
          mode: 'auto',
          piiSalt: SALT,
          cwd: process.cwd(),
        });
        expect(res.days.every((d) => d.status === 'done' && d.mode === 'pull')).toBe(true);
      } else {
        const file = join(dir, 'replay.jsonl');
        writeFileSync(file, lines.join('\n') + '\n');
        const env = {
          SHOPDATA_PII_SALT: SALT,
          SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl,
          SHOPDATA_LOG_LEVEL: 'warn',
        };
        const s = await runCli(
          [
            'stream',
            '--from-file',
            file,
            '--until-idle',
            '--batch-size',
            '5',
            '--db-suffix',
            streamSuffix,
            '--json',
          ],
          { env, timeoutMs: 300_000 },
        );
        expect(s.code, s.stderr).toBe(0);
        expect((JSON.parse(s.stdout) as { dlq: { count: number } }).dlq.count).toBe(0);
        const b = await runCli(
          [
            'backfill',
            '--date',
            days[0]!,
            '--to',
            days.at(-1)!,
            '--format',
            'parquet',
            '--lake',
            join(dir, 'lake'),
            '--db-suffix',
            backfillSuffix,
            '--json',
          ],
          { env, timeoutMs: 300_000 },
        );
        expect(b.code, b.stderr).toBe(0);
      }

      const a = await vaultRows(wh, streamed);
      const bRows = await vaultRows(wh, backfilled);
      expect(Object.values(a).reduce((n, r) => n + r.length, 0)).toBeGreaterThan(500);
      expect(differences(a, bRows)).toEqual([]);
      // The collisions went to the owning source.
      const sellers = (a.hub_seller as { seller_id: string; record_source: string }[]).filter(
        (r) => Number(r.seller_id) >= 9000,
      );
      expect(sellers.map((r) => r.record_source)).toEqual(Array(6).fill('shop.public.sellers'));
    });
  });
}
