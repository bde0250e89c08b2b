import { Decimal128, EJSON, Int32, Long, ObjectId } from 'bson';
import type { CanonicalRow, CanonicalValue, SourceChange, SourceTable } from '../vault/types.js';
import { PURCHASE_ITEM_COLUMNS, TABLE_SPECS, type ColumnSpec, type TableSpec } from './source-schema.js';
import { TopicRouter } from './topics.js';
import { isoFromMicros, preciseFromDecimal } from '../values/index.js';

/**
 * Writes a `SourceChange` as the Debezium 3.6 JSON-converter event it came from (key and value),
 * as a connector with the JSON converter's defaults sends it: with the schema wrapper,
 * timestamptz as ZonedTimestamp strings, MongoDB documents as relaxed extended JSON, and numerics
 * as precise bytes or (decimal.handling.mode=string) strings. Used by the demo's replay file and
 * to produce MongoDB-connector events into Kafka where no MongoDB replica set exists.
 * decode(encode(x)) == x. The other flavours the decoder accepts are produced by the tests
 * (test/helpers/debezium.ts), from `encodeEvent`.
 */

export type DecimalMode = 'precise' | 'string';

export interface EncodeOptions {
  /** Always with the schema wrapper (the JSON converter's `schemas.enable=true` default). */
  withSchema?: true;
  /** `decimal.handling.mode`; Debezium's default is precise. */
  decimalMode?: DecimalMode;
  router?: TopicRouter;
}

export interface EncodedEvent {
  topic: string;
  /** JSON text of the key. */
  key: string;
  /** JSON text of the value; null for a tombstone. */
  value: string | null;
}

/** The event before it becomes text: `{schema, payload}` objects, 64-bit integers as JSON-exact markers. */
export interface EventObjects {
  topic: string;
  key: { schema: Record<string, unknown>; payload: Record<string, unknown> };
  value: { schema: Record<string, unknown>; payload: Record<string, unknown> };
}

const DEBEZIUM_VERSION = '3.6.1.Final';
const defaultRouter = new TopicRouter();

export function encodeEvent(change: SourceChange, opts: EncodeOptions = {}): EventObjects {
  const router = opts.router ?? defaultRouter;
  const spec = TABLE_SPECS[change.table];
  const topic = router.topicFor(change.table);
  const decimalMode = opts.decimalMode ?? 'precise';
  const payload =
    spec.source === 'postgres'
      ? postgresPayload(spec, change, decimalMode, router)
      : mongoPayload(spec, change, router);
  return {
    topic,
    key: encodeKey(spec, change.row, topic),
    value: { schema: valueSchema(spec, topic, decimalMode), payload },
  };
}

export function encodeChange(change: SourceChange, opts: EncodeOptions = {}): EncodedEvent {
  const ev = encodeEvent(change, opts);
  return { topic: ev.topic, key: stringifyJson(ev.key), value: stringifyJson(ev.value) };
}

/** The tombstone Debezium sends after a delete: same key, null value. */
export function encodeTombstone(
  change: SourceChange,
  opts: Pick<EncodeOptions, 'router'> = {},
): EncodedEvent {
  const router = opts.router ?? defaultRouter;
  const topic = router.topicFor(change.table);
  return { topic, key: stringifyJson(encodeKey(TABLE_SPECS[change.table], change.row, topic)), value: null };
}

// ---------------------------------------------------------------- keys

function encodeKey(spec: TableSpec, row: CanonicalRow, topic: string): EventObjects['key'] {
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
  return { schema: { type: 'struct', fields, optional: false, name: `${topic}.Key` }, payload };
}

// ---------------------------------------------------------------- PostgreSQL

function postgresPayload(
  spec: TableSpec,
  change: SourceChange,
  decimalMode: DecimalMode,
  router: TopicRouter,
): Record<string, unknown> {
  const image = (row: CanonicalRow) =>
    Object.fromEntries(spec.columns.map((c) => [c.name, pgValue(c, row[c.name] ?? null, decimalMode)]));
  const isDelete = change.op === 'd';
  const prefix = router.prefixes.postgres;
  return {
    before: isDelete ? image(change.row) : null,
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
    ...envelopeTimes(change),
  };
}

