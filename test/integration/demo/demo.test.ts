import { describe, it, expect } from 'vitest';
import { mkdtempSync, existsSync, writeFileSync, readFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { generateShop, computeMarts } from '../../../src/lib/shop/index.js';
import type { DemoResult } from '../../../src/lib/demo/run.js';
import { openLake } from '../../../src/lib/lake/io.js';
import { loadTableMetadata } from '../../../src/lib/lake/iceberg/metadata.js';
import { archivedOffsets } from '../../../src/lib/archive/offsets.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';

// `shopdata demo` on embedded parts only (chDB, a local Iceberg lake, a replay file): the README's
// first command. Its marts must equal the generator's ground truth, computed here independently.
// A fixed --start: with the default (days ending yesterday) a run across midnight would compare two
// different shops.
const START = '2026-11-20';

describe('shopdata demo', () => {
  it('runs end to end, twice, and prints marts equal to the ground truth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-demo-'));
    const runs: DemoResult[] = [];
    for (let i = 0; i < 2; i++) {
      // A file of the operator's next to the demo's folders survives the second run.
      if (i === 1) writeFileSync(join(dir, 'notes.txt'), 'mine');
      const r = await runCli(
        ['demo', '--days', '3', '--start', START, '--dir', dir, '--seed', '7', '--json'],
        {
          timeoutMs: 120_000,
          env: { SHOPDATA_CLICKHOUSE_URL: undefined, SHOPDATA_LAKE: undefined },
        },
      );
      expect(r.stderr).not.toMatch(/"log.level":"error"/);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      runs.push(JSON.parse(r.stdout) as DemoResult);
    }
    const [first, second] = runs as [DemoResult, DemoResult];

    const truth = computeMarts(generateShop({ seed: 7, days: 3, start: START }).changes);
    expect(truth.daily_orders.length).toBeGreaterThan(0);
    expect(first.marts.daily_orders).toEqual(truth.daily_orders);
    expect(first.marts.daily_sales_by_category).toEqual(truth.daily_sales_by_category);
    expect(first.marts.product_ratings.map((p) => [p.product_id, p.ratings])).toEqual(
      truth.product_ratings.map((p) => [p.product_id, p.ratings]),
    );
    first.marts.product_ratings.forEach((p, i) =>
      expect(p.avg_stars).toBeCloseTo(truth.product_ratings[i]!.avg_stars, 9),
    );
    expect(first.matchesGroundTruth).toBe(true);
    expect(first.check.ok).toBe(true);

    // The streaming path really lost and doubled events, and the backfill corrected them.
    expect(first.replay.dropped).toBeGreaterThan(0);
    expect(first.replay.doubled).toBeGreaterThan(0);
    const added = Object.values(first.correction).reduce((s, c) => s + c.added, 0);
    expect(added).toBeGreaterThan(0);

    // Everything lives under --dir, and a second run gives the same result.
    expect(existsSync(join(dir, 'lake', 'iceberg', 'purchases', 'metadata'))).toBe(true);
    expect(existsSync(join(dir, 'warehouse'))).toBe(true);
    expect(second.marts).toEqual(first.marts);
    expect(second.correction).toEqual(first.correction);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');

    // The lake was built by `archive` from the Debezium event stream: every generated change is
    // in it once, and each table's snapshot records the Kafka offsets it covers.
    expect(first.events.events).toBeGreaterThan(first.generated.changes);
    const io = openLake(join(dir, 'lake'));
    for (const table of SOURCE_TABLES) {
      expect(first.lakeWrites.find((w) => w.table === table)?.rows, table).toBe(
        first.generated.perTable[table] ?? 0,
      );
      const md = await loadTableMetadata(io, io.url('iceberg', table));
      const offsets = archivedOffsets(md?.metadata);
      expect(offsets.size, table).toBe(1);
      expect(first.archive.offsets[`${[...offsets.keys()][0]!.replace('\u0000', '/')}`]).toBe(
        String([...offsets.values()][0]),
      );
    }
  });

  it('refuses a folder holding files it did not create (exit 2) and deletes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-demo-'));
    mkdirSync(join(dir, 'lake'));
    writeFileSync(join(dir, 'lake', 'precious.parquet'), 'not the demo’s');
    const r = await runCli(['demo', '--days', '1', '--start', START, '--dir', dir], {
      env: { SHOPDATA_CLICKHOUSE_URL: undefined, SHOPDATA_LAKE: undefined },
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('did not create');
    expect(readFileSync(join(dir, 'lake', 'precious.parquet'), 'utf8')).toBe('not the demo’s');
    expect(readdirSync(dir)).toEqual(['lake']);
  });

  it('rejects a bad flag value with exit 2', async () => {
    const r = await runCli(['demo', '--days', '0']);
    expect(r.code).toBe(2);
    const badDay = await runCli(['demo', '--start', '2026-02-30']);
    expect(badDay.code).toBe(2);
    expect(badDay.stderr).toContain('--start "2026-02-30" is not a calendar day');
  });
});
