import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { runBackfill } from '../../../src/lib/backfill/run.js';
import { ledgerRuns } from '../../../src/lib/backfill/ledger.js';
import { SOURCE_TABLES, type SourceChange } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import { stack } from '../../helpers/stack.js';
import { sampleChanges, onDay, DAY1, DAY2 } from '../../fixtures/lake/changes.js';
import { s3Lake } from '../lake/helpers.js';
import { SALT, createVault, dropVault, loadLikeStream, vaultSnapshot, openServer } from './helpers.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

let wh: Warehouse;
let io: LakeIO;
const dbsList: VaultDatabases[] = [];
const changes = sampleChanges(24, 5);
const all = SOURCE_TABLES.flatMap((t) => changes[t]);

beforeAll(async () => {
  wh = await openServer();
  io = openLake(s3Lake('bfpush'), { s3Endpoint: stack.s3Endpoint });
  for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'iceberg' });
});
afterAll(async () => {
  for (const d of dbsList) await dropVault(wh, d);
  io?.close();
  await wh?.close();
});

async function vault(prefix: string): Promise<VaultDatabases> {
  const d = await createVault(wh, prefix);
  dbsList.push(d);
  return d;
}

describe('backfill push into ClickHouse 18.16 from an S3 Iceberg lake', () => {
  it('corrects a day the stream loaded with missing, doubled and corrupted events', async () => {
    const expectedDbs = await vault('bfexp');
    await loadLikeStream(wh, expectedDbs, onDay(all, DAY1));

    const dbs = await vault('bfgot');
    // The stream: DAY2 right; DAY1 with 3 events missing, 2 doubled and 2 corrupted.
    await loadLikeStream(wh, dbs, onDay(all, DAY2));
    const day1 = onDay(all, DAY1);
    const users = day1.filter((c) => c.table === 'users' && c.op !== 'd');
    const products = day1.filter((c) => c.table === 'products' && c.op !== 'd');
    const missing = new Set<SourceChange>([
      users[0]!,
      products[0]!,
      day1.find((c) => c.table === 'ratings')!,
    ]);
    const corrupted: SourceChange[] = [
      { ...users[1]!, row: { ...users[1]!.row, city: 'Atlantis' } },
      { ...products[1]!, row: { ...products[1]!.row, price: '0.01' } },
    ];
    const streamed = day1.filter((c) => !missing.has(c) && c !== users[1] && c !== products[1]);
    await loadLikeStream(wh, dbs, [...streamed, ...corrupted]);
    await loadLikeStream(wh, dbs, streamed.slice(0, 2)); // doubled
    const before = await vaultSnapshot(wh, dbs);
    expect(before).not.toEqual(await vaultSnapshot(wh, expectedDbs));

    const res = await runBackfill({ wh, io, dbs, days: [DAY1], format: 'auto', mode: 'auto', piiSalt: SALT });
    const day = res.days[0]!;
    expect(day.mode).toBe('push');
    expect(day.status).toBe('done');
    expect(day.verified).toBe(true);
    expect(day.tables.every((t) => t.format === 'iceberg' && t.snapshotId)).toBe(true);

    // DAY1 now equals the ground truth; DAY2 untouched.
    const expectedDay2 = await vault('bfexp2');
    await loadLikeStream(wh, expectedDay2, onDay(all, DAY2));
    await loadLikeStream(wh, expectedDay2, onDay(all, DAY1));
    expect(await vaultSnapshot(wh, dbs)).toEqual(await vaultSnapshot(wh, expectedDay2));

    // The report names the corrections.
    expect(day.corrections.sat_user).toMatchObject({ added: 1, changed: 1, removed: 0 });
    expect(day.corrections.sat_product).toMatchObject({ added: 1, changed: 1, removed: 0 });
    expect(day.corrections.sat_rating!.added).toBe(1);
    expect(Object.values(day.corrections).reduce((s, c) => s + c.duplicates, 0)).toBeGreaterThan(0);

    // Re-running the day: identical checksums, no corrections.
    const again = await runBackfill({
      wh,
      io,
      dbs,
      days: [DAY1],
      format: 'iceberg',
      mode: 'push',
      piiSalt: SALT,
    });
    expect(again.days[0]!.vault).toEqual(day.vault);
    expect(
      Object.values(again.days[0]!.corrections).every((c) => c.added + c.changed + c.removed === 0),
    ).toBe(true);
    const runs = await ledgerRuns(wh, dbs.ops, DAY1);
    expect(runs.map((r) => r.status)).toEqual(['done', 'done']);
    expect(JSON.parse(runs[0]!.checksums)).toEqual(JSON.parse(runs[1]!.checksums));

    // --date DAY1 --to DAY2: both days rebuilt in order, the vault still equals the ground truth.
    const both = await runBackfill({
      wh,
      io,
      dbs,
      days: [DAY1, DAY2],
      format: 'auto',
      mode: 'auto',
      piiSalt: SALT,
    });
    expect(both.days.map((d) => [d.day, d.status])).toEqual([
      [DAY1, 'done'],
      [DAY2, 'done'],
    ]);
    expect(both.days[0]!.vault).toEqual(day.vault);
    expect(await vaultSnapshot(wh, dbs)).toEqual(await vaultSnapshot(wh, expectedDay2));
  });
});
