import type { LakeIO } from '../io.js';
import {
  loadTableMetadata,
  stringifyJsonExact,
  type LoadedMetadata,
  type Snapshot,
  type TableMetadata,
} from './metadata.js';

/**
 * Where an Iceberg table's current metadata lives and how a new version is published: a
 * path-based table (`<lake>/iceberg/<table>`, metadata files created only if absent, docs/CONTRACT.md
 * §5) or a table of a REST catalog (lake/catalog/rest.ts, an atomic commit with requirements).
 * The writer builds data files, manifests and the manifest list the same way for both.
 */
export interface IcebergTableRef {
  /** For messages: the table path, or `namespace.table` of a catalog. */
  readonly name: string;
  /** The IO that reads and writes the table's files. */
  readonly io: LakeIO;
  /** A missing table is created (create()) before the first commit, not by publishing v1. */
  readonly createFirst: boolean;
  /** The current metadata, or undefined when the table does not exist. */
  load(): Promise<LoadedMetadata | undefined>;
  /** Where new data and metadata files go (without trailing slash). */
  location(current: LoadedMetadata | undefined): string;
  /**
   * Creates the table with `initial` (no snapshot) unless it exists; returns the current metadata.
   */
  create(initial: TableMetadata): Promise<LoadedMetadata>;
  /**
   * Makes `next` (= `current` plus `snapshot`) the table's current metadata, only if `current` is
   * still current: 'conflict' when another writer committed first, else the new metadata's location. Throws when the outcome is
   * unknown (a lost response); the caller then reloads and looks for its commit id.
   */
  publish(
    current: LoadedMetadata | undefined,
    next: TableMetadata,
    snapshot: Snapshot,
  ): Promise<{ metadataUri: string } | 'conflict'>;
}

/** A table at a path of the lake: `vN.metadata.json` created if absent, then the version hint. */
export function pathTable(io: LakeIO, tableUri: string): IcebergTableRef {
  const hint = async (version: number) => {
    // Only a shortcut for readers (they prefer a newer vN over the hint): a lost write is harmless.
    await io.write(`${tableUri}/metadata/version-hint.text`, String(version)).catch(() => undefined);
  };
  return {
    name: tableUri,
    io,
    createFirst: false,
    load: () => loadTableMetadata(io, tableUri),
    location: () => tableUri,
    async create(initial) {
      const existing = await loadTableMetadata(io, tableUri);
      if (existing) return existing;
      const uri = `${tableUri}/metadata/v1.metadata.json`;
      if (await io.writeIfAbsent(uri, stringifyJsonExact(initial, 2))) await hint(1);
      return (await loadTableMetadata(io, tableUri))!;
    },
    async publish(current, next) {
      const version = current ? (current.version ?? 0) + 1 : 1;
      const uri = `${tableUri}/metadata/v${version}.metadata.json`;
      if (!(await io.writeIfAbsent(uri, stringifyJsonExact(next, 2)))) return 'conflict';
      await hint(version);
      return { metadataUri: uri };
    },
  };
}
