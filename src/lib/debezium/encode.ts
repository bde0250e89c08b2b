import { Decimal128, EJSON, Int32, Long, ObjectId } from 'bson';
import type { CanonicalRow, CanonicalValue, SourceChange, SourceTable } from '../vault/types.js';
import { PURCHASE_ITEM_COLUMNS, TABLE_SPECS, type ColumnSpec, type TableSpec } from './source-schema.js';
import { TopicRouter } from './topics.js';
import { isoFromMicros, preciseFromDecimal } from './values.js';

/**
 * Writes a `SourceChange` as the Debezium 3.6 JSON-converter event it came from (key and value),
 * in a chosen flavour: with or without the schema wrapper, numerics as precise bytes / string /
 * double, timestamptz as ZonedTimestamp strings or epoch numbers, MongoDB documents as canonical
 * or relaxed extended JSON. Used by tests, the demo's replay file and to produce MongoDB-connector
 * events into Kafka where no MongoDB replica set exists. decode(encode(x)) == x.
 */

export type DecimalMode = 'precise' | 'string' | 'double';
export type TimestampMode = 'zoned' | 'micros' | 'millis';
export type ExtendedJsonMode = 'canonical' | 'relaxed';

export interface EncodeOptions {
  /** JSON converter with `schemas.enable=true` (the default) or false. */
  withSchema?: boolean;
  /** `decimal.handling.mode`; Debezium's default is precise. */
  decimalMode?: DecimalMode;
  /** timestamptz as `io.debezium.time.ZonedTimestamp` (what Debezium sends) or as epoch micro/milliseconds. */
  timestampMode?: TimestampMode;
  /** MongoDB `after`/`before` strings: canonical (`$numberLong`) or relaxed extended JSON. */
  extendedJson?: ExtendedJsonMode;
  /** The old image for updates (REPLICA IDENTITY FULL, or MongoDB pre-images); deletes use `row`. */
  before?: CanonicalRow | null;
  router?: TopicRouter;
  /** Connector processing time (envelope `ts_*`), epoch µs; defaults to the commit time. */
  processedTsUs?: number;
}

export interface EncodedEvent {
  topic: string;
  /** JSON text of the key. */
  key: string;
  /** JSON text of the value; null for a tombstone. */
  value: string | null;
}

const DEBEZIUM_VERSION = '3.6.1.Final';
const defaultRouter = new TopicRouter();

export function encodeChange(change: SourceChange, opts: EncodeOptions = {}): EncodedEvent {
  const router = opts.router ?? defaultRouter;
  const spec = TABLE_SPECS[change.table];
  const topic = router.topicFor(change.table);
  const o: Required<Omit<EncodeOptions, 'before' | 'router' | 'processedTsUs'>> = {
    withSchema: opts.withSchema ?? true,
    decimalMode: opts.decimalMode ?? 'precise',
    timestampMode: opts.timestampMode ?? 'zoned',
    extendedJson: opts.extendedJson ?? 'relaxed',
  };
  const key = encodeKey(spec, change.row, topic, o.withSchema);
  const payload =
    spec.source === 'postgres'
      ? postgresPayload(spec, change, opts.before ?? null, o, router, opts.processedTsUs)
      : mongoPayload(spec, change, opts.before ?? null, o, router, opts.processedTsUs);
  const value = o.withSchema ? { schema: valueSchema(spec, topic, o), payload } : payload;
  return { topic, key: stringify(key), value: stringify(value) };
}

/** The tombstone Debezium sends after a delete: same key, null value. */
export function encodeTombstone(change: SourceChange, opts: EncodeOptions = {}): EncodedEvent {
  const router = opts.router ?? defaultRouter;
  const spec = TABLE_SPECS[change.table];
  const topic = router.topicFor(change.table);
  return { topic, key: stringify(encodeKey(spec, change.row, topic, opts.withSchema ?? true)), value: null };
}

// ---------------------------------------------------------------- keys

