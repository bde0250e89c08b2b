import { DataProblemError, ConfigError } from '../errors/index.js';
import {
  COMMIT_TIME_RANGE,
  INT_RANGES,
  TIMESTAMP_RANGE,
  ValueError,
  canonicalDecimal,
  checkIntRange,
  checkMicros,
  decimalUnits,
  exactInt,
  formatDecimal,
  kindOf,
  toBigInt,
} from '../values/index.js';
import { canonicalText, checkPiiSalt, hashKey, hashdiff, piiHash } from './hashing.js';
import {
  FEEDS,
  FORBIDDEN_SOURCE_COLUMNS,
  HUBS,
  LINKS,
  SATELLITES,
  recordSourceRank,
  type ColumnSpec,
  type Feed,
  type FeedTarget,
  type ValueRef,
} from './model.js';
import { META, keyVersion, satelliteParent } from './tables.js';
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

/**
 * A change that cannot become vault rows (missing key, a value outside its vault column's range).
 * Exit 1; `stream` dead-letters it, `backfill` lists it in its report. The message names the field
 * and the problem, never the value.
 */
export class MappingError extends DataProblemError {
  override readonly code = 'MAPPING_FAILED';
}

/** A MappingError for a value: `${where}: ${problem}`. */
function valueProblem(where: string, err: unknown): MappingError {
  if (err instanceof ValueError) return new MappingError(`${where}: ${err.message}`);
  throw err;
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
    return (s) => {
      const v = s.row[name];
      if (v !== null && v !== undefined && typeof v !== 'string')
        throw new MappingError(`${where}: ${name} expected a string, got ${article(kindOf(v))}`);
      return piiHash(v, s.salt, how);
    };
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
    return target?.kind === 'decimal' ? formatDecimal(total, scale) : toSafeNumber(total);
  };
}

function toUnits(v: CanonicalValue | undefined, scale: number, where: string): bigint {
  if (v === null || v === undefined) return 0n;
  try {
    if (typeof v === 'bigint') return v * 10n ** BigInt(scale);
    if (typeof v === 'number' && Number.isInteger(v) && scale === 0) return toBigInt(v);
    if (typeof v === 'string' || typeof v === 'number') return decimalUnits(String(v), scale);
  } catch (err) {
    throw valueProblem(where, err);
  }
  throw new MappingError(`${where}: cannot sum ${article(kindOf(v))}`);
}

/** An integer for JSONEachRow: a number when exact, else its digits as a string (ClickHouse reads quoted integers). */
function toSafeNumber(n: bigint): number | string {
  const e = exactInt(n);
  return typeof e === 'number' ? e : e.toString();
}