function pgValue(c: ColumnSpec, v: CanonicalValue, decimalMode: DecimalMode): unknown {
  if (v === null) return null;
  switch (c.kind) {
    case 'int64':
    case 'int32':
      return jsonInt(v);
    case 'timestamptz':
      return isoFromMicros(v as number);
    case 'decimal':
      return decimalMode === 'string' ? v : preciseFromDecimal(v as string, c.scale ?? 0);
    default:
      return v;
  }
}

// ---------------------------------------------------------------- MongoDB

function mongoPayload(spec: TableSpec, change: SourceChange, router: TopicRouter): Record<string, unknown> {
  const doc = (row: CanonicalRow) => EJSON.stringify(mongoDocument(spec, row), { relaxed: true });
  const isDelete = change.op === 'd';
  const prefix = router.prefixes.mongo;
  return {
    before: isDelete ? doc(change.row) : null,
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
    ...envelopeTimes(change),
  };
}

/** The document as MongoDB holds it, in BSON types; EJSON writes it as Debezium's connector does. */
export function mongoDocument(spec: TableSpec, row: CanonicalRow): Record<string, unknown> {
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

const ENVELOPE_TIMES = [
  { type: 'int64', optional: true, field: 'ts_ms' },
  { type: 'int64', optional: true, field: 'ts_us' },
  { type: 'int64', optional: true, field: 'ts_ns' },
];

const TRANSACTION_SCHEMA = {
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

const SNAPSHOT_SCHEMA = {
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

/** The value schema Debezium's JSON converter writes for the table's topic. */
function valueSchema(spec: TableSpec, topic: string, decimalMode: DecimalMode): Record<string, unknown> {
  return spec.source === 'mongo' ? mongoValueSchema(topic) : postgresValueSchema(spec, topic, decimalMode);
}

function mongoValueSchema(topic: string): Record<string, unknown> {
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
          SNAPSHOT_SCHEMA,
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
      ...ENVELOPE_TIMES,
      TRANSACTION_SCHEMA,
    ],
    optional: false,
    name: `${topic}.Envelope`,
    version: 2,
  };
}

function postgresValueSchema(
  spec: TableSpec,
  topic: string,
  decimalMode: DecimalMode,
): Record<string, unknown> {
  const rowFields = spec.columns.map((c) => columnSchema(c, decimalMode));
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
          SNAPSHOT_SCHEMA,
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
      TRANSACTION_SCHEMA,
      { type: 'string', optional: false, field: 'op' },
      ...ENVELOPE_TIMES,
    ],
    optional: false,
    name: `${topic}.Envelope`,
    version: 2,
  };
}

function columnSchema(c: ColumnSpec, decimalMode: DecimalMode): Record<string, unknown> {
  const base = { optional: c.optional, field: c.name };
  switch (c.kind) {
    case 'int64':
      return { type: 'int64', ...base };
    case 'int32':
      return { type: 'int32', ...base };
    case 'bool':
      return { type: 'boolean', ...base };
    case 'timestamptz':
      return {
        type: 'string',
        optional: c.optional,
        name: 'io.debezium.time.ZonedTimestamp',
        version: 1,
        field: c.name,
      };
    case 'decimal':
      if (decimalMode === 'string') return { type: 'string', ...base };
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

function envelopeTimes(change: SourceChange): Record<string, unknown> {
  const us = change.commitTsUs;
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

/** JSON text with 64-bit integers (bigints and the encoder's markers) written exactly. */
export function stringifyJson(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${BIG_MARK}${x}` : x));
  return text.includes('\\u0000big:') ? text.replace(/"\\u0000big:(-?\d+)"/g, '$1') : text;
}

export type { SourceTable };
