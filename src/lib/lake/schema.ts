import type { SourceTable } from '../vault/types.js';
import { SOURCE_TABLES } from '../vault/types.js';

/**
 * The lake's changelog tables (docs/CONTRACT.md §5), declared once. The writer derives the Iceberg
 * schema and the Parquet schema from it; the reader uses it to turn whatever physical types a
 * file has (ClickHouse, pyarrow, pyiceberg, ours) into the canonical values of vault/types.ts.
 */
export type LakeType =
  | { kind: 'long' }
  | { kind: 'int' }
  | { kind: 'string' }
  | { kind: 'boolean' }
  | { kind: 'timestamptz' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'list'; elementId: number; element: LakeStruct };

export interface LakeField {
  id: number;
  name: string;
  type: LakeType;
}
export interface LakeStruct {
  kind: 'struct';
  fields: LakeField[];
}

export interface LakeTableSchema {
  table: SourceTable;
  /** Source primary key (`_id` for the Mongo collections): what a delete's before-image holds. */
  key: string[];
  fields: LakeField[];
}

const long = { kind: 'long' } as const;
const int = { kind: 'int' } as const;
const str = { kind: 'string' } as const;
const bool = { kind: 'boolean' } as const;
const ts = { kind: 'timestamptz' } as const;
const money = { kind: 'decimal', precision: 12, scale: 2 } as const;

/** The changelog metadata columns every table ends with. */
export const META_COLUMNS = ['__op', '__ts', '__deleted'] as const;
/**
 * Optional long column: the exact commit time in microseconds (Debezium's `source.ts_us`). The
 * Iceberg Kafka Connect sink can only store `__ts` in milliseconds (Kafka Connect's Timestamp), and
 * the stream orders a row's versions by the microsecond time, so readers take this one when a table
 * has it and the value is not null.
 */
export const EXACT_COMMIT_TIME_COLUMN = '__ts_us';

type Col = [string, LakeType | 'items'];
const COLUMNS: Record<SourceTable, { key: string[]; cols: Col[] }> = {
  sellers: {
    key: ['id'],
    cols: [
      ['id', long],
      ['name', str],
      ['country', str],
      ['created_at', ts],
      ['updated_at', ts],
    ],
  },
  users: {
    key: ['id'],
    cols: [
      ['id', long],
      ['email', str],
      ['full_name', str],
      ['city', str],
      ['created_at', ts],
      ['updated_at', ts],
    ],
  },
  auth_credentials: {
    key: ['user_id'],
    cols: [
      ['user_id', long],
      ['last_login_at', ts],
      ['failed_logins', int],
      ['updated_at', ts],
    ],
  },
  products: {
    key: ['id'],
    cols: [
      ['id', long],
      ['seller_id', long],
      ['sku', str],
      ['name', str],
      ['category', str],
      ['price', money],
      ['active', bool],
      ['created_at', ts],
      ['updated_at', ts],
    ],
  },
  purchases: {
    key: ['_id'],
    cols: [
      ['_id', str],
      ['order_id', str],
      ['user_id', long],
      ['items', 'items'],
      ['ts', ts],
    ],
  },
  cancellations: {
    key: ['_id'],
    cols: [
      ['_id', str],
      ['order_id', str],
      ['user_id', long],
      ['reason', str],
      ['ts', ts],
    ],
  },
  ratings: {
    key: ['_id'],
    cols: [
      ['_id', str],
      ['user_id', long],
      ['product_id', long],
      ['stars', int],
      ['comment', str],
      ['ts', ts],
    ],
  },
};

function buildSchema(table: SourceTable): LakeTableSchema {
  const spec = COLUMNS[table];
  const all: Col[] = [...spec.cols, ['__op', str], ['__ts', ts], ['__deleted', bool]];
  // Top-level ids first (1..n), nested ids after them, as Iceberg assigns them on create.
  let nextId = all.length + 1;
  const fields: LakeField[] = all.map(([name, type], i) => {
    if (type === 'items') {
      const elementId = nextId++;
      const element: LakeStruct = {
        kind: 'struct',
        fields: [
          { id: nextId++, name: 'product_id', type: long },
          { id: nextId++, name: 'qty', type: int },
          { id: nextId++, name: 'unit_price', type: money },
        ],
      };
      return { id: i + 1, name, type: { kind: 'list', elementId, element } };
    }
    return { id: i + 1, name, type };
  });
  return { table, key: spec.key, fields };
}

export const LAKE_SCHEMAS: Record<SourceTable, LakeTableSchema> = Object.fromEntries(
  SOURCE_TABLES.map((t) => [t, buildSchema(t)]),
) as Record<SourceTable, LakeTableSchema>;

export function lastFieldId(schema: LakeTableSchema): number {
  let max = 0;
  const visit = (fs: LakeField[]): void => {
    for (const f of fs) {
      max = Math.max(max, f.id);
      if (f.type.kind === 'list') {
        max = Math.max(max, f.type.elementId);
        visit(f.type.element.fields);
      }
    }
  };
  visit(schema.fields);
  return max;
}

// ---------------------------------------------------------------------------------------------
// Iceberg schema JSON (table metadata, manifest headers)

export type IcebergType =
  | string
  | { type: 'list'; 'element-id': number; element: IcebergType; 'element-required': boolean }
  | IcebergStructType;
export interface IcebergField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergType;
  doc?: string;
}
export interface IcebergStructType {
  type: 'struct';
  fields: IcebergField[];
}
export interface IcebergSchema extends IcebergStructType {
  'schema-id': number;
  'identifier-field-ids'?: number[];
}

function icebergType(t: LakeType): IcebergType {
  switch (t.kind) {
    case 'decimal':
      return `decimal(${t.precision}, ${t.scale})`;
    case 'list':
      return {
        type: 'list',
        'element-id': t.elementId,
        element: { type: 'struct', fields: t.element.fields.map(icebergField) },
        'element-required': false,
      };
    default:
      return t.kind;
  }
}

function icebergField(f: LakeField): IcebergField {
  return { id: f.id, name: f.name, required: false, type: icebergType(f.type) };
}

export function icebergSchemaOf(schema: LakeTableSchema, schemaId = 0): IcebergSchema {
  return { type: 'struct', 'schema-id': schemaId, fields: schema.fields.map(icebergField) };
}

/** The lake column type for an Iceberg type string/object (used to read tables written elsewhere). */
export function lakeTypeFromIceberg(t: IcebergType): LakeType | undefined {
  if (typeof t === 'string') {
    const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
    if (dec) return { kind: 'decimal', precision: Number(dec[1]), scale: Number(dec[2]) };
    if (t === 'long' || t === 'int' || t === 'string' || t === 'boolean') return { kind: t };
    if (t === 'timestamptz' || t === 'timestamp' || t === 'timestamp_ns' || t === 'timestamptz_ns')
      return { kind: 'timestamptz' };
    return undefined;
  }
  return undefined;
}
