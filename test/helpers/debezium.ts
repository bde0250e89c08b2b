import { EJSON } from 'bson';
import {
  encodeEvent,
  encodeTombstone as encodeProductTombstone,
  mongoDocument,
  stringifyJson,
  type EncodedEvent,
} from '../../src/lib/debezium/encode.js';
import { TABLE_SPECS } from '../../src/lib/debezium/source-schema.js';
import type { TopicRouter } from '../../src/lib/debezium/topics.js';
import type { CanonicalRow, SourceChange } from '../../src/lib/vault/types.js';

/**
 * Debezium events in every flavour the decoder must read, for tests: the product's encoder
 * (src/lib/debezium/encode.ts: schema wrapper, ZonedTimestamp, precise or string decimals,
 * relaxed extended JSON) turned into the other connector configurations: without the schema
 * wrapper, decimals as doubles, timestamps as epoch micro/milliseconds, canonical extended JSON,
 * and updates with a `before` image (REPLICA IDENTITY FULL, MongoDB pre-images).
 */

export type DecimalMode = 'precise' | 'string' | 'double';
export type TimestampMode = 'zoned' | 'micros' | 'millis';
export type ExtendedJsonMode = 'canonical' | 'relaxed';
export type { EncodedEvent };

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
}

type Json = Record<string, unknown>;

export function encodeChange(change: SourceChange, opts: EncodeOptions = {}): EncodedEvent {
  const spec = TABLE_SPECS[change.table];
  const decimalMode = opts.decimalMode ?? 'precise';
  const product = {
    router: opts.router,
    decimalMode: decimalMode === 'double' ? 'string' : decimalMode,
  } as const;
  const ev = encodeEvent(change, product);
  const payload = ev.value.payload;
  const isDelete = change.op === 'd';
  if (opts.before && !isDelete) {
    // The old image, encoded the same way as the new one.
    payload.before = encodeEvent({ ...change, op: 'u', row: opts.before }, product).value.payload.after;
  }
  const rows = { before: isDelete ? change.row : (opts.before ?? null), after: isDelete ? null : change.row };
  if (spec.source === 'mongo') {
    if (opts.extendedJson === 'canonical') {
      for (const side of ['before', 'after'] as const) {
        const row = rows[side];
        if (row) payload[side] = EJSON.stringify(mongoDocument(spec, row), { relaxed: false });
      }
    }
  } else {
    const timestampMode = opts.timestampMode ?? 'zoned';
    for (const side of ['before', 'after'] as const) {
      const row = rows[side];
      if (row) retypeImage(payload[side] as Json, row, change, decimalMode, timestampMode);
    }
    retypeSchema(ev.value.schema, change, decimalMode, timestampMode);
  }
  const withSchema = opts.withSchema ?? true;
  return {
    topic: ev.topic,
    key: stringifyJson(withSchema ? ev.key : ev.key.payload),
    value: stringifyJson(withSchema ? ev.value : payload),
  };
}

/** The tombstone Debezium sends after a delete: same key, null value. */
export function encodeTombstone(change: SourceChange, opts: EncodeOptions = {}): EncodedEvent {
  const ev = encodeProductTombstone(change, { router: opts.router });
  if (opts.withSchema ?? true) return ev;
  return { ...ev, key: stringifyJson(encodeEvent(change, { router: opts.router }).key.payload) };
}

function retypeImage(
  image: Json,
  row: CanonicalRow,
  change: SourceChange,
  decimalMode: DecimalMode,
  timestampMode: TimestampMode,
): void {
  for (const c of TABLE_SPECS[change.table].columns) {
    const v = row[c.name];
    if (v === null || v === undefined) continue;
    if (c.kind === 'decimal' && decimalMode === 'double') image[c.name] = Number(v);
    if (c.kind === 'timestamptz' && timestampMode !== 'zoned')
      image[c.name] = timestampMode === 'micros' ? v : Math.floor((v as number) / 1000);
  }
}

/** The before/after struct fields of the value schema, for doubles and epoch timestamps. */
function retypeSchema(
  schema: Json,
  change: SourceChange,
  decimalMode: DecimalMode,
  timestampMode: TimestampMode,
): void {
  const columns = new Map(TABLE_SPECS[change.table].columns.map((c) => [c.name, c]));
  for (const image of (schema.fields as Json[]).filter((f) => f.field === 'before' || f.field === 'after')) {
    image.fields = (image.fields as Json[]).map((f) => {
      const c = columns.get(f.field as string);
      if (c?.kind === 'decimal' && decimalMode === 'double')
        return { type: 'double', optional: c.optional, field: c.name };
      if (c?.kind === 'timestamptz' && timestampMode !== 'zoned')
        return {
          type: 'int64',
          optional: c.optional,
          name: timestampMode === 'micros' ? 'io.debezium.time.MicroTimestamp' : 'io.debezium.time.Timestamp',
          version: 1,
          field: c.name,
        };
      return f;
    });
  }
}
