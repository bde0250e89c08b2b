import { READ_LIMITS, type LakeIO } from '../io.js';
import { DataProblemError, UsageError } from '../../errors/index.js';
import type { IcebergSchema } from '../schema.js';

/** The parts of Iceberg table metadata (format v1/v2) that shopdata reads and writes. */
export type Long = number | bigint;

export interface PartitionField {
  'source-id': number;
  'field-id': number;
  name: string;
  transform: string;
}
export interface PartitionSpec {
  'spec-id': number;
  fields: PartitionField[];
}
export interface Snapshot {
  'snapshot-id': Long;
  'parent-snapshot-id'?: Long | null;
  'sequence-number'?: number;
  'timestamp-ms': number;
  'manifest-list': string;
  summary: Record<string, string>;
  'schema-id'?: number;
}
export interface TableMetadata {
  'format-version': number;
  'table-uuid': string;
  location: string;
  'last-sequence-number'?: number;
  'last-updated-ms': number;
  'last-column-id': number;
  'current-schema-id': number;
  schemas: IcebergSchema[];
  'default-spec-id': number;
  'partition-specs': PartitionSpec[];
  'last-partition-id': number;
  'default-sort-order-id'?: number;
  'sort-orders'?: unknown[];
  properties?: Record<string, string>;
  'current-snapshot-id'?: Long | null;
  refs?: Record<string, { 'snapshot-id': Long; type: string }>;
  snapshots?: Snapshot[];
  'snapshot-log'?: { 'snapshot-id': Long; 'timestamp-ms': number }[];
  'metadata-log'?: { 'metadata-file': string; 'timestamp-ms': number }[];
  [key: string]: unknown;
}

/** JSON.parse that keeps 64-bit ids exact (Node 22 gives revivers the number's source text). */
export function parseJsonExact<T>(text: string): T {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (
      typeof value === 'number' &&
      !Number.isSafeInteger(value) &&
      context?.source &&
      /^-?\d+$/.test(context.source)
    ) {
      return BigInt(context.source);
    }
    return value;
  }) as T;
}

export function stringifyJsonExact(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === 'bigint' ? `__bigint__${v}` : v),
    indent,
  ).replace(/"__bigint__(-?\d+)"/g, '$1');
}

export function sameId(a: Long | null | undefined, b: Long | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return false;
  return BigInt(a) === BigInt(b);
}

/** Version number of a metadata file name: `v12.metadata.json` or `00012-<uuid>.metadata.json`. */
export function metadataVersion(name: string): number | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const m = /^v(\d+)\.metadata\.json$/.exec(base) ?? /^(\d+)-[^/]*\.metadata\.json$/.exec(base);
  return m ? Number(m[1]) : undefined;
}

export interface LoadedMetadata {
  uri: string;
  version: number | undefined;
  metadata: TableMetadata;
}

/**
 * The table's current metadata: a given file, else the version hint, else the highest version in
 * `metadata/`. Returns undefined when the table does not exist (no metadata at all).
 */
export async function loadTableMetadata(
  io: LakeIO,
  tableUri: string,
  metadataFile?: string,
): Promise<LoadedMetadata | undefined> {
  if (metadataFile) {
    const uri = /^(s3a?:\/\/|\/|file:)/.test(metadataFile)
      ? metadataFile
      : `${tableUri}/metadata/${metadataFile}`;
    return { uri, version: metadataVersion(uri), metadata: await readMetadata(io, uri) };
  }
  const hintUri = `${tableUri}/metadata/version-hint.text`;
  if ((await io.size(hintUri)) !== undefined) {
    const hint = new TextDecoder().decode(await io.read(hintUri, { maxBytes: 4096 })).trim();
    const candidates = /^\d+$/.test(hint)
      ? [`${tableUri}/metadata/v${hint}.metadata.json`]
      : hint.endsWith('.metadata.json')
        ? [hint.includes('/') ? hint : `${tableUri}/metadata/${hint}`]
        : [];
    for (const uri of candidates) {
      if ((await io.size(uri)) !== undefined) {
        // The hint may lag behind a commit whose hint write was lost: prefer a newer version.
        const newer = await highestMetadata(io, tableUri);
        const use = newer && (newer.version ?? 0) > (metadataVersion(uri) ?? 0) ? newer.uri : uri;
        return { uri: use, version: metadataVersion(use), metadata: await readMetadata(io, use) };
      }
    }
  }
  const best = await highestMetadata(io, tableUri);
  if (!best) return undefined;
  return { uri: best.uri, version: best.version, metadata: await readMetadata(io, best.uri) };
}

async function highestMetadata(
  io: LakeIO,
  tableUri: string,
): Promise<{ uri: string; version: number | undefined } | undefined> {
  const files = (await io.list(`${tableUri}/metadata`)).filter((o) => o.uri.endsWith('.metadata.json'));
  let best: { uri: string; version: number | undefined } | undefined;
  for (const f of files) {
    const v = metadataVersion(f.uri);
    if (v === undefined) continue;
    if (!best || v > (best.version ?? -1)) best = { uri: f.uri, version: v };
  }
  return best;
}

async function readMetadata(io: LakeIO, uri: string): Promise<TableMetadata> {
  const text = new TextDecoder().decode(await io.read(uri, { maxBytes: READ_LIMITS.metadata }));
  let md: TableMetadata;
  try {
    md = parseJsonExact<TableMetadata>(text);
  } catch (err) {
    throw new DataProblemError(`Iceberg metadata ${uri} is not valid JSON: ${(err as Error).message}`, {
      hint: 'Point --metadata-file at an intact metadata file or repair the table.',
    });
  }
  if (typeof md !== 'object' || md === null || typeof md['format-version'] !== 'number') {
    throw new DataProblemError(`Iceberg metadata ${uri} is not table metadata (no format-version).`, {
      hint: 'Point --metadata-file at an intact metadata file or repair the table.',
    });
  }
  return md;
}

export interface SnapshotChoice {
  snapshotId?: Long | undefined;
  /** Epoch ms: the snapshot that was current at that time. */
  asOfMs?: number | undefined;
}

/** The snapshot to read: a pinned id, the one current at `asOfMs`, or the current one (undefined = empty table). */
export function selectSnapshot(
  md: TableMetadata,
  choice: SnapshotChoice,
  tableName: string,
): Snapshot | undefined {
  const snapshots = md.snapshots ?? [];
  if (choice.snapshotId !== undefined) {
    const s = snapshots.find((x) => sameId(x['snapshot-id'], choice.snapshotId));
    if (!s) {
      throw new UsageError(`Iceberg table ${tableName} has no snapshot ${choice.snapshotId}.`, {
        hint: `Known snapshots: ${snapshots.map((x) => String(x['snapshot-id'])).join(', ') || 'none'}.`,
      });
    }
    return s;
  }
  if (choice.asOfMs !== undefined) {
    const log = (md['snapshot-log'] ?? []).filter((e) => e['timestamp-ms'] <= choice.asOfMs!);
    const last = log[log.length - 1];
    if (!last) {
      throw new UsageError(
        `Iceberg table ${tableName} has no snapshot at or before ${new Date(choice.asOfMs).toISOString()}.`,
        {
          hint: 'Pick a later --as-of time.',
        },
      );
    }
    return snapshots.find((x) => sameId(x['snapshot-id'], last['snapshot-id']));
  }
  const current = md.refs?.main?.['snapshot-id'] ?? md['current-snapshot-id'];
  if (current === undefined || current === null || BigInt(current) === -1n) return undefined;
  return snapshots.find((x) => sameId(x['snapshot-id'], current));
}
