import { Decimal128, Double, EJSON, Int32, Long, ObjectId } from 'bson';
import type { CanonicalRow, CanonicalValue, ChangeOp, SourceChange, SourceTable } from '../vault/types.js';
import {
  FORBIDDEN_COLUMNS,
  PURCHASE_ITEM_COLUMNS,
  TABLE_SPECS,
  type ColumnSpec,
  type TableSpec,
} from './source-schema.js';
import { TopicRouter } from './topics.js';
import {
  MAX_NESTING,
  ValueError,
  canonicalInt,
  decimalFromNumber,
  decimalFromPrecise,
  isDecimalLiteral,
  kindOf,
  looksLikeBase64,
  microsFromEpoch,
  microsFromIso,
  nestsDeeperThan,
  normalizeDecimal,
  parseJsonReviving,
  unitForSchemaName,
  type ValueProblem,
} from '../values/index.js';

/**
 * Decodes Debezium 3.6 change events (JSON converter, with or without the schema/payload wrapper)
 * into the canonical `SourceChange`, or says precisely why an event cannot be loaded. Pure: no I/O,
 * so the stream, the replay file reader, tests and the demo all share it. Reasons name the field
 * and the problem, never the value: they end up in dead-letter headers and logs.
 */

/** What the transport hands in. Key and value: Buffer or string of JSON, an already parsed object, or null. */
export interface RawMessage {
  topic: string;
  partition?: number;
  offset?: string | number;
  key: unknown;
  value: unknown;
}

export type DecodeReason =
  | ValueProblem
  | 'malformed-json'
  | 'not-an-envelope'
  | 'unknown-table'
  | 'unsupported-op'
  | 'missing-key'
  | 'missing-commit-time'
  | 'toast-unavailable'
  | 'mongo-update-without-after'
  | 'decode-failed';

