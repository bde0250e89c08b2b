import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { lakeStatus } from '../../../src/lib/lake/status.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { sampleChanges, DAY1, DAY2 } from '../../fixtures/lake/changes.js';

describe('lake status (no Kafka)', () => {
  it('snapshot, rows and files per day, Iceberg and Parquet, missing tables', async () => {
    const io = openLake(mkdtempSync(join(tmpdir(), 'lake-status-')));
    const changes = sampleChanges(12);
    const w1 = await writeChangelog(io, 'ratings', changes.ratings.slice(0, 6), { format: 'iceberg' });
    const w2 = await writeChangelog(io, 'ratings', changes.ratings.slice(6), { format: 'iceberg' });
    await writeChangelog(io, 'users', changes.users, { format: 'parquet' });
    const r = await lakeStatus({
      io,
      router: new TopicRouter(),
      until: DAY2,
      days: 3,
      sinkGroup: 'connect-shop-lake',
    });
    expect(r.kafka).toBe(false);
    const ratings = r.tables.find((t) => t.table === 'ratings')!;
    expect(ratings.format).toBe('iceberg');
    expect(ratings.writer).toBe('other');
    expect(ratings.snapshot?.id).toBe(w2.snapshotId);
    expect(ratings.snapshot?.totalRecords).toBe(changes.ratings.length);
    expect(ratings.days.map((d) => d.day)).toEqual([DAY2, DAY1, '2026-11-22']);
    const perDay = (day: string) =>
      changes.ratings.filter((c) => new Date(c.commitTsUs / 1000).toISOString().startsWith(day)).length;
    expect(ratings.days.map((d) => d.rows)).toEqual([perDay(DAY2), perDay(DAY1), 0]);
    expect(ratings.days[0]!.files).toBe(
      w1.files.filter((f) => f.day === DAY2).length + w2.files.filter((f) => f.day === DAY2).length,
    );
    expect(ratings.lastDay).toBe(DAY2);
    const users = r.tables.find((t) => t.table === 'users')!;
    expect(users.format).toBe('parquet');
    expect(users.days.reduce((n, d) => n + d.rows, 0)).toBe(changes.users.length);
    expect(r.tables.find((t) => t.table === 'sellers')!.format).toBe('missing');
    io.close();
  });
});

describe('lake freshness (top)', () => {
  it('ages of the newest and oldest snapshot, tables present, no lag without Kafka', async () => {
    const { lakeFreshness } = await import('../../../src/lib/lake/status.js');
    const io = openLake(mkdtempSync(join(tmpdir(), 'lake-fresh-')));
    const changes = sampleChanges(6);
    expect((await lakeFreshness(io, undefined)).tables).toBe(0);
    const w1 = await writeChangelog(io, 'users', changes.users, { format: 'iceberg' });
    const w2 = await writeChangelog(io, 'ratings', changes.ratings, { format: 'iceberg' });
    const { loadTableMetadata } = await import('../../../src/lib/lake/iceberg/metadata.js');
    const t1 = (await loadTableMetadata(io, io.url('iceberg', 'users')))!.metadata.snapshots![0]![
      'timestamp-ms'
    ];
    const t2 = (await loadTableMetadata(io, io.url('iceberg', 'ratings')))!.metadata.snapshots![0]![
      'timestamp-ms'
    ];
    expect(w1.snapshotId && w2.snapshotId).toBeTruthy();
    const now = Math.max(t1, t2) + 10_000;
    const f = await lakeFreshness(io, undefined, now);
    expect(f.tables).toBe(2);
    expect(f.newestCommitSeconds).toBe((now - Math.max(t1, t2)) / 1000);
    expect(f.oldestCommitSeconds).toBe((now - Math.min(t1, t2)) / 1000);
    expect(f.oldestTable).toBe(t1 <= t2 ? 'users' : 'ratings');
    expect(f.lag).toBeNull();
    io.close();
  });
});
