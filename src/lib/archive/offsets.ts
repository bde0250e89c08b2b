import type { Snapshot, TableMetadata } from '../lake/iceberg/metadata.js';
import { sameId } from '../lake/iceberg/metadata.js';

/**
 * What a lake table has archived, kept in its snapshot summaries (the Iceberg way: the table's
 * own commits carry the positions they cover, so the lake and its positions never disagree).
 *
 * - `shopdata.archive.offsets`: JSON `{"<topic>": {"<partition>": "<next offset>"}}`, merged over
 *   every partition the table has seen (several archive processes may write one table).
 * - `shopdata.archive.file`: JSON `{"path", "position", "lines"}` of a replay file: every line
 *   before `position` is in the lake (all tables), a lower bound to resume reading from.
 *
 * The Apache Iceberg Kafka Connect sink keeps its own (control-topic) offsets under
 * `kafka.connect.offsets.<control topic>.<group>`; its source offsets are its consumer group's.
 */
export const OFFSETS_PROPERTY = 'shopdata.archive.offsets';
export const FILE_PROPERTY = 'shopdata.archive.file';
export const SINK_OFFSETS_PREFIX = 'kafka.connect.offsets.';
export const SINK_VALID_THROUGH = ['kafka.connect.vtts', 'kafka.connect.valid-through-ts'] as const;

export type OffsetMap = Map<string, bigint>;

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export function splitTpKey(key: string): { topic: string; partition: number } {
  const i = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

/** The snapshots of the main branch, newest first (the current one, then its parents). */
export function* ancestry(md: TableMetadata): Generator<Snapshot> {
  const byId = new Map((md.snapshots ?? []).map((s) => [String(s['snapshot-id']), s]));
  let id = md.refs?.main?.['snapshot-id'] ?? md['current-snapshot-id'];
  const seen = new Set<string>();
  while (id !== undefined && id !== null && !seen.has(String(id))) {
    seen.add(String(id));
    const s = byId.get(String(id));
    if (!s) return;
    yield s;
    id = s['parent-snapshot-id'];
  }
}

/** The newest snapshot of the main branch that carries `property`. */
export function latestWith(md: TableMetadata | undefined, property: string): Snapshot | undefined {
  if (!md) return undefined;
  for (const s of ancestry(md)) if (s.summary?.[property] !== undefined) return s;
  return undefined;
}

/** The archived Kafka positions of a table: `topic\0partition` → next offset to archive. */
export function archivedOffsets(md: TableMetadata | undefined): OffsetMap {
  const out: OffsetMap = new Map();
  const s = latestWith(md, OFFSETS_PROPERTY);
  if (!s) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s.summary[OFFSETS_PROPERTY]!);
  } catch {
    return out;
  }
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const [topic, parts] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof parts !== 'object' || parts === null) continue;
    for (const [p, off] of Object.entries(parts as Record<string, unknown>)) {
      if (/^\d+$/.test(p) && typeof off === 'string' && /^\d+$/.test(off))
        out.set(tpKey(topic, Number(p)), BigInt(off));
    }
  }
  return out;
}

export function encodeOffsets(offsets: OffsetMap): string {
  const obj: Record<string, Record<string, string>> = {};
  for (const [k, v] of [...offsets].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const { topic, partition } = splitTpKey(k);
    (obj[topic] ??= {})[String(partition)] = v.toString();
  }
  return JSON.stringify(obj);
}

export interface FilePosition {
  path: string;
  /** Byte position: every complete line before it is in the lake. */
  position: number;
  /** Lines before `position` (-1: not known). */
  lines: number;
  /** SHA-256 of the file's first `headBytes` bytes: the same file, not another one at that path. */
  headBytes: number;
  headSha256: string;
}

/** The newest position of replay file `path` that a table's snapshots record. */
export function archivedFilePosition(md: TableMetadata | undefined, path: string): FilePosition | undefined {
  if (!md) return undefined;
  for (const s of ancestry(md)) {
    const raw = s.summary?.[FILE_PROPERTY];
    if (raw === undefined) continue;
    try {
      const v = JSON.parse(raw) as FilePosition;
      if (
        v.path === path &&
        Number.isSafeInteger(v.position) &&
        v.position >= 0 &&
        Number.isSafeInteger(v.headBytes) &&
        typeof v.headSha256 === 'string'
      )
        return v;
    } catch {
      // ignore a malformed value: reading starts over, and offsets still deduplicate
    }
  }
  return undefined;
}

/** The snapshot a table's current ref points at (undefined: empty table). */
export function currentSnapshot(md: TableMetadata | undefined): Snapshot | undefined {
  if (!md) return undefined;
  const id = md.refs?.main?.['snapshot-id'] ?? md['current-snapshot-id'];
  return (md.snapshots ?? []).find((s) => sameId(s['snapshot-id'], id));
}
