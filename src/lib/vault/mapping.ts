import { DataProblemError, ConfigError } from '../errors/index.js';
import {
  canonicalText,
  formatDecimal,
  decimalUnits,
  unitsToDecimal,
  hashKey,
  hashdiff,
  piiHash,
} from './hashing.js';
import {
  FEEDS,
  FORBIDDEN_SOURCE_COLUMNS,
  HUBS,
  LINKS,
  SATELLITES,
  type ColumnSpec,
  type Feed,
  type FeedTarget,
  type ValueRef,
} from './model.js';
import { META, VER_BASE, satelliteParent } from './tables.js';
import type { CanonicalRow, CanonicalValue, SourceChange, SourceTable, VaultRowSet } from './types.js';

/**
 * The one mapping from a normalised source change to Data Vault rows, used by `stream` and
 * `backfill` alike. Pure: the rows depend only on the change (row, op, commit time), the salt and
 * the load time; only `load_ts` differs between two runs over the same change. Row sets are keyed
 * by logical table name (`hub_user`); `insertRowSet` (writer.ts) qualifies them with a database.
 */
export interface MappingContext {
  /** Salt for personal data (SHOPDATA_PII_SALT). */
  piiSalt: string;
  /** Goes into `load_ts` only. */
  loadTs: Date;
  /** Override of `record_source`; keep the default so stream and backfill rows stay identical. */
  recordSource?: (table: SourceTable) => string;
}

export type VaultRow = Record<string, unknown>;

/** A change that cannot become vault rows (missing key, bad value). Exit 1; `stream` sends it to its DLQ. */
export class MappingError extends DataProblemError {
  override readonly code = 'MAPPING_FAILED';
}

/** The model itself is inconsistent (a bug in model.ts). Exit 2. */
export class ModelError extends ConfigError {
  override readonly code = 'VAULT_MODEL_INVALID';
}

// ---------------------------------------------------------------------------------------------
// Compiling the feeds once

interface Scope {
  row: CanonicalRow;
  item: CanonicalRow | undefined;
  itemNo: number;
  salt: string;
}
type Getter = (s: Scope) => CanonicalValue;

function compileRef(ref: ValueRef, target: ColumnSpec | undefined, where: string): Getter {
  if ('col' in ref) {
    const name = ref.col;
    if (FORBIDDEN_SOURCE_COLUMNS.includes(name))
      throw new ModelError(`${where} reads forbidden source column "${name}".`);
    return (s) => s.row[name] ?? null;
  }
  if ('item' in ref) {
    const name = ref.item;
    return (s) => (s.item ? (s.item[name] ?? null) : null);
  }
  if ('itemNo' in ref) return (s) => s.itemNo;
  if ('const' in ref) {
    const v = ref.const;
    return () => v;
  }
  if ('pii' in ref) {
    const name = ref.pii;
    const how = ref.normalise;
    if (FORBIDDEN_SOURCE_COLUMNS.includes(name))
      throw new ModelError(`${where} reads forbidden source column "${name}".`);
    return (s) => piiHash(s.row[name], s.salt, how);
  }
  if ('count' in ref) {
    const name = ref.count;
    return (s) => {
      const arr = s.row[name];
      return Array.isArray(arr) ? arr.length : null;
    };
  }
  // sum over an array, exact: integers as bigint, decimals as integer units of the target scale
  const arrName = ref.sum;
  const [a, b] = ref.of;
  const scale = target?.kind === 'decimal' ? (target.scale ?? 0) : 0;
  return (s) => {
    const arr = s.row[arrName];
    if (!Array.isArray(arr)) return null;
    let total = 0n;
    for (const el of arr) {
      const o = el as CanonicalRow;
      const x = toUnits(o[a], b === undefined ? scale : 0, where);
      total += b === undefined ? x : x * toUnits(o[b], scale, where);
    }
    return target?.kind === 'decimal' ? unitsToDecimal(total, scale) : toSafeNumber(total);
  };
}

function toUnits(v: CanonicalValue | undefined, scale: number, where: string): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'bigint') return v * 10n ** BigInt(scale);
  if (typeof v === 'number' && Number.isInteger(v) && scale === 0) return BigInt(v);
  if (typeof v === 'string' || typeof v === 'number') {
    try {
      return decimalUnits(String(v), scale);
    } catch (err) {
      throw new MappingError(`${where}: ${(err as Error).message}`);
    }
  }
  throw new MappingError(`${where}: cannot sum ${JSON.stringify(v)}`);
}

function toSafeNumber(n: bigint): number | string {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(n)
    : n.toString();
}

/** Converts a value to its column form (JSON for JSONEachRow) and its canonical hash text. */
type Converter = (v: CanonicalValue, where: string) => { json: unknown; text: string | null };