function encodeKey(spec: TableSpec, row: CanonicalRow, topic: string, withSchema: boolean): unknown {
  let payload: Record<string, unknown>;
  let fields: unknown[];
  if (spec.source === 'mongo') {
    // The MongoDB key is the _id as strict extended JSON in a string field `id`.
    payload = { id: EJSON.stringify(objectId(row._id), { relaxed: false }) };
    fields = [{ type: 'string', optional: false, field: 'id' }];
  } else {
    payload = {};
    fields = [];
    for (const k of spec.key) {
      const c = spec.columns.find((x) => x.name === k)!;
      payload[k] = jsonInt(row[k] ?? null);
      fields.push({ type: c.kind === 'int32' ? 'int32' : 'int64', optional: false, field: k });
    }
  }
  if (!withSchema) return payload;
  return { schema: { type: 'struct', fields, optional: false, name: `${topic}.Key` }, payload };
}

// ---------------------------------------------------------------- PostgreSQL

type Modes = {
  withSchema: boolean;
  decimalMode: DecimalMode;
  timestampMode: TimestampMode;
  extendedJson: ExtendedJsonMode;
};

function postgresPayload(
  spec: TableSpec,
  change: SourceChange,
  before: CanonicalRow | null,
  o: Modes,
  router: TopicRouter,
  processedTsUs?: number,
): Record<string, unknown> {
  const image = (row: CanonicalRow) =>
    Object.fromEntries(spec.columns.map((c) => [c.name, pgValue(c, row[c.name] ?? null, o)]));
  const isDelete = change.op === 'd';
  const prefix = router.prefixes.postgres;
  return {
    before: isDelete ? image(change.row) : before ? image(before) : null,
    after: isDelete ? null : image(change.row),
    source: {
      version: DEBEZIUM_VERSION,
      connector: 'postgresql',
      name: connectorName(prefix),
      ts_ms: Math.floor(change.commitTsUs / 1000),
      snapshot: change.op === 'r' ? 'true' : 'false',
      db: 'shop',
      sequence: null,
      ts_us: change.commitTsUs,
      ts_ns: nanos(change.commitTsUs),
      schema: schemaPart(prefix, 'public'),
      table: change.table,
      txId: null,
      lsn: null,
      xmin: null,
    },
    transaction: null,
    ...envelopeTimes(change, processedTsUs),
  };
}

function pgValue(c: ColumnSpec, v: CanonicalValue, o: Modes): unknown {
  if (v === null) return null;
  switch (c.kind) {
    case 'int64':
    case 'int32':
      return jsonInt(v);
    case 'timestamptz':
      if (o.timestampMode === 'zoned') return isoFromMicros(v as number);
      return o.timestampMode === 'micros' ? v : Math.floor((v as number) / 1000);
    case 'decimal':
      if (o.decimalMode === 'string') return v;
      if (o.decimalMode === 'double') return Number(v);
      return preciseFromDecimal(v as string, c.scale ?? 0);
    default:
      return v;
  }
}

// ---------------------------------------------------------------- MongoDB

function mongoPayload(
  spec: TableSpec,
  change: SourceChange,
  before: CanonicalRow | null,
  o: Modes,
  router: TopicRouter,
  processedTsUs?: number,
): Record<string, unknown> {
  const doc = (row: CanonicalRow) =>
    EJSON.stringify(mongoDocument(spec, row), { relaxed: o.extendedJson === 'relaxed' });
  const isDelete = change.op === 'd';
  const prefix = router.prefixes.mongo;
  return {
    before: isDelete ? doc(change.row) : before ? doc(before) : null,
    after: isDelete ? null : doc(change.row),
    updateDescription: null,
    source: {
      version: DEBEZIUM_VERSION,
      connector: 'mongodb',
      name: connectorName(prefix),
      ts_ms: Math.floor(change.commitTsUs / 1000),
      snapshot: change.op === 'r' ? 'true' : 'false',
      db: schemaPart(prefix, 'shop_events'),
      sequence: null,
      ts_us: change.commitTsUs,
      ts_ns: nanos(change.commitTsUs),
      collection: change.table,
      ord: 1,
      lsid: null,
      txnNumber: null,
      wallTime: null,
    },
    op: change.op,
    transaction: null,
    ...envelopeTimes(change, processedTsUs),
  };
}

/** The document as MongoDB holds it, in BSON types; EJSON writes it as Debezium's connector does. */
function mongoDocument(spec: TableSpec, row: CanonicalRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of spec.columns) {
    const v = row[c.name];
    if (v === null || v === undefined) continue; // absent fields, as MongoDB stores them
    out[c.name] = mongoValue(c, v);
  }
  return out;
}

