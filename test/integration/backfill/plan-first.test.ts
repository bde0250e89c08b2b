import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { SOURCE_TABLES, type SourceChange } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { runCli } from '../../helpers/cli.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { sampleChanges, DAY1, DAY2 } from '../../fixtures/lake/changes.js';
import { SALT, createVault, dropVault, openServer, vaultSnapshot } from './helpers.js';

// A range whose middle day the lake does not have: the backfill plans every day before it changes
// anything, so it refuses the whole range with nothing written (not even the first day), unless
// --continue-on-missing, which rebuilds the others and reports the gap. Each rebuilt day is
// recorded in <ops>.loads.

const DAY3 = '2026-11-25';
const DAY_US = 86_400_000_000;
const lakeDir = mkdtempSync(join(tmpdir(), 'shopdata-planfirst-'));
let wh: Warehouse;
let dbs: VaultDatabases;
let suffix: string;

/** DAY2's changes moved to DAY3: the lake holds DAY1 and DAY3, nothing on DAY2. */
function withGap(changes: SourceChange[]): SourceChange[] {
  const day2 = Date.parse(`${DAY2}T00:00:00Z`) * 1000;
  return changes.map((c) =>
    c.commitTsUs >= day2 && c.commitTsUs < day2 + DAY_US ? { ...c, commitTsUs: c.commitTsUs + DAY_US } : c,
  );
}

const backfill = (extra: string[]) =>
  runCli(
    [
      'backfill',
      '--date',
      DAY1,
      '--to',
      DAY3,
      '--lake',
      lakeDir,
      '--clickhouse-url',
      stack.clickhouseUrl,
      '--db-suffix',
      suffix,
      '--format',
      'iceberg',
      ...extra,
    ],
    { env: { SHOPDATA_PII_SALT: SALT, SHOPDATA_LOG_LEVEL: 'warn' } },
  );

beforeAll(async () => {
  wh = await openServer();
  suffix = uniqueName('planfirst');
  dbs = await createVault(wh, 'planfirst', suffix);
  const io = openLake(lakeDir);
  const changes = sampleChanges(24, 5);
  for (const t of SOURCE_TABLES) await writeChangelog(io, t, withGap(changes[t]), { format: 'iceberg' });
  io.close();
});

afterAll(async () => {
  await dropVault(wh, dbs);
  await wh.close();
  rmSync(lakeDir, { recursive: true, force: true });
});

describe('backfill of a range with a missing middle day', () => {
  it('refuses the whole range before changing anything, naming the missing day', async () => {
    const before = await vaultSnapshot(wh, dbs);
    const res = await backfill([]);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toContain(
      `no data for ${DAY2} (of ${DAY1} … ${DAY3}) in any table; nothing was changed`,
    );
    expect(res.stderr).toMatch(/--continue-on-missing/);
    expect(await vaultSnapshot(wh, dbs)).toEqual(before);
    expect(Object.values(before).every((rows) => rows.length === 0)).toBe(true);
    const [ledger] = await wh.query<{ n: string }>(`SELECT count() AS n FROM ${dbs.ops}.backfill_ledger`);
    expect(ledger!.n).toBe('0'); // not even a ledger row
  });

  it('with --continue-on-missing rebuilds the other days, reports the gap and records the loads', async () => {
    const res = await backfill(['--continue-on-missing', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as {
      days: Array<{
        day: string;
        status: string;
        skipped?: string;
        runId: string;
        vault: Record<string, { rows: number }>;
      }>;
    };
    expect(out.days.map((d) => [d.day, d.status])).toEqual([
      [DAY1, 'done'],
      [DAY2, 'skipped'],
      [DAY3, 'done'],
    ]);
    expect(out.days[1]!.skipped).toContain('no data');
    expect(res.stderr).toContain(`skipping it (--continue-on-missing)`);
    const days = await wh.query<{ d: string }>(
      `SELECT DISTINCT toString(toDate(effective_ts)) AS d FROM ${dbs.vault}.sat_user ORDER BY d`,
    );
    expect(days.map((r) => r.d)).toEqual([DAY1, DAY3]);

    // <ops>.loads: one row per vault table and record source of each rebuilt day, rows as written.
    const loads = await wh.query<{ run_id: string; vault_table: string; rows: string }>(
      `SELECT run_id, vault_table, toString(sum(rows)) AS rows FROM ${dbs.ops}.loads WHERE command = 'backfill' GROUP BY run_id, vault_table`,
    );
    for (const d of out.days.filter((x) => x.status === 'done')) {
      const mine = loads.filter((l) => l.run_id === d.runId);
      expect(mine.length).toBeGreaterThan(0);
      for (const [table, v] of Object.entries(d.vault)) {
        // Satellites: the staged rows of the day (no streamed rows to carry over here).
        expect(Number(mine.find((l) => l.vault_table === table)?.rows ?? 0), `${d.day} ${table}`).toBe(
          v.rows,
        );
      }
    }
  });
});