function article(kind: string): string {
  return /^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`;
}

/**
 * Converts a value to its column form (JSON for JSONEachRow) and its canonical hash text, after
 * checking it fits the vault column: integers within the ClickHouse type's range, timestamps
 * within TIMESTAMP_RANGE, decimals within precision and scale. A value that does not fit is a
 * MappingError (a reject), never clamped or wrapped by ClickHouse.
 */
type Converter = (v: CanonicalValue, where: string) => { json: unknown; text: string | null };

function converterFor(spec: ColumnSpec): Converter {
  switch (spec.kind) {
    case 'int': {
      // Bounds as numbers for the common case, a safe integer (exact against any 64-bit bound).
      const [lo, hi] = INT_RANGES[spec.chType]!.map(Number) as [number, number];
      return (v, where) => {
        if (v === null || v === undefined) return { json: null, text: null };
        if (typeof v === 'number' && Number.isSafeInteger(v)) {
          if (v < lo || v > hi) throw new MappingError(`${where}: is outside the ${spec.chType} range`);
          return { json: v, text: String(v) };
        }
        if (typeof v !== 'number' && typeof v !== 'bigint' && typeof v !== 'string')
          throw new MappingError(`${where}: expected an integer, got ${article(kindOf(v))}`);
        try {
          const n = toBigInt(v);
          checkIntRange(n, spec.chType);
          return { json: toSafeNumber(n), text: n.toString() };
        } catch (err) {
          throw valueProblem(where, err);
        }
      };
    }
    case 'timestamp':
      return (v, where) => {
        if (v === null || v === undefined) return { json: null, text: null };
        if (typeof v !== 'number' && typeof v !== 'bigint')
          throw new MappingError(`${where}: expected epoch microseconds, got ${article(kindOf(v))}`);
        try {
          const us = checkMicros(typeof v === 'bigint' ? Number(exactInt(v)) : v, TIMESTAMP_RANGE);
          return { json: us, text: String(us) };
        } catch (err) {
          throw valueProblem(where, err);
        }
      };
    case 'decimal': {
      const scale = spec.scale ?? 0;
      return (v, where) => {
        if (v === null || v === undefined) return { json: null, text: null };
        if (typeof v !== 'number' && typeof v !== 'bigint' && typeof v !== 'string')
          throw new MappingError(`${where}: expected a decimal, got ${article(kindOf(v))}`);
        let text: string;
        try {
          // a bigint here is a whole number (a sum of integers), not unscaled units
          text = canonicalDecimal(typeof v === 'bigint' ? v.toString() : v, scale, spec.precision);
        } catch (err) {
          throw valueProblem(where, err);
        }
        // JSON numbers: 18.16 does not parse quoted decimals. Up to 15 digits survive the double.
        if (text.replace(/[-.]/g, '').replace(/^0+/, '').length > 15) {
          throw new MappingError(
            `${where}: has more than 15 significant digits, which cannot be loaded exactly`,
          );
        }
        return { json: Number(text), text };
      };
    }
    case 'bool':
      return (v, where) => {
        if (v === null || v === undefined) return { json: null, text: null };
        if (v === true || v === 1) return { json: 1, text: '1' };
        if (v === false || v === 0) return { json: 0, text: '0' };
        throw new MappingError(`${where}: expected a boolean, got ${article(kindOf(v))}`);
      };
    case 'pii':
    case 'string':
      return (v, where) => {
        if (v === null || v === undefined) return { json: null, text: null };
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint')
          throw new MappingError(`${where}: expected a string, got ${article(kindOf(v))}`);
        const text = canonicalText(v);
        return { json: text, text };
      };
  }
}

type Emit = (acc: Accumulator, s: Scope, base: RowBase) => void;

interface RowBase {
  commitTsUs: number;
  /** The ReplacingMergeTree version of hub and link rows (keyVersion). */
  keyVer: string;
  rank: number;
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
  /** Rank of each record source seen (the tie-break at equal commit times; a handful of entries). */
  rank: Map<string, number>;
}

function compileTarget(feed: Feed, t: FeedTarget, idx: number): Emit {
  const where = `feed ${feed.source} target ${idx}`;
  if ('hub' in t) {
    const hub = HUBS[t.hub];
    if (t.key.length !== hub.businessKey.length)
      throw new ModelError(`${where}: hub ${t.hub} needs ${hub.businessKey.length} key values.`);
    const getters = t.key.map((r, i) => compileRef(r, hub.businessKey[i], where));
    const convs = hub.businessKey.map(converterFor);
    const keyWhere = hub.businessKey.map((c) => `${feed.source}: ${hub.table}.${c.name}`);
    const table = hub.table;
    return (acc, s, base) => {
      const vals = getters.map((g) => g(s));
      if (vals.some((v) => v === null)) return; // an optional reference (e.g. a product without seller)
      const row: VaultRow = {};
      hub.businessKey.forEach((c, i) => (row[c.name] = convs[i]!(vals[i]!, keyWhere[i]!).json));
      const hk = hashKey(vals, acc.hk);
      row[hub.hk] = hk;
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
    const keySpecs = [...hubs.flatMap((h) => [...h.businessKey]), ...link.childKey];
    const keyConvs = keySpecs.map(converterFor);
    const keyWhere = keySpecs.map((c) => `${feed.source}: ${link.table} key ${c.name}`);
    const childConvs = link.childKey.map(converterFor);
    const table = link.table;
    return (acc, s, base) => {
      const vals = getters.map((g) => g(s));
      if (vals.some((v) => v === null)) return;
      for (let i = 0; i < vals.length; i++) keyConvs[i]!(vals[i]!, keyWhere[i]!);
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
  const parentKeySpecs =
    parent.kind === 'hub'
      ? [...HUBS[parent.name as keyof typeof HUBS].businessKey]
      : (() => {
          const l = LINKS[parent.name as keyof typeof LINKS];
          return [...l.hubs.flatMap((h) => [...HUBS[h].businessKey]), ...l.childKey];
        })();
  const parentKeyConvs = parentKeySpecs.map(converterFor);
  const parentWhere = parentKeySpecs.map((c) => `${feed.source}: ${sat.table} key ${c.name}`);
  const childGetters = sat.childKey.map((c) => compileRef(t.childKey![c.name]!, c, where));
  const childConvs = sat.childKey.map(converterFor);
  const attrs = sat.attributes.map((a) => {
    const ref = t.attributes[a.name];
    return {
      name: a.name,
      get: ref ? compileRef(ref, a, where) : null,
      conv: converterFor(a),
      where: `${feed.source}.${a.name}`,
    };
  });
  const table = sat.table;
  return (acc, s, base) => {
    const keyVals = keyGetters.map((g) => g(s));
    if (keyVals.includes(null)) {
      const missing = parentKeySpecs.filter((_, i) => keyVals[i] === null).map((c) => c.name);
      throw new MappingError(
        `${base.table} change (op ${base.isDeleted ? 'd' : 'c/u/r'}) lacks a key of ${table}: ${missing.join(', ')} is null`,
        {
          hint: 'Deletes must carry the key columns (Debezium: REPLICA IDENTITY / MongoDB pre-images).',
        },
      );
    }
    for (let i = 0; i < keyVals.length; i++) parentKeyConvs[i]!(keyVals[i]!, parentWhere[i]!);
    const row: VaultRow = { [parent.hk]: hashKey(keyVals, acc.hk) };
    sat.childKey.forEach((c, i) => {
      const v = childGetters[i]!(s);
      row[c.name] = childConvs[i]!(v ?? '', `${where} ${c.name}`).json ?? '';
    });
    row[META.effectiveUs] = base.commitTsUs;
    row[META.effectiveTs] = base.effectiveSec;
    const texts: (string | null)[] = [];
    for (const a of attrs) {
      const { json, text } = a.conv(a.get ? a.get(s) : null, a.where);
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

/** Keeps the first sighting of a key in the batch, by the same rule as the table's version column. */
function putKeyed(acc: Accumulator, table: string, hk: string, row: VaultRow, base: RowBase): void {
  let m = acc.keyed.get(table);
  if (!m) acc.keyed.set(table, (m = new Map()));
  const prev = m.get(hk);
  if (prev) {
    const prevUs = prev[META.firstSeenUs] as number;
    if (prevUs < base.commitTsUs) return;
    if (prevUs === base.commitTsUs && (acc.rank.get(prev[META.recordSource] as string) ?? 0) <= base.rank)
      return;
  }
  row[META.firstSeenUs] = base.commitTsUs;
  row[META.ver] = base.keyVer;
  row[META.loadTs] = base.loadSec;
  row[META.recordSource] = base.recordSource;
  acc.rank.set(base.recordSource, base.rank);
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
  return { keyed: new Map(), sats: new Map(), hk: new Map(), rank: new Map() };
}

function addChange(acc: Accumulator, change: SourceChange, ctx: MappingContext, loadSec: number): void {
  const compiled = (COMPILED ??= compileFeeds()).get(change.table);
  if (!compiled) throw new MappingError(`Unknown source table "${String(change.table)}".`);
  const us = change.commitTsUs;
  if (typeof us !== 'number') throw new MappingError(`${change.table} change: commit time is not a number`);
  try {
    checkMicros(us, COMMIT_TIME_RANGE);
  } catch (err) {
    throw valueProblem(`${change.table} change: commit time`, err);
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
  const rank = recordSourceRank(change.table);
  const base: RowBase = {
    commitTsUs: us,
    keyVer: keyVersion(us, rank),
    rank,
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
  checkPiiSalt(ctx.piiSalt);
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

/** A change the mapping refused, with its position in the input and the reason. */
export interface RejectedChange {
  index: number;
  change: SourceChange;
  error: MappingError;
}

/**
 * Vault rows for the changes that can be mapped, and the ones that cannot with their reasons, so
 * one bad change never holds back the rest (the stream dead-letters the rejects, backfill reports
 * them). Maps the batch in one pass when nothing is wrong; otherwise finds the rejects one by one.
 */
export function mapChangesIsolated(
  changes: readonly SourceChange[],
  ctx: MappingContext,
): { rows: VaultRowSet; rejected: RejectedChange[] } {
  try {
    return { rows: mapChanges(changes, ctx), rejected: [] };
  } catch (err) {
    if (!(err instanceof MappingError)) throw err;
  }
  const good: SourceChange[] = [];
  const rejected: RejectedChange[] = [];
  changes.forEach((change, index) => {
    try {
      mapChange(change, ctx);
      good.push(change);
    } catch (err) {
      if (!(err instanceof MappingError)) throw err;
      rejected.push({ index, change, error: err });
    }
  });
  return { rows: good.length > 0 ? mapChanges(good, ctx) : new Map(), rejected };
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
 * The vault columns each source column feeds, from the model: `row` per column of the change,
 * `item` per field of the exploded array's elements. What a value must fit so the mapping accepts
 * it; pull-mode backfill checks the same ranges in SQL (backfill/pull.ts).
 */
export function sourceColumnSpecs(table: SourceTable): {
  row: Map<string, ColumnSpec[]>;
  item: Map<string, ColumnSpec[]>;
} {
  const row = new Map<string, ColumnSpec[]>();
  const item = new Map<string, ColumnSpec[]>();
  const note = (ref: ValueRef | undefined, spec: ColumnSpec | undefined) => {
    if (!ref || !spec) return;
    const key = 'col' in ref ? ref.col : 'item' in ref ? ref.item : undefined;
    if (key === undefined) return;
    const m = 'col' in ref ? row : item;
    const list = m.get(key) ?? [];
    if (!list.includes(spec)) list.push(spec);
    m.set(key, list);
  };
  const feed = FEEDS[table];
  for (const t of [...feed.targets, ...(feed.explode?.targets ?? [])]) {
    if ('hub' in t) t.key.forEach((r, i) => note(r, HUBS[t.hub].businessKey[i]));
    else if ('link' in t) {
      const l = LINKS[t.link];
      const specs = [...l.hubs.flatMap((h) => [...HUBS[h].businessKey]), ...l.childKey];
      t.key.forEach((r, i) => note(r, specs[i]));
    } else {
      const sat = SATELLITES[t.sat];
      const p = satelliteParent(t.sat);
      const specs =
        p.kind === 'hub'
          ? [...HUBS[p.name as keyof typeof HUBS].businessKey]
          : (() => {
              const l = LINKS[p.name as keyof typeof LINKS];
              return [...l.hubs.flatMap((h) => [...HUBS[h].businessKey]), ...l.childKey];
            })();
      t.key.forEach((r, i) => note(r, specs[i]));
      for (const c of sat.childKey) note(t.childKey?.[c.name], c);
      for (const a of sat.attributes) note(t.attributes[a.name], a);
    }
  }
  return { row, item };
}

/**
 * A value in its column form (`json`, as sent with JSONEachRow) and its canonical hash text, as
 * the mapping computes them for a column of this spec (e.g. a decimal "12.5" → 12.5 / "12.50").
 */
export function columnValue(spec: ColumnSpec, v: CanonicalValue): { json: unknown; text: string | null } {
  return converterFor(spec)(v, spec.name);
}