function mongoValue(c: ColumnSpec, v: CanonicalValue): unknown {
  switch (c.kind) {
    case 'objectid':
      return objectId(v);
    case 'int64':
      return Long.fromString(String(v));
    case 'int32':
      return new Int32(Number(v));
    case 'decimal':
      return Decimal128.fromString(String(v));
    case 'timestamptz':
      return new Date(Math.floor((v as number) / 1000)); // BSON dates hold milliseconds
    case 'items':
      return (v as Record<string, CanonicalValue>[]).map((item) =>
        Object.fromEntries(
          PURCHASE_ITEM_COLUMNS.map((ic) => [ic.name, mongoValue(ic, item[ic.name] ?? null)]),
        ),
      );
    default:
      return v;
  }
}

/** A canonical `_id` back to BSON: 24 hex digits are an ObjectId, anything else a string id. */
function objectId(id: CanonicalValue | undefined): unknown {
  const s = String(id);
  return /^[0-9a-f]{24}$/.test(s) ? new ObjectId(s) : s;
}

// ---------------------------------------------------------------- schemas

function valueSchema(spec: TableSpec, topic: string, o: Modes): unknown {
  const times = [
    { type: 'int64', optional: true, field: 'ts_ms' },
    { type: 'int64', optional: true, field: 'ts_us' },
    { type: 'int64', optional: true, field: 'ts_ns' },
  ];
  const transaction = {
    type: 'struct',
    fields: [
      { type: 'string', optional: false, field: 'id' },
      { type: 'int64', optional: false, field: 'total_order' },
      { type: 'int64', optional: false, field: 'data_collection_order' },
    ],
    optional: true,
    name: 'event.block',
    version: 1,
    field: 'transaction',
  };
  const snapshot = {
    type: 'string',
    optional: true,
    name: 'io.debezium.data.Enum',
    version: 1,
    parameters: {
      allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental',
    },
    default: 'false',
    field: 'snapshot',
  };
  if (spec.source === 'mongo') {
    const json = (field: string) => ({
      type: 'string',
      optional: true,
      name: 'io.debezium.data.Json',
      version: 1,
      field,
    });
    return {
      type: 'struct',
      fields: [
        json('before'),
        json('after'),
        {
          type: 'struct',
          fields: [
            {
              type: 'array',
              items: { type: 'string', optional: false },
              optional: true,
              field: 'removedFields',
            },
            json('updatedFields'),
            {
              type: 'array',
              items: {
                type: 'struct',
                fields: [
                  { type: 'string', optional: false, field: 'field' },
                  { type: 'int32', optional: false, field: 'size' },
                ],
                optional: false,
                name: 'io.debezium.connector.mongodb.changestream.truncatedarray',
                version: 1,
              },
              optional: true,
              field: 'truncatedArrays',
            },
          ],
          optional: true,
          name: 'io.debezium.connector.mongodb.changestream.updatedescription',
          version: 1,
          field: 'updateDescription',
        },
        {
          type: 'struct',
          fields: [
            { type: 'string', optional: false, field: 'version' },
            { type: 'string', optional: false, field: 'connector' },
            { type: 'string', optional: false, field: 'name' },
            { type: 'int64', optional: false, field: 'ts_ms' },
            snapshot,
            { type: 'string', optional: false, field: 'db' },
            { type: 'string', optional: true, field: 'sequence' },
            { type: 'int64', optional: true, field: 'ts_us' },
            { type: 'int64', optional: true, field: 'ts_ns' },
            { type: 'string', optional: false, field: 'collection' },
            { type: 'int32', optional: false, field: 'ord' },
            { type: 'string', optional: true, field: 'lsid' },
            { type: 'int64', optional: true, field: 'txnNumber' },
            { type: 'int64', optional: true, field: 'wallTime' },
          ],
          optional: false,
          name: 'io.debezium.connector.mongo.Source',
          field: 'source',
        },
        { type: 'string', optional: true, field: 'op' },
        ...times,
        transaction,
      ],
      optional: false,
      name: `${topic}.Envelope`,
      version: 2,
    };
  }
  const rowFields = spec.columns.map((c) => columnSchema(c, o));
  const image = (field: string) => ({
    type: 'struct',
    fields: rowFields,
    optional: true,
    name: `${topic}.Value`,
    field,
  });
  return {
    type: 'struct',
    fields: [
      image('before'),
      image('after'),
      {
        type: 'struct',
        fields: [
          { type: 'string', optional: false, field: 'version' },
          { type: 'string', optional: false, field: 'connector' },
          { type: 'string', optional: false, field: 'name' },
          { type: 'int64', optional: false, field: 'ts_ms' },
          snapshot,
          { type: 'string', optional: false, field: 'db' },
          { type: 'string', optional: true, field: 'sequence' },
          { type: 'int64', optional: true, field: 'ts_us' },
          { type: 'int64', optional: true, field: 'ts_ns' },
          { type: 'string', optional: false, field: 'schema' },
          { type: 'string', optional: false, field: 'table' },
          { type: 'int64', optional: true, field: 'txId' },
          { type: 'int64', optional: true, field: 'lsn' },
          { type: 'int64', optional: true, field: 'xmin' },
        ],
        optional: false,
        name: 'io.debezium.connector.postgresql.Source',
        field: 'source',
      },
      transaction,
      { type: 'string', optional: false, field: 'op' },
      ...times,
    ],
    optional: false,
    name: `${topic}.Envelope`,
    version: 2,
  };
}

