import type { SourceTable } from '../vault/types.js';
import type { LakeIO } from './io.js';
import { pathTable, type IcebergTableRef } from './iceberg/table.js';

/**
 * The lake's Iceberg changelog tables, addressed by source table: path-based
 * (`<lake>/iceberg/<table>`, docs/CONTRACT.md §5) or `<namespace>.<table>` of a REST catalog.
 */
export interface LakeTables {
  /** For messages and results: the lake root, or `<catalog uri> <namespace>`. */
  readonly description: string;
  readonly io: LakeIO;
  ref(table: SourceTable): IcebergTableRef;
}

export function pathTables(io: LakeIO): LakeTables {
  return {
    description: io.root,
    io,
    ref: (table) => pathTable(io, io.url('iceberg', table)),
  };
}
