import { describe, it, expect, afterAll } from 'vitest';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog, readChangelog, lakeTableUri } from '../../../src/lib/lake/index.js';
import { icebergDeletePositions } from '../../../src/lib/lake/iceberg/writer.js';
import { loadTableMetadata } from '../../../src/lib/lake/iceberg/metadata.js';
import { LAKE_SCHEMAS, icebergSchemaOf } from '../../../src/lib/lake/schema.js';
import { SOURCE_TABLES, type SourceChange } from '../../../src/lib/vault/types.js';
import { stack } from '../../helpers/stack.js';
import { sampleChanges, onDay, DAY1, DAY2 } from '../../fixtures/lake/changes.js';
import { pyTool, s3Lake, expectedRow, sortRows, repoTmpDir, removeTmpDirs } from './helpers.js';

const opened: LakeIO[] = [];
function lake(uri: string): LakeIO {
  const io = openLake(uri, { s3Endpoint: stack.s3Endpoint });
  opened.push(io);
  return io;
}
afterAll(() => {
  opened.forEach((io) => io.close());
  removeTmpDirs();
});
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

const changes = sampleChanges(16);

async function pyRead(io: LakeIO, table: (typeof SOURCE_TABLES)[number], snapshotId?: string) {
  const md = await loadTableMetadata(io, lakeTableUri(io, 'iceberg', table));
  return pyTool<{ rows: Record<string, unknown>[] }>('read', {
    metadata: md!.uri,
    ...(snapshotId ? { snapshot_id: BigInt(snapshotId) } : {}),
  });
}

describe('our Iceberg tables read back identically in pyiceberg', () => {
  for (const where of ['s3', 'local'] as const) {
    it(`every table, ${where} lake`, async () => {
      const io = lake(where === 's3' ? s3Lake('interop') : repoTmpDir('interop'));
      for (const table of SOURCE_TABLES) {
        const cs = changes[table];
        await writeChangelog(io, table, cs.slice(0, 8), { format: 'iceberg' });
        await writeChangelog(io, table, cs.slice(8), { format: 'iceberg', codec: 'SNAPPY' });
        const py = await pyRead(io, table);
        expect(sortRows(py.rows), table).toEqual(sortRows(cs.map(expectedRow)));
        // And our own reader agrees, per day.
        for (const day of [DAY1, DAY2]) {
          const ours = await readChangelog(io, table, { format: 'iceberg', from: day, to: day });
          expect(sortRows(ours.map(expectedRow)), `${table} ${day}`).toEqual(
            sortRows(onDay(cs, day).map(expectedRow)),
          );
        }
      }
    });
  }

  it('position deletes are honoured the same way by pyiceberg and by us', async () => {
    const io = lake(s3Lake('posdel'));
    const cs = changes.ratings;
    const w = await writeChangelog(io, 'ratings', cs, { format: 'iceberg' });
    const f = w.files.find((x) => x.day === DAY1)!;
    await icebergDeletePositions(io, lakeTableUri(io, 'iceberg', 'ratings'), LAKE_SCHEMAS.ratings, [
      { dataFile: f.uri, day: DAY1, positions: [0, 2] },
    ]);
    const day1 = onDay(cs, DAY1);
    const remaining = [...day1.filter((_, i) => i !== 0 && i !== 2), ...onDay(cs, DAY2)];
    const py = await pyRead(io, 'ratings');
    expect(sortRows(py.rows)).toEqual(sortRows(remaining.map(expectedRow)));
    const ours = await readChangelog(io, 'ratings', { format: 'iceberg', from: DAY1, to: DAY2 });
    expect(sortRows(ours.map(expectedRow))).toEqual(sortRows(remaining.map(expectedRow)));
    // pinned to the snapshot before the delete, pyiceberg and we still see everything
    const pinned = await pyRead(io, 'ratings', w.snapshotId);
    expect(pinned.rows).toHaveLength(cs.length);
    const oursPinned = await readChangelog(io, 'ratings', {
      format: 'iceberg',
      from: DAY1,
      to: DAY2,
      snapshotId: BigInt(w.snapshotId!),
    });
    expect(oursPinned).toHaveLength(cs.length);
  });
});

describe('pyiceberg-written tables (schema change, copy-on-write deletes) read correctly', () => {
  it('users: a renamed and an added column, a delete, three appends', async () => {
    const lakeUri = s3Lake('pyice');
    const io = lake(lakeUri);
    const schema = icebergSchemaOf(LAKE_SCHEMAS.users) as unknown as { fields: { name: string }[] };
    // Created with `display_name`, renamed to `full_name` later: old files keep the old name.
    const initial = {
      ...schema,
      fields: schema.fields.map((f) => (f.name === 'full_name' ? { ...f, name: 'display_name' } : f)),
    };
    const cs = changes.users;
    const asInitial = (c: SourceChange) => {
      const r = expectedRow(c);
      const { full_name, ...rest } = r;
      return { ...rest, display_name: full_name };
    };
    const doomed = cs[3]!;
    const res = await pyTool<{ snapshots: string[]; metadata: string }>('scenario', {
      lake: lakeUri,
      table: 'users',
      schema: initial,
      steps: [
        { append: cs.slice(0, 6).map(asInitial) },
        { rename: ['display_name', 'full_name'] },
        { add_column: ['tier', 'string'] },
        { append: cs.slice(6, 12).map((c) => ({ ...expectedRow(c), tier: 'gold' })) },
        { delete: `__ts == ${doomed.commitTsUs}` },
        { append: cs.slice(12).map(expectedRow) },
      ],
    });
    expect(res.snapshots).toHaveLength(6);
    const expected = cs.filter((c) => c !== doomed);
    for (const day of [DAY1, DAY2]) {
      const ours = await readChangelog(io, 'users', { format: 'auto', from: day, to: day });
      expect(sortRows(ours.map(expectedRow)), day).toEqual(sortRows(onDay(expected, day).map(expectedRow)));
    }
    // Pinned before the delete (snapshot after the second append): the doomed row is there.
    const pinned = await readChangelog(io, 'users', {
      format: 'iceberg',
      from: DAY1,
      to: DAY2,
      snapshotId: BigInt(res.snapshots[3]!),
    });
    expect(pinned.map((c) => c.commitTsUs)).toContain(doomed.commitTsUs);
    expect(pinned).toHaveLength(12);
  });
});