function columnSchema(c: ColumnSpec, o: Modes): Record<string, unknown> {
  const base = { optional: c.optional, field: c.name };
  switch (c.kind) {
    case 'int64':
      return { type: 'int64', ...base };
    case 'int32':
      return { type: 'int32', ...base };
    case 'bool':
      return { type: 'boolean', ...base };
    case 'timestamptz':
      if (o.timestampMode === 'zoned')
        return {
          type: 'string',
          optional: c.optional,
          name: 'io.debezium.time.ZonedTimestamp',
          version: 1,
          field: c.name,
        };
      return {
        type: 'int64',
        optional: c.optional,
        name: o.timestampMode === 'micros' ? 'io.debezium.time.MicroTimestamp' : 'io.debezium.time.Timestamp',
        version: 1,
        field: c.name,
      };
    case 'decimal':
      if (o.decimalMode === 'string') return { type: 'string', ...base };
      if (o.decimalMode === 'double') return { type: 'double', ...base };
      return {
        type: 'bytes',
        optional: c.optional,
        name: 'org.apache.kafka.connect.data.Decimal',
        version: 1,
        parameters: { scale: String(c.scale ?? 0), 'connect.decimal.precision': String(c.precision ?? 38) },
        field: c.name,
      };
    default:
      return { type: 'string', ...base };
  }
}

// ---------------------------------------------------------------- helpers

function envelopeTimes(change: SourceChange, processedTsUs: number | undefined): Record<string, unknown> {
  const us = processedTsUs ?? change.commitTsUs;
  return { op: change.op, ts_ms: Math.floor(us / 1000), ts_us: us, ts_ns: nanos(us) };
}

/** `topic.prefix` of the connector: the first segment of the topic prefix ("shop.public." → "shop"). */
function connectorName(prefix: string): string {
  return prefix.split('.')[0] || prefix;
}

/** The schema/database segment of a prefix ("shop.public." → "public"), or the contract's default. */
function schemaPart(prefix: string, fallback: string): string {
  const parts = prefix.split('.').filter(Boolean);
  return parts.length >= 2 ? parts[parts.length - 1]! : fallback;
}

// Values beyond 2^53 (bigint ids, ts_ns) are written as exact JSON integers through a marker.
const BIG_MARK = '\u0000big:';

function jsonInt(v: CanonicalValue): unknown {
  return typeof v === 'bigint' ? `${BIG_MARK}${v}` : v;
}

function nanos(us: number): string {
  return us === 0 ? '0' : `${BIG_MARK}${us}000`;
}

function stringify(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${BIG_MARK}${x}` : x));
  return text.includes('\\u0000big:') ? text.replace(/"\\u0000big:(-?\d+)"/g, '$1') : text;
}

export type { SourceTable };
