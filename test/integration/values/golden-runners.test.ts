import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { runBackfill, type BackfillResult } from '../../../src/lib/backfill/run.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { ENGINES, openEngine, uniqueDatabases, dropDatabases } from '../vault/engines.js';
import { repoTmpDir, removeTmpDirs } from '../lake/helpers.js';
import {
  DAY,
  EXPECTED,
  LOADED,
  NEXT_DAY,
  REJECTED,
  SALT,
  STREAM_ONLY,
  product1,
} from '../../golden/values-cases.js';
import {
  flavour,
  migrated,
  replayLine,
  streamReplay,
  vaultRows,
  writeProductsWithPyarrow,
} from './helpers.js';

// Issue 17 §1: the same tricky values through both runners — `stream` (Debezium events in a replay
// file, one event per insert) and `backfill` (a Parquet lake; push, and pull where the engine has
// it) — on ClickHouse 18.16 and chDB 26. Both must load the same rows (test/golden/values-cases.ts
// says which, with hand-written expectations) and refuse the same changes with a reason.

/** The replay: loaded and rejected changes in the golden order, then what only an event can carry. */
function replay(): string[] {
  const lines: string[] = [];
  [...LOADED, ...REJECTED.map((r) => r.change)].forEach((c, i) => {
    // 19.995 cannot even be encoded as a precise decimal of scale 2: send such prices as strings
    const opts =
      c.table === 'products' && c.row.id !== product1.row.id ? { decimalMode: 'string' as const } : {};
    lines.push(replayLine(c, i, { ...flavour(i), ...opts }));
  });
  STREAM_ONLY.forEach((s, i) =>
    lines.push(replayLine(s.change, 100 + i, { withSchema: i % 2 === 0, timestampMode: 'zoned' }, s.edit)),
  );
  return lines;
}

/** The lake: our writer for every table but products, which pyarrow writes with a wider decimal. */
async function writeLake(root: string): Promise<LakeIO> {
  const io = openLake(root);
  const all = [...LOADED, ...REJECTED.map((r) => r.change)];
  for (const table of SOURCE_TABLES) {
    const cs = all.filter((c) => c.table === table);
    if (table !== 'products') {
      await writeChangelog(io, table, cs, { format: 'parquet' });
      continue;
    }
    for (const day of [DAY, NEXT_DAY]) {
      const onDay = cs.filter((c) => new Date(c.commitTsUs / 1000).toISOString().startsWith(day));
      const dir = join(root, 'parquet', 'products', `dt=${day}`);
      mkdirSync(dir, { recursive: true });
      await writeProductsWithPyarrow(join(dir, 'pyarrow-0.parquet'), onDay);
    }
  }
  return io;
}

function rejectReasons(r: BackfillResult): string[] {
  return r.days.flatMap((d) =>
    Object.entries(d.rejected.reasons).flatMap(([k, n]) => Array<string>(n).fill(k)),
  );
}

/** Every expected row of a table is present among the actual ones (compared on the expected columns). */
function expectRows(actual: unknown[], expected: Record<string, unknown>[], table: string): void {
  const pick = (row: unknown, keys: string[]) =>
    Object.fromEntries(keys.map((k) => [k, (row as Record<string, unknown>)[k]]));
  const keys = Object.keys(expected[0]!);
  const got = actual.map((r) => JSON.stringify(pick(r, keys))).sort();
  expect(got, table).toEqual(expected.map((e) => JSON.stringify(pick(e, keys))).sort());
}

for (const engine of ENGINES) {
  describe(`tricky values through stream and backfill on ${engine.name}`, () => {
    let wh: Warehouse;
    let url: string;
    const created: VaultDatabases[] = [];
    let dir: string;
    let io: LakeIO;
    beforeAll(async () => {
      url = engine.url();
      wh = await openEngine(url);
      dir = repoTmpDir('golden');
      io = await writeLake(join(dir, 'lake'));
    });
    afterAll(async () => {
      for (const dbs of created) await dropDatabases(wh, dbs).catch(() => undefined);
      io?.close();
      await wh?.close();
      if (engine.name.startsWith('chdb')) removeTmpDirs();
    });

    async function fresh(prefix: string): Promise<VaultDatabases> {
      const dbs = uniqueDatabases(prefix);
      created.push(dbs);
      return migrated(wh, dbs);
    }

    it('loads the same rows from events and from the lake, refuses the same changes, and matches the golden rows', async () => {
      const streamed = await fresh('gs');
      const run = await streamReplay(join(dir, 'replay'), url, streamed, SALT, replay());
      const modes = engine.name.startsWith('chdb') ? (['push', 'pull'] as const) : (['push'] as const);
      const stream = await vaultRows(wh, streamed);

      // The golden rows, worked out by hand.
      for (const [table, rows] of Object.entries(EXPECTED)) expectRows(stream[table]!, rows, table);
      expect(stream.hub_user).toHaveLength(2);
      expect(stream.sat_product).toHaveLength(2);

      // The stream refused exactly the rejected and the stream-only changes, each with its reason.
      const expectedReasons = [...REJECTED.map((r) => r.reason), ...STREAM_ONLY.map((s) => s.reason)];
      expect(run.result.dlq.count).toBe(expectedReasons.length);
      const errors = run.rejects.map((r) => String(r.error));
      for (const reason of expectedReasons)
        expect(
          errors.some((e) => e.includes(reason)),
          reason,
        ).toBe(true);
      expect(run.rejectsText).not.toContain('$2b$10$');

      for (const mode of modes) {
        const backfilled = await fresh(`gb${mode}`);
        const res = await runBackfill({
          wh,
          io,
          dbs: backfilled,
          days: [DAY, NEXT_DAY],
          format: 'parquet',
          mode,
          piiSalt: SALT,
          cwd: process.cwd(),
        });
        expect(res.days.map((d) => d.mode)).toEqual([mode, mode]);
        // Table by table, every column but load_ts: what the stream loaded.
        const rows = await vaultRows(wh, backfilled);
        for (const t of Object.keys(stream)) expect(rows[t], `${mode} ${t}`).toEqual(stream[t]);
        // The lake holds the rejected changes too: backfill refuses them, with reasons in its report.
        const reasons = rejectReasons(res);
        expect(reasons, mode).toHaveLength(REJECTED.length);
        for (const r of REJECTED)
          expect(
            reasons.some((x) => x.includes(r.reason)),
            `${mode}: ${r.reason}`,
          ).toBe(true);
        for (const x of reasons) expect(x, mode).not.toMatch(/19\.995|10000000000|-5\b|300/);
      }
    });

    it('records the first sighting by source rank, whatever the batching (one insert for all)', async () => {
      const oneBatch = await fresh('g1');
      await streamReplay(join(dir, 'replay1'), url, oneBatch, SALT, replay(), 10_000);
      const rows = await vaultRows(wh, oneBatch);
      expectRows(rows.hub_seller!, EXPECTED.hub_seller, 'hub_seller');
      expectRows(rows.hub_user!, EXPECTED.hub_user, 'hub_user');
      expectRows(rows.hub_order!, EXPECTED.hub_order, 'hub_order');
      expectRows(rows.link_order_user!, EXPECTED.link_order_user, 'link_order_user');
    });
  });
}
