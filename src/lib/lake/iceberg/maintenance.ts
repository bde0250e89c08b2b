import { MS_PER_DAY as DAY_MS } from '../../values/index.js';
import { randomUUID } from 'node:crypto';
import type { LakeIO } from '../io.js';
import type { IcebergSchema } from '../schema.js';
import { encodeAvro, readAvroFile } from './avro.js';
import {
  isManifestEntry,
  manifestEntrySchema,
  manifestHeaders,
  type ManifestEntry,
  type ManifestFile,
} from './manifest.js';
import { sameId, type PartitionSpec, type Snapshot, type TableMetadata } from './metadata.js';

/**
 * What keeps a table that `archive` commits to every minute readable for years, as Iceberg's own
 * writers do by default: manifests are merged once a snapshot has many (commit.manifest.min-count-
 * to-merge, 100), snapshots older than history.expire.max-snapshot-age-ms (5 days) leave the
 * metadata (at least history.expire.min-snapshots-to-keep, 1, stay), and the metadata log keeps the
 * last write.metadata.previous-versions-max (100) entries. Files are not deleted: data files stay
 * referenced by the current snapshot (the tables are append-only), and manifest lists or merged
 * manifests of expired snapshots are left for an orphan-file cleanup (Spark's or pyiceberg's).
 */

function prop(md: TableMetadata, key: string, fallback: number): number {
  const v = Number(md.properties?.[key]);
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

/**
 * The manifest list of the new snapshot: `fresh` manifests first, then the parent's; when there are
 * more than the threshold, the parent's data manifests of `spec` become one manifest whose entries
 * are EXISTING with their data and file sequence numbers kept (deletes keep applying the same way).
 */
export async function mergeManifests(
  io: LakeIO,
  location: string,
  fresh: ManifestFile[],
  previous: ManifestFile[],
  c: { spec: PartitionSpec; schema: IcebergSchema; md: TableMetadata; snapshotId: bigint; seq: number },
): Promise<ManifestFile[]> {
  const threshold = prop(c.md, 'commit.manifest.min-count-to-merge', 100);
  const mergeable = previous.filter(
    (m) => (m.content ?? 0) === 0 && m.partition_spec_id === c.spec['spec-id'],
  );
  if (fresh.length + previous.length <= threshold || mergeable.length < 2) return [...fresh, ...previous];
  const entries: ManifestEntry[] = [];
  let minSeq: bigint | undefined;
  let lower: number | undefined;
  let upper: number | undefined;
  for (const m of mergeable) {
    const inherited = BigInt(m.sequence_number ?? 0);
    const file = await readAvroFile<ManifestEntry>(io, m.manifest_path, 'manifest', isManifestEntry);
    for (const e of file.records) {
      if (e.status === 2) continue; // deleted in that manifest's snapshot: gone from the table
      const dataSeq = e.sequence_number ?? inherited;
      const fileSeq = e.file_sequence_number ?? dataSeq;
      minSeq = minSeq === undefined || BigInt(dataSeq) < minSeq ? BigInt(dataSeq) : minSeq;
      entries.push({
        status: 0,
        snapshot_id: e.snapshot_id ?? m.added_snapshot_id,
        sequence_number: dataSeq,
        file_sequence_number: fileSeq,
        data_file: e.data_file,
      });
    }
    for (const s of m.partitions ?? []) {
      const lo = s.lower_bound ? Buffer.from(s.lower_bound).readInt32LE(0) : undefined;
      const hi = s.upper_bound ? Buffer.from(s.upper_bound).readInt32LE(0) : undefined;
      if (lo !== undefined) lower = Math.min(lower ?? lo, lo);
      if (hi !== undefined) upper = Math.max(upper ?? hi, hi);
    }
  }
  const bytes = await encodeAvro(
    manifestEntrySchema(c.spec),
    entries,
    manifestHeaders(c.schema, c.spec, 'data'),
  );
  const uri = `${location}/metadata/${randomUUID()}-m0.avro`;
  await io.write(uri, bytes);
  const rows = entries.reduce((n, e) => n + Number(e.data_file.record_count), 0);
  const merged: ManifestFile = {
    manifest_path: uri,
    manifest_length: bytes.byteLength,
    partition_spec_id: c.spec['spec-id'],
    content: 0,
    sequence_number: c.seq,
    min_sequence_number: minSeq ?? c.seq,
    added_snapshot_id: c.snapshotId,
    added_files_count: 0,
    existing_files_count: entries.length,
    deleted_files_count: 0,
    added_rows_count: 0,
    existing_rows_count: rows,
    deleted_rows_count: 0,
    partitions:
      c.spec.fields.length === 0
        ? []
        : [
            {
              contains_null: false,
              contains_nan: false,
              lower_bound: lower === undefined ? null : int32(lower),
              upper_bound: upper === undefined ? null : int32(upper),
            },
          ],
    key_metadata: null,
  };
  const kept = previous.filter((m) => !mergeable.includes(m));
  return [...fresh, merged, ...kept];
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

/**
 * Drops snapshots older than the table's retention from `md` (never the current one or the newest
 * `min-snapshots-to-keep`), with their snapshot-log entries, and trims the metadata log. Returns the
 * ids dropped (a catalog commit sends them as `remove-snapshots`).
 */
export function expireSnapshots(md: TableMetadata, nowMs: number): bigint[] {
  const maxAge = prop(md, 'history.expire.max-snapshot-age-ms', 5 * DAY_MS);
  const minKeep = Math.max(1, prop(md, 'history.expire.min-snapshots-to-keep', 1));
  const snapshots = [...(md.snapshots ?? [])].sort((a, b) => b['timestamp-ms'] - a['timestamp-ms']);
  const current = md.refs?.main?.['snapshot-id'] ?? md['current-snapshot-id'];
  const referenced = Object.values(md.refs ?? {}).map((r) => r['snapshot-id']);
  const drop = snapshots.filter(
    (s: Snapshot, i) =>
      i >= minKeep &&
      nowMs - s['timestamp-ms'] > maxAge &&
      !sameId(s['snapshot-id'], current) &&
      !referenced.some((r) => sameId(r, s['snapshot-id'])),
  );
  if (drop.length > 0) {
    const gone = new Set(drop.map((s) => String(s['snapshot-id'])));
    md.snapshots = (md.snapshots ?? []).filter((s) => !gone.has(String(s['snapshot-id'])));
    md['snapshot-log'] = (md['snapshot-log'] ?? []).filter((e) => !gone.has(String(e['snapshot-id'])));
  }
  const maxLog = prop(md, 'write.metadata.previous-versions-max', 100);
  const log = md['metadata-log'] ?? [];
  if (log.length > maxLog) md['metadata-log'] = log.slice(log.length - maxLog);
  return drop.map((s) => BigInt(s['snapshot-id']));
}