function converterFor(spec: ColumnSpec): Converter {
  switch (spec.kind) {
    case 'int':
      return (v, where) => {
        if (v === null || v === undefined) return { json: null, text: null };
        if (typeof v === 'number' && Number.isInteger(v)) return { json: v, text: String(v) };
        if (typeof v === 'bigint') return { json: toSafeNumber(v), text: v.toString() };
        if (typeof v === 'string' && /^-?\d+$/.test(v)) {
          const n = BigInt(v);
          return { json: toSafeNumber(n), text: n.toString() };
        }
        throw new MappingError(`${where}: expected an integer, got ${JSON.stringify(v)}`);
      };
    case 'timestamp':
      return (v, where) => {
        if (v === null || v === undefined) return { json: null, text: null };
        if (typeof v === 'number' && Number.isInteger(v)) return { json: v, text: String(v) };
        if (typeof v === 'bigint') return { json: toSafeNumber(v), text: v.toString() };
        throw new MappingError(`${where}: expected epoch microseconds, got ${JSON.stringify(v)}`);
      };
    case 'decimal': {
      const scale = spec.scale ?? 0;
      return (v, where) => {
        let text: string | null;
        try {
          text = formatDecimal(v, scale);
        } catch (err) {
          throw new MappingError(`${where}: ${(err as Error).message}`);
        }
        if (text === null) return { json: null, text: null };
        // JSON numbers: 18.16 does not parse quoted decimals. Up to 15 digits survive the double.
        if (text.replace(/[-.]/g, '').replace(/^0+/, '').length > 15) {
          throw new MappingError(`${where}: ${text} has more than 15 significant digits`);
        }
        return { json: Number(text), text };
      };
    }
    case 'bool':
      return (v, where) => {
        if (v === null || v === undefined) return { json: null, text: null };
        if (v === true || v === 1) return { json: 1, text: '1' };
        if (v === false || v === 0) return { json: 0, text: '0' };
        throw new MappingError(`${where}: expected a boolean, got ${JSON.stringify(v)}`);
      };
    case 'pii':
    case 'string':
      return (v) => {
        const text = canonicalText(v);
        return { json: text, text };
      };
  }
}

type Emit = (acc: Accumulator, s: Scope, base: RowBase) => void;

interface RowBase {
  commitTsUs: number;
  effectiveSec: number;
  loadSec: number;
  recordSource: string;
  isDeleted: 0 | 1;
  table: SourceTable;
}

interface Accumulator {
  /** hubs and links, deduplicated by hash key (earliest sighting wins, as in the table). */
  keyed: Map<string, Map<string, VaultRow>>;
  sats: Map<string, VaultRow[]>;
  /** Hash-key preimage → hash key, for one mapChanges call (ids recur across rows and changes). */
  hk: Map<string, string>;
}