export class DecodeError extends Error {
  constructor(
    readonly reason: DecodeReason,
    message: string,
    readonly column?: string,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

export type Decoded =
  | { kind: 'change'; change: SourceChange }
  | { kind: 'skip'; why: 'tombstone' }
  | { kind: 'reject'; error: DecodeError };

export interface DecodeOptions {
  router?: TopicRouter;
}

/** Debezium's default `unavailable.value.placeholder`, as text and as bytes (base64) for binary columns. */
export const TOAST_PLACEHOLDER = '__debezium_unavailable_value';
const TOAST_PLACEHOLDER_B64 = Buffer.from(TOAST_PLACEHOLDER).toString('base64');

const defaultRouter = new TopicRouter();

/**
 * Never throws: whatever a message holds, the answer is a change, a skip or a reject with a reason
 * (an unexpected exception becomes `decode-failed`), so a runner can always dead-letter it.
 */
export function decodeMessage(msg: RawMessage, opts: DecodeOptions = {}): Decoded {
  const router = opts.router ?? defaultRouter;
  try {
    let change: SourceChange | null;
    try {
      change = decodeOrThrow(msg, router, false);
    } catch (err) {
      // A plain parse rounded an integer beyond 2^53: parse the text again, exactly (rare, slower).
      if (!(err instanceof DecodeError && err.reason === 'inexact-number')) throw err;
      change = decodeOrThrow(msg, router, true);
    }
    return change ? { kind: 'change', change } : { kind: 'skip', why: 'tombstone' };
  } catch (err) {
    if (err instanceof DecodeError) return { kind: 'reject', error: err };
    if (err instanceof ValueError) return { kind: 'reject', error: new DecodeError(err.reason, err.message) };
    const what = err instanceof Error ? err.name : 'a non-error value';
    return {
      kind: 'reject',
      error: new DecodeError(
        'decode-failed',
        `Decoding failed unexpectedly (${what}); the event was not loaded.`,
      ),
    };
  }
}

/** A Kafka Connect JSON schema node, as far as the decoder reads it. */
interface FieldSchema {
  type?: string;
  name?: string;
  field?: string;
  optional?: boolean;
  parameters?: Record<string, string>;
  fields?: FieldSchema[];
}

function decodeOrThrow(msg: RawMessage, router: TopicRouter, exact: boolean): SourceChange | null {
  if (msg.value === null || msg.value === undefined) return null;
  const table = router.tableFor(msg.topic);
  let parsed = parseJson(msg.value, 'value', exact);
  if (parsed === null) return null;

  let schema: FieldSchema | undefined;
  if (isWrapped(parsed)) {
    schema = (parsed.schema ?? undefined) as FieldSchema | undefined;
    parsed = parsed.payload;
    if (parsed === null) return null;
  }
  if (!isObject(parsed) || typeof parsed.op !== 'string' || !isObject(parsed.source)) {
    throw new DecodeError(
      'not-an-envelope',
      'The value is not a Debezium change event (no `op` and `source`).',
    );
  }
  if (!table) {
    throw new DecodeError(
      'unknown-table',
      `Topic "${msg.topic}" does not carry one of the source tables (${Object.keys(TABLE_SPECS).join(', ')}) under the configured topic prefixes (${router.prefixes.postgres}*, ${router.prefixes.mongo}*).`,
    );
  }
  const op = parsed.op;
  if (op !== 'c' && op !== 'u' && op !== 'd' && op !== 'r') {
    throw new DecodeError(
      'unsupported-op',
      `Operation "${op}" (${op === 't' ? 'truncate' : op === 'm' ? 'logical message' : 'unknown'}) is not loaded; only c, u, d and r are.`,
    );
  }
  const commitTsUs = commitTime(parsed.source);
  const spec = TABLE_SPECS[table];
  const row =
    spec.source === 'postgres'
      ? postgresRow(spec, op, parsed, schema, msg.key)
      : mongoRow(spec, op, parsed, msg.key, exact);
  for (const k of spec.key) {
    if (row[k] === null || row[k] === undefined) {
      throw new DecodeError(
        'missing-key',
        `The ${op === 'd' ? 'delete' : 'change'} event carries no value for key column ${table}.${k}.`,
        k,
      );
    }
  }
  const change: SourceChange = { table, op, row, commitTsUs };
  if (msg.partition !== undefined && msg.offset !== undefined)
    change.origin = `kafka:${msg.topic}/${msg.partition}/${msg.offset}`;
  return change;
}

/** The source commit time in µs; its range (what the vault's partition column holds) is the mapping's check. */
function commitTime(source: Record<string, unknown>): number {
  try {
    const { ts_us: us, ts_ms: ms } = source;
    if (typeof us === 'number' || typeof us === 'bigint') return microsFromEpoch(us, 'us');
    if (typeof ms === 'number' || typeof ms === 'bigint') return microsFromEpoch(ms, 'ms');
  } catch (err) {
    if (err instanceof ValueError) throw new DecodeError(err.reason, `source.ts_us/ts_ms: ${err.message}`);
    throw err;
  }
  throw new DecodeError(
    'missing-commit-time',
    'The event source has neither ts_us nor ts_ms (the source commit time).',
  );
}

// ---------------------------------------------------------------- PostgreSQL

function postgresRow(
  spec: TableSpec,
  op: ChangeOp,
  payload: Record<string, unknown>,
  schema: FieldSchema | undefined,
  rawKey: unknown,
): CanonicalRow {
  const fields = rowFieldSchemas(schema);
  const before = payload.before;
  const after = payload.after;
  if (before !== null && before !== undefined && !isObject(before))
    throw new DecodeError('not-an-envelope', '`before` is neither an object nor null.');
  if (after !== null && after !== undefined && !isObject(after))
    throw new DecodeError('not-an-envelope', '`after` is neither an object nor null.');

  if (op === 'd') {
    const image = isObject(before) ? before : keyPayload(rawKey);
    if (!image)
      throw new DecodeError('missing-key', 'The delete event has neither a `before` image nor a key.');
    // A delete's old image may miss unchanged TOASTed values; they are not needed to delete, so null.
    return canonicalRow(spec, image, fields).row;
  }
  if (!isObject(after))
    throw new DecodeError('not-an-envelope', `A "${op}" event must carry an \`after\` image.`);
  const { row, unavailable } = canonicalRow(spec, after, fields);
  if (unavailable.length > 0) {
    // Unchanged TOASTed columns: the old image (REPLICA IDENTITY FULL) has the value.
    const prior = isObject(before) ? canonicalRow(spec, before, fields) : undefined;
    for (const c of unavailable) {
      if (prior && c in before! && !prior.unavailable.includes(c)) {
        row[c] = prior.row[c]!;
      } else {
        throw new DecodeError(
          'toast-unavailable',
          `Column ${spec.table}.${c} arrived as Debezium's unchanged-TOAST placeholder and the event has no old value for it. Run \`ALTER TABLE ${spec.table} REPLICA IDENTITY FULL\` in PostgreSQL so updates carry every column.`,
          c,
        );
      }
    }
  }
  return row;
}

function rowFieldSchemas(schema: FieldSchema | undefined): Map<string, FieldSchema> | undefined {
  if (!schema?.fields) return undefined;
  const image =
    schema.fields.find((f) => f.field === 'after') ?? schema.fields.find((f) => f.field === 'before');
  if (!image?.fields) return undefined;
  return new Map(image.fields.map((f) => [f.field ?? '', f]));
}

function keyPayload(rawKey: unknown): Record<string, unknown> | undefined {
  if (rawKey === null || rawKey === undefined) return undefined;
  let key: unknown;
  try {
    key = parseJson(rawKey, 'key');
  } catch {
    return undefined;
  }
  if (isWrapped(key)) key = key.payload;
  return isObject(key) ? key : undefined;
}

// ---------------------------------------------------------------- MongoDB

function mongoRow(
  spec: TableSpec,
  op: ChangeOp,
  payload: Record<string, unknown>,
  rawKey: unknown,
  exact: boolean,
): CanonicalRow {
  const doc = (v: unknown, what: string): Record<string, unknown> | undefined => {
    if (v === null || v === undefined) return undefined;
    const parsed = typeof v === 'string' ? parseJson(v, what, exact) : v;
    if (!isObject(parsed)) throw new DecodeError('not-an-envelope', `\`${what}\` is not a document.`);
    return parsed;
  };
  const after = doc(payload.after, 'after');
  const before = doc(payload.before, 'before');
  if (op === 'd') {
    if (before) return canonicalRow(spec, before, undefined).row;
    const id = mongoKeyId(rawKey);
    if (id === undefined)
      throw new DecodeError(
        'missing-key',
        'The MongoDB delete event has no `before` document and no key id.',
      );
    return canonicalRow(spec, { _id: id }, undefined).row;
  }
  if (!after) {
    if (op === 'u') {
      throw new DecodeError(
        'mongo-update-without-after',
        'The MongoDB update event carries no `after` document. Set capture.mode=change_streams_update_full on the MongoDB connector.',
      );
    }
    throw new DecodeError('not-an-envelope', `A "${op}" event must carry an \`after\` document.`);
  }
  return canonicalRow(spec, after, undefined).row;
}

/** The MongoDB key is `{"id": "<_id as strict extended JSON>"}`. */
function mongoKeyId(rawKey: unknown): unknown {
  const key = keyPayload(rawKey);
  const id = key?.id;
  if (typeof id !== 'string') return undefined;
  try {
    return JSON.parse(id) as unknown;
  } catch {
    return id; // a bare string id as some SMTs write it
  }
}

// ---------------------------------------------------------------- columns

/**
 * Every column of the table in canonical form (absent → null; unknown columns and password_hash
 * dropped). Columns holding the TOAST placeholder come back null and are listed in `unavailable`.
 */
function canonicalRow(
  spec: TableSpec,
  image: Record<string, unknown>,
  fields: Map<string, FieldSchema> | undefined,
): { row: CanonicalRow; unavailable: string[] } {
  const row: CanonicalRow = {};
  const unavailable: string[] = [];
  for (const column of spec.columns) {
    if (FORBIDDEN_COLUMNS.has(column.name)) continue;
    const raw = image[column.name];
    if (isPlaceholder(raw)) {
      unavailable.push(column.name);
      row[column.name] = null;
      continue;
    }
    row[column.name] = canonicalValue(spec.table, column, raw, fields?.get(column.name));
  }
  return { row, unavailable };
}

function isPlaceholder(v: unknown): boolean {
  return v === TOAST_PLACEHOLDER || v === TOAST_PLACEHOLDER_B64;
}

function canonicalValue(
  table: SourceTable,
  column: ColumnSpec,
  raw: unknown,
  field: FieldSchema | undefined,
): CanonicalValue {
  if (raw === null || raw === undefined) return null;
  try {
    const v = typeof raw === 'object' ? unwrapExtendedJson(raw) : raw;
    switch (column.kind) {
      case 'int64':
      case 'int32':
        if (typeof v === 'number' || typeof v === 'bigint')
          return canonicalInt(v, column.kind === 'int32' ? 32 : 64);
        if (isTagged(v) && (v.$t === 'long' || v.$t === 'int'))
          return canonicalInt(v.v, column.kind === 'int32' ? 32 : 64);
        break;
      case 'text':
        if (typeof v === 'string') return v;
        break;
      case 'bool':
        if (typeof v === 'boolean') return v;
        break;
      case 'timestamptz':
        if (typeof v === 'string') return microsFromIso(v);
        if (typeof v === 'number' || typeof v === 'bigint')
          return microsFromEpoch(v, unitForSchemaName(field?.name));
        if (isTagged(v) && v.$t === 'date') return v.us;
        break;
      case 'decimal':
        return canonicalDecimal(v, column.scale ?? 0, column.precision, field);
      case 'objectid':
        if (typeof v === 'string') return v;
        if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint') return String(v);
        if (isTagged(v) && (v.$t === 'oid' || v.$t === 'long' || v.$t === 'int' || v.$t === 'decimal'))
          return v.v;
        break;
      case 'items':
        if (Array.isArray(raw)) return raw.map((item, i) => canonicalItem(table, item, i));
        break;
    }
  } catch (err) {
    if (err instanceof ValueError)
      throw new DecodeError(err.reason, `${table}.${column.name}: ${err.message}`, column.name);
    throw err;
  }
  throw new DecodeError(
    'type-mismatch',
    `${table}.${column.name}: expected ${describeKind(column)}, got ${describe(raw)}.`,
    column.name,
  );
}

function canonicalDecimal(
  v: unknown,
  scale: number,
  precision: number | undefined,
  field: FieldSchema | undefined,
): CanonicalValue {
  if (isObject(v) && 'scale' in v && 'value' in v) {
    // io.debezium.data.VariableScaleDecimal: {scale, value: base64 unscaled}
    if (typeof v.scale !== 'number' || typeof v.value !== 'string')
      throw new ValueError('is a malformed VariableScaleDecimal');
    return normalizeDecimal(decimalFromPrecise(v.value, v.scale, v.scale), scale, precision);
  }
  if (typeof v === 'number') return decimalFromNumber(v, scale, precision);
  if (typeof v === 'bigint') return normalizeDecimal(v.toString(), scale, precision);
  if (isTagged(v)) {
    if (v.$t === 'decimal' || v.$t === 'long' || v.$t === 'int')
      return normalizeDecimal(v.v, scale, precision);
    if (v.$t === 'double') return decimalFromNumber(Number(v.v), scale, precision);
  }
  if (typeof v === 'string') {
    if (field?.type === 'bytes' || field?.name === 'org.apache.kafka.connect.data.Decimal') {
      const schemaScale = Number(field.parameters?.scale ?? NaN);
      if (!Number.isInteger(schemaScale))
        throw new ValueError('has a Decimal schema without an integer `scale` parameter');
      return normalizeDecimal(decimalFromPrecise(v, schemaScale, schemaScale), scale, precision);
    }
    if (isDecimalLiteral(v)) return normalizeDecimal(v, scale, precision);
    if (looksLikeBase64(v)) {
      throw new ValueError(
        'looks like a precise (base64) decimal but the event has no schema to give its scale, so it cannot be decoded. Set value.converter.schemas.enable=true or decimal.handling.mode=string on the connector.',
        'precise-decimal-without-schema',
      );
    }
  }
  throw new ValueError(`expected a decimal, got ${describe(v)}`);
}

function canonicalItem(table: SourceTable, item: unknown, index: number): CanonicalValue {
  if (!isObject(item))
    throw new DecodeError(
      'type-mismatch',
      `${table}.items[${index}]: expected an object, got ${describe(item)}.`,
      'items',
    );
  const out: Record<string, CanonicalValue> = {};
  for (const column of PURCHASE_ITEM_COLUMNS) {
    const value = canonicalValue(table, { ...column, name: column.name }, item[column.name], undefined);
    if (value === null)
      throw new DecodeError('type-mismatch', `${table}.items[${index}].${column.name} is missing.`, 'items');
    out[column.name] = value;
  }
  return out;
}

// ---------------------------------------------------------------- MongoDB extended JSON

type Tagged = { $t: 'long' | 'int' | 'decimal' | 'double' | 'oid'; v: string } | { $t: 'date'; us: number };

function isTagged(v: unknown): v is Tagged {
  return isObject(v) && typeof v.$t === 'string' && Object.keys(v).length <= 2 && ('v' in v || 'us' in v);
}

/**
 * One extended-JSON value (canonical or relaxed) → a tagged value the column converters read,
 * parsed by BSON's own EJSON (the library the `mongodb` driver re-exports as BSON.EJSON):
 * `{"$numberLong": "7"}`, `{"$numberInt": "2"}`, `{"$numberDecimal": "12.50"}`, `{"$numberDouble": "1.5"}`,
 * `{"$oid": "…"}`, `{"$date": …}` in any of its forms. Anything else passes through.
 */
function unwrapExtendedJson(v: unknown): unknown {
  if (!isObject(v)) return v;
  const keys = Object.keys(v);
  if (keys.length !== 1 || !keys[0]!.startsWith('$')) return v;
  // A relaxed date's ISO text through src/lib/values: EJSON (JavaScript's Date) would roll
  // 2026-02-30 over to March 2; invalid dates are rejected, never rewritten.
  if (keys[0] === '$date' && typeof v.$date === 'string') return { $t: 'date', us: microsFromIso(v.$date) };
  let b: unknown;
  try {
    b = EJSON.deserialize(v, { relaxed: false });
  } catch {
    return v; // not extended JSON after all: the column converter reports the type
  }
  if (b instanceof Long) return { $t: 'long', v: b.toString() };
  if (b instanceof Int32) return { $t: 'int', v: String(b.value) };
  if (b instanceof Decimal128) return { $t: 'decimal', v: b.toString() };
  if (b instanceof Double) return { $t: 'double', v: String(b.value) };
  if (b instanceof ObjectId) return { $t: 'oid', v: b.toHexString() };
  // BSON dates hold milliseconds.
  if (b instanceof Date && Number.isFinite(b.getTime())) return { $t: 'date', us: b.getTime() * 1000 };
  return v;
}

// ---------------------------------------------------------------- helpers

/**
 * A key, value or MongoDB document as parsed JSON, refusing nesting deeper than MAX_NESTING
 * before anything recursive (JSON.stringify, String()) can overflow the stack on it.
 */
function parseJson(v: unknown, what: string, exact = false): unknown {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array)
    v = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  let parsed: unknown = v;
  if (typeof v === 'string') {
    try {
      parsed = exact ? parseJsonReviving(v) : (JSON.parse(v) as unknown);
    } catch (err) {
      // V8's messages quote the text around the error position: keep only the position.
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      throw new DecodeError(
        'malformed-json',
        `The message ${what} is not valid JSON${at === undefined ? '' : ` (error at position ${at})`}.`,
      );
    }
  }
  if (nestsDeeperThan(parsed, MAX_NESTING)) {
    throw new DecodeError(
      'nested-too-deep',
      `The message ${what} nests arrays or objects deeper than ${MAX_NESTING} levels; no Debezium event does.`,
    );
  }
  return parsed;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function isWrapped(v: unknown): v is { schema: unknown; payload: unknown } {
  if (!isObject(v) || !('payload' in v) || !('schema' in v)) return false;
  let n = 0;
  for (const k in v) if (Object.hasOwn(v, k)) n++;
  return n === 2;
}

function describeKind(c: ColumnSpec): string {
  switch (c.kind) {
    case 'int64':
      return 'a 64-bit integer';
    case 'int32':
      return 'a 32-bit integer';
    case 'text':
      return 'a string';
    case 'bool':
      return 'a boolean';
    case 'timestamptz':
      return 'a timestamp (ISO-8601 string or epoch number)';
    case 'decimal':
      return 'a decimal';
    case 'objectid':
      return 'a document id';
    case 'items':
      return 'an array of items';
  }
}

/** What a value is, for messages: its JSON kind, never its text (reasons must not copy source data). */
function describe(v: unknown): string {
  if (isTagged(v)) return `an extended-JSON ${v.$t}`;
  const k = kindOf(v);
  return k === 'array' || k === 'object' ? `an ${k}` : `a ${k}`;
}
