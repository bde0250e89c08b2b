import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog, readChangelog, lakeTableUri } from '../../../src/lib/lake/index.js';
import { icebergDeleteEquality } from '../../../src/lib/lake/iceberg/writer.js';
import { decodeAvro } from '../../../src/lib/lake/iceberg/avro.js';
import {
  loadTableMetadata,
  parseJsonExact,
  stringifyJsonExact,
  type TableMetadata,
} from '../../../src/lib/lake/iceberg/metadata.js';
import { LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';

const DAY = '2026-11-23';
const T0 = Date.parse(`${DAY}T00:00:00Z`) * 1000;
const rating = (id: number, stars: number): SourceChange => ({
  table: 'ratings',
  op: 'c',
  row: { _id: `r${id}`, user_id: id, product_id: 100 + id, stars, comment: null, ts: T0 + id * 1000 },
  commitTsUs: T0 + id * 1_000_000,
});

describe('tables that get many commits stay small to read', () => {
  it('merges manifests past the threshold, expires old snapshots, trims the metadata log; rows unchanged', async () => {
    const io = openLake(mkdtempSync(join(tmpdir(), 'lake-maint-')));
    const uri = lakeTableUri(io, 'iceberg', 'ratings');
    await writeChangelog(io, 'ratings', [rating(0, 5)], { format: 'iceberg' });
    // Small limits through the table's own properties (the Iceberg names), so no clock is involved.
    const current = (await loadTableMetadata(io, uri))!;
    const md = parseJsonExact<TableMetadata>(readFileSync(current.uri, 'utf8'));
    md.properties = {
      ...md.properties,
      'commit.manifest.min-count-to-merge': '4',
      'history.expire.max-snapshot-age-ms': '0',
      'history.expire.min-snapshots-to-keep': '3',
      'write.metadata.previous-versions-max': '2',
    };
    writeFileSync(current.uri, stringifyJsonExact(md, 2));
    for (let i = 1; i <= 9; i++)
      await writeChangelog(io, 'ratings', [rating(i, i % 5)], { format: 'iceberg' });
    // An equality delete after the merges still applies only to older rows.
    await icebergDeleteEquality(io, uri, LAKE_SCHEMAS.ratings, DAY, ['_id'], [{ _id: 'r3' }]);
    await writeChangelog(io, 'ratings', [rating(3, 1)], { format: 'iceberg' });

    const after = (await loadTableMetadata(io, uri))!;
    expect(after.metadata.snapshots).toHaveLength(3);
    expect(after.metadata['metadata-log']).toHaveLength(2);
    const snap = after.metadata.snapshots!.find(
      (s) => String(s['snapshot-id']) === String(after.metadata['current-snapshot-id']),
    )!;
    const list = await decodeAvro<{ content: number; existing_files_count: number }>(
      await io.read(snap['manifest-list']),
    );
    expect(list.records.length).toBeLessThanOrEqual(5);
    expect(list.records.some((m) => m.existing_files_count > 1)).toBe(true);
    const rows = await readChangelog(io, 'ratings', { format: 'iceberg', from: DAY, to: DAY });
    const want = [
      ...Array.from({ length: 10 }, (_, i) => i)
        .filter((i) => i !== 3)
        .map((i) => `r${i}:${i === 0 ? 5 : i % 5}`),
      'r3:1',
    ];
    expect(rows.map((c) => `${c.row._id}:${c.row.stars}`).sort()).toEqual(want.sort());
  });
});