function compileTarget(feed: Feed, t: FeedTarget, idx: number): Emit {
  const where = `feed ${feed.source} target ${idx}`;
  if ('hub' in t) {
    const hub = HUBS[t.hub];
    if (t.key.length !== hub.businessKey.length)
      throw new ModelError(`${where}: hub ${t.hub} needs ${hub.businessKey.length} key values.`);
    const getters = t.key.map((r, i) => compileRef(r, hub.businessKey[i], where));
    const convs = hub.businessKey.map(converterFor);
    const table = hub.table;
    return (acc, s, base) => {
      const vals = getters.map((g) => g(s));
      if (vals.some((v) => v === null)) return; // an optional reference (e.g. a product without seller)
      const hk = hashKey(vals, acc.hk);
      const row: VaultRow = { [hub.hk]: hk };
      hub.businessKey.forEach((c, i) => (row[c.name] = convs[i]!(vals[i]!, `${where} ${c.name}`).json));
      putKeyed(acc, table, hk, row, base);
    };
  }
  if ('link' in t) {
    const link = LINKS[t.link];
    const hubs = link.hubs.map((h) => HUBS[h]);
    const nKeys = hubs.reduce((n, h) => n + h.businessKey.length, 0);
    if (t.key.length !== nKeys + link.childKey.length) {
      throw new ModelError(`${where}: link ${t.link} needs ${nKeys + link.childKey.length} key values.`);
    }
    const getters = t.key.map((r) => compileRef(r, undefined, where));
    const childConvs = link.childKey.map(converterFor);
    const table = link.table;
    return (acc, s, base) => {
      const vals = getters.map((g) => g(s));
      if (vals.some((v) => v === null)) return;
      const row: VaultRow = { [link.hk]: hashKey(vals, acc.hk) };
      let off = 0;
      for (const h of hubs) {
        row[h.hk] =
          h.businessKey.length === 1
            ? hashKey([vals[off]], acc.hk)
            : hashKey(vals.slice(off, off + h.businessKey.length), acc.hk);
        off += h.businessKey.length;
      }
      link.childKey.forEach(
        (c, i) => (row[c.name] = childConvs[i]!(vals[off + i]!, `${where} ${c.name}`).json),
      );
      putKeyed(acc, table, row[link.hk] as string, row, base);
    };
  }
  // satellite
  const sat = SATELLITES[t.sat];
  const parent = satelliteParent(t.sat);
  const parentKeyLen =
    parent.kind === 'hub'
      ? HUBS[parent.name as keyof typeof HUBS].businessKey.length
      : (() => {
          const l = LINKS[parent.name as keyof typeof LINKS];
          return l.hubs.reduce((n, h) => n + HUBS[h].businessKey.length, 0) + l.childKey.length;
        })();
  if (t.key.length !== parentKeyLen)
    throw new ModelError(`${where}: ${t.sat} needs ${parentKeyLen} parent key values.`);
  for (const name of Object.keys(t.attributes)) {
    if (!sat.attributes.some((a) => a.name === name))
      throw new ModelError(`${where}: ${t.sat} has no attribute "${name}".`);
  }
  for (const c of sat.childKey) {
    if (!t.childKey?.[c.name]) throw new ModelError(`${where}: ${t.sat} needs child key "${c.name}".`);
  }
  const keyGetters = t.key.map((r) => compileRef(r, undefined, where));
  const childGetters = sat.childKey.map((c) => compileRef(t.childKey![c.name]!, c, where));
  const childConvs = sat.childKey.map(converterFor);
  const attrs = sat.attributes.map((a) => {
    const ref = t.attributes[a.name];
    return { name: a.name, get: ref ? compileRef(ref, a, where) : null, conv: converterFor(a) };
  });
  const table = sat.table;
  return (acc, s, base) => {
    const keyVals = keyGetters.map((g) => g(s));
    if (keyVals.some((v) => v === null)) {
      throw new MappingError(
        `${base.table} change (op ${base.isDeleted ? 'd' : 'c/u/r'}) lacks a key of ${table}: ${JSON.stringify(keyVals)}`,
        {
          hint: 'Deletes must carry the key columns (Debezium: REPLICA IDENTITY / MongoDB pre-images).',
        },
      );
    }
    const row: VaultRow = { [parent.hk]: hashKey(keyVals, acc.hk) };
    sat.childKey.forEach((c, i) => {
      const v = childGetters[i]!(s);
      row[c.name] = childConvs[i]!(v ?? '', `${where} ${c.name}`).json ?? '';
    });
    row[META.effectiveUs] = base.commitTsUs;
    row[META.effectiveTs] = base.effectiveSec;
    const texts: (string | null)[] = [];
    for (const a of attrs) {
      const { json, text } = a.conv(a.get ? a.get(s) : null, `${base.table}.${a.name}`);
      row[a.name] = json;
      texts.push(text);
    }
    row[META.hashdiff] = hashdiff(texts);
    row[META.isDeleted] = base.isDeleted;
    row[META.loadTs] = base.loadSec;
    row[META.recordSource] = base.recordSource;
    let list = acc.sats.get(table);
    if (!list) acc.sats.set(table, (list = []));
    list.push(row);
  };
}

function putKeyed(acc: Accumulator, table: string, hk: string, row: VaultRow, base: RowBase): void {
  let m = acc.keyed.get(table);
  if (!m) acc.keyed.set(table, (m = new Map()));
  const prev = m.get(hk);
  if (prev && (prev[META.firstSeenUs] as number) <= base.commitTsUs) return;
  row[META.firstSeenUs] = base.commitTsUs;
  row[META.ver] = VER_BASE - base.commitTsUs;
  row[META.loadTs] = base.loadSec;
  row[META.recordSource] = base.recordSource;
  m.set(hk, row);
}

interface CompiledFeed {
  feed: Feed;
  targets: Emit[];
  explode: { field: string; targets: Emit[] } | undefined;
}

/** Compiles feeds into emitters; throws ModelError (exit 2) for an inconsistent model. */
export function compileFeeds(feeds: Readonly<Record<string, Feed>> = FEEDS): Map<SourceTable, CompiledFeed> {
  const out = new Map<SourceTable, CompiledFeed>();
  for (const feed of Object.values(feeds)) {
    out.set(feed.source, {
      feed,
      targets: feed.targets.map((t, i) => compileTarget(feed, t, i)),
      explode: feed.explode
        ? {
            field: feed.explode.field,
            targets: feed.explode.targets.map((t, i) => compileTarget(feed, t, 100 + i)),
          }
        : undefined,
    });
  }
  return out;
}

