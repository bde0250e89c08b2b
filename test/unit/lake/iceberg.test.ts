import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog, readChangelog, planTableDays, lakeTableUri } from '../../../src/lib/lake/index.js';
import { icebergDeleteEquality, icebergDeletePositions } from '../../../src/lib/lake/iceberg/writer.js';
import {
  loadTableMetadata,
  parseJsonExact,
  stringifyJsonExact,
} from '../../../src/lib/lake/iceberg/metadata.js';
import { LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';

const DAY1 = Date.parse('2026-11-23T00:00:00Z') * 1000;
const DAY2 = Date.parse('2026-11-24T00:00:00Z') * 1000;
const H = 3_600_000_000;

function rating(id: number, stars: number, ts: number, op: SourceChange['op'] = 'c'): SourceChange {
  return {
    table: 'ratings',
    op,
    row: {
      _id: `r${id}`,
      user_id: id,
      product_id: 100 + id,
      stars,
      comment: op === 'd' ? null : `c${id}`,
      ts,
    },
    commitTsUs: ts,
  };
}

describe('exact JSON', () => {
  it('keeps 63-bit snapshot ids', () => {
    const parsed = parseJsonExact<{ id: bigint; small: number }>('{"id": 9223372036854775807, "small": 3}');
    expect(parsed.id).toBe(9223372036854775807n);
    expect(parsed.small).toBe(3);
    expect(stringifyJsonExact(parsed)).toBe('{"id":9223372036854775807,"small":3}');
  });
});

describe('iceberg writer → reader', () => {
  it('appends snapshots, prunes by day, pins snapshots and honours deletes', async () => {
    const io = openLake(mkdtempSync(join(tmpdir(), 'lake-ice-')));
    const first = [rating(1, 5, DAY1 + H), rating(2, 4, DAY1 + 2 * H), rating(3, 3, DAY2 + H)];
    const w1 = await writeChangelog(io, 'ratings', first, { format: 'iceberg' });
    expect(w1.files.map((f) => f.day)).toEqual(['2026-11-23', '2026-11-24']);
    const second = [rating(4, 1, DAY1 + 3 * H), rating(2, 2, DAY1 + 4 * H, 'u')];
    const w2 = await writeChangelog(io, 'ratings', second, { format: 'iceberg' });

    const day1 = await readChangelog(io, 'ratings', { format: 'auto', from: '2026-11-23', to: '2026-11-23' });
    expect(day1.map((c) => c.row._id).sort()).toEqual(['r1', 'r2', 'r2', 'r4']);
    const plan = await planTableDays(io, 'ratings', {
      format: 'iceberg',
      from: '2026-11-24',
      to: '2026-11-24',
    });
    expect(plan?.format === 'iceberg' && plan.dataFiles.length).toBe(1);

    // Pinned to the first snapshot: the second append is invisible.
    const pinned = await readChangelog(io, 'ratings', {
      format: 'iceberg',
      from: '2026-11-23',
      to: '2026-11-23',
      snapshotId: BigInt(w1.snapshotId!),
    });
    expect(pinned).toEqual(
      first
        .slice(0, 2)
        .map((c) => expect.objectContaining({ row: c.row, op: c.op, commitTsUs: c.commitTsUs })),
    );

    // --as-of: the snapshot that was current at the first commit's time.
    const md1 = await loadTableMetadata(io, lakeTableUri(io, 'iceberg', 'ratings'));
    const firstTs = md1!.metadata['snapshot-log']![0]!['timestamp-ms'];
    const asOf = await readChangelog(io, 'ratings', {
      format: 'iceberg',
      from: '2026-11-23',
      to: '2026-11-24',
      asOfMs: firstTs,
    });
    expect(asOf).toHaveLength(3);
    await expect(
      readChangelog(io, 'ratings', {
        format: 'iceberg',
        from: '2026-11-23',
        to: '2026-11-24',
        asOfMs: firstTs - 1,
      }),
    ).rejects.toThrow(/no snapshot at or before/);

    // Position delete: the first row of the day-1 file of snapshot 1; equality delete of r4 (newer file).
    const tableUri = lakeTableUri(io, 'iceberg', 'ratings');
    const f1 = w1.files.find((f) => f.day === '2026-11-23')!;
    await icebergDeletePositions(io, tableUri, LAKE_SCHEMAS.ratings, [
      { dataFile: f1.uri, day: '2026-11-23', positions: [0] },
    ]);
    await icebergDeleteEquality(io, tableUri, LAKE_SCHEMAS.ratings, '2026-11-23', ['_id'], [{ _id: 'r4' }]);
    const after = await readChangelog(io, 'ratings', {
      format: 'iceberg',
      from: '2026-11-23',
      to: '2026-11-24',
    });
    expect(after.map((c) => `${c.row._id}:${c.row.stars}`).sort()).toEqual(['r2:2', 'r2:4', 'r3:3']);
    // An equality delete written before a row does not delete it.
    await writeChangelog(io, 'ratings', [rating(4, 5, DAY1 + 5 * H)], { format: 'iceberg' });
    const again = await readChangelog(io, 'ratings', {
      format: 'iceberg',
      from: '2026-11-23',
      to: '2026-11-23',
    });
    expect(again.map((c) => `${c.row._id}:${c.row.stars}`).sort()).toEqual(['r2:2', 'r2:4', 'r4:5']);

    const md = await loadTableMetadata(io, tableUri);
    expect(md?.version).toBe(5);
    expect(md?.metadata.snapshots).toHaveLength(5);
    expect(String(md?.metadata['current-snapshot-id'])).not.toBe(w2.snapshotId);
  });

  it('returns nothing for a table that is not in the lake', async () => {
    const io = openLake(mkdtempSync(join(tmpdir(), 'lake-ice-')));
    expect(
      await planTableDays(io, 'users', { format: 'auto', from: '2026-11-23', to: '2026-11-23' }),
    ).toBeUndefined();
  });
});