/**
 * Compiled on first use (not at import), so a broken model fails as a ModelError (exit 2) through
 * the command's error handling, before any data moves.
 */
let COMPILED: Map<SourceTable, CompiledFeed> | undefined;

// ---------------------------------------------------------------------------------------------
// Public API

function newAccumulator(): Accumulator {
  return { keyed: new Map(), sats: new Map(), hk: new Map() };
}

function addChange(acc: Accumulator, change: SourceChange, ctx: MappingContext, loadSec: number): void {
  const compiled = (COMPILED ??= compileFeeds()).get(change.table);
  if (!compiled) throw new MappingError(`Unknown source table "${String(change.table)}".`);
  const us = change.commitTsUs;
  if (typeof us !== 'number' || !Number.isSafeInteger(us) || us < 0) {
    throw new MappingError(
      `${change.table} change has an invalid commitTsUs ${String(us)} (expected epoch microseconds).`,
    );
  }
  if (change.op !== 'c' && change.op !== 'u' && change.op !== 'd' && change.op !== 'r') {
    throw new MappingError(`${change.table} change has an unknown op "${String(change.op)}".`);
  }
  const row = change.row;
  if (!row || typeof row !== 'object') throw new MappingError(`${change.table} change has no row.`);
  for (const k of compiled.feed.keyColumns) {
    if (row[k] === null || row[k] === undefined) {
      throw new MappingError(`${change.table} change (op ${change.op}) lacks key column "${k}".`, {
        hint: 'Deletes must carry the key columns (Debezium: REPLICA IDENTITY / MongoDB pre-images).',
      });
    }
  }
  const base: RowBase = {
    commitTsUs: us,
    effectiveSec: Math.floor(us / 1_000_000),
    loadSec,
    recordSource: ctx.recordSource ? ctx.recordSource(change.table) : compiled.feed.recordSource,
    isDeleted: change.op === 'd' ? 1 : 0,
    table: change.table,
  };
  const scope: Scope = { row, item: undefined, itemNo: 0, salt: ctx.piiSalt };
  for (const emit of compiled.targets) emit(acc, scope, base);
  if (compiled.explode) {
    const arr = row[compiled.explode.field];
    if (Array.isArray(arr)) {
      for (let i = 0; i < arr.length; i++) {
        const el = arr[i];
        if (el === null || typeof el !== 'object' || Array.isArray(el)) {
          throw new MappingError(`${change.table}.${compiled.explode.field}[${i}] is not an object.`);
        }
        const s: Scope = { row, item: el, itemNo: i + 1, salt: ctx.piiSalt };
        for (const emit of compiled.explode.targets) emit(acc, s, base);
      }
    }
  }
}

function toRowSet(acc: Accumulator): VaultRowSet {
  const out: VaultRowSet = new Map();
  for (const [table, m] of acc.keyed) out.set(table, [...m.values()]);
  for (const [table, rows] of acc.sats) out.set(table, rows);
  return out;
}

function checkSalt(ctx: MappingContext): void {
  if (!ctx.piiSalt) throw new ConfigError('The mapping needs a PII salt (SHOPDATA_PII_SALT).');
}

/** Vault rows for one change. Throws MappingError for a change that cannot be keyed or typed. */
export function mapChange(change: SourceChange, ctx: MappingContext): VaultRowSet {
  return mapChanges([change], ctx);
}

/**
 * Vault rows for many changes, merged per table: hub and link rows are deduplicated by hash key
 * (earliest sighting kept), satellite rows are all kept (the table collapses exact repeats).
 */
export function mapChanges(changes: Iterable<SourceChange>, ctx: MappingContext): VaultRowSet {
  checkSalt(ctx);
  const acc = newAccumulator();
  const loadSec = Math.floor(ctx.loadTs.getTime() / 1000);
  for (const c of changes) addChange(acc, c, ctx, loadSec);
  return toRowSet(acc);
}

/** Appends `from` to `into` (no deduplication; the tables collapse repeats). */
export function mergeRowSets(into: VaultRowSet, from: VaultRowSet): VaultRowSet {
  for (const [table, rows] of from) {
    const list = into.get(table);
    if (list) for (const r of rows) list.push(r);
    else into.set(table, [...rows]);
  }
  return into;
}

/** Number of rows in a row set. */
export function rowSetSize(rs: VaultRowSet): number {
  let n = 0;
  for (const rows of rs.values()) n += rows.length;
  return n;
}

/**
 * A value in its column form (`json`, as sent with JSONEachRow) and its canonical hash text, as
 * the mapping computes them for a column of this spec (e.g. a decimal "12.5" → 12.5 / "12.50").
 */
export function columnValue(spec: ColumnSpec, v: CanonicalValue): { json: unknown; text: string | null } {
  return converterFor(spec)(v, spec.name);
}
