import type { CanonicalRow, CanonicalValue, ChangeOp, SourceChange, SourceTable } from '../vault/types.js';
import { DataProblemError } from '../errors/index.js';
import {
  US_PER_DAY,
  ValueError,
  canonicalDecimal,
  exactInt,
  formatDecimal,
  kindOf,
  microsFromBigint,
  microsFromIso,
  toBigInt,
  unscaledAt,
} from '../values/index.js';
import { EXACT_COMMIT_TIME_COLUMN, LAKE_SCHEMAS, type LakeField, type LakeType } from './schema.js';

/**
 * Lake rows ↔ canonical `SourceChange`s. Reading tolerates every physical representation the
 * lake's writers produce (BigInt or number integers, decimals as JS numbers, byte strings or
 * unscaled integers, timestamps as epoch µs numbers, Dates or BigInts) and always yields the
 * canonical values of vault/types.ts, so a change read from the lake maps to the same vault rows
 * as the same change decoded from Debezium. Values are converted by src/lib/values with the same
 * rule as the Debezium path: what cannot be represented exactly (a decimal with more digits than
 * its scale, a timestamp beyond what a number holds) is a LakeRowError, never rounded.
 */

/**
 * hyparquet parsers that keep timestamps exact, as epoch microseconds: a number when it is exact,
 * the bigint otherwise (toMicros then rejects that row instead of the whole file failing).
 */
export const MICROS_PARSERS = {
  timestampFromMilliseconds: (ms: bigint): number | bigint => exactInt(ms * 1000n),
  timestampFromMicroseconds: (us: bigint): number | bigint => exactInt(us),
  timestampFromNanoseconds: (ns: bigint): number | bigint => {
    const q = ns / 1000n;
    return exactInt(ns < 0n && q * 1000n !== ns ? q - 1n : q);
  },
  dateFromDays: (days: number): number => days * US_PER_DAY,
};

/**
 * One lake row that cannot become a canonical change (a bad value, a missing `__ts`). The
 * message names the table, the column and the problem, never the value. Backfill lists such
 * rows in its report and loads the rest.
 */
export class LakeRowError extends DataProblemError {
  override readonly code = 'LAKE_ROW_INVALID';
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}.`, {
      hint: 'The lake row does not match the changelog layout of docs/CONTRACT.md §5; it was not loaded.',
    });
  }
}

function badValue(what: string, v: unknown): LakeRowError {
  return new LakeRowError(what, `unexpected ${kindOf(v)} value`);
}

function converting<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof ValueError) throw new LakeRowError(what, err.message);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Values

function toInteger(v: unknown, what: string): number | bigint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'bigint' || (typeof v === 'string' && /^-?\d+$/.test(v)))
    return converting(what, () => exactInt(toBigInt(v)));
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw badValue(what, v);
}

function toDecimal(v: unknown, t: { precision: number; scale: number }, what: string): string | null {
  if (v === null || v === undefined) return null;
  // hyparquet returns decimals as unscaled / 10^fileScale in a double: its shortest text is the
  // stored decimal (≤ 15 digits), and a file with more digits than the column's scale is refused.
  if (typeof v === 'string' || typeof v === 'number')
    return converting(what, () => canonicalDecimal(v, t.scale, t.precision));
  if (typeof v === 'bigint') {
    // already unscaled at the column's scale (our writer's physical form)
    if ((v < 0n ? -v : v) >= 10n ** BigInt(t.precision))
      throw new LakeRowError(what, `does not fit Decimal(${t.precision}, ${t.scale})`);
    return formatDecimal(v, t.scale);
  }
  throw badValue(what, v);
}

function toMicros(v: unknown, what: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v))
      throw new LakeRowError(what, 'is not an exact integer of epoch microseconds');
    return v;
  }
  if (typeof v === 'bigint') return converting(what, () => microsFromBigint(v));
  if (v instanceof Date) {
    const ms = v.getTime();
    if (!Number.isSafeInteger(ms * 1000)) throw new LakeRowError(what, 'is not a valid timestamp');
    return ms * 1000;
  }
  if (typeof v === 'string') return converting(what, () => microsFromIso(v));
  throw badValue(what, v);
}

function toStr(v: unknown, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  throw badValue(what, v);
}

function toBool(v: unknown, what: string): boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0;
  if (v === 'true' || v === 'false') return v === 'true';
  throw badValue(what, v);
}

export function toCanonical(type: LakeType, v: unknown, what: string): CanonicalValue {
  switch (type.kind) {
    case 'long':
    case 'int':
      return toInteger(v, what);
    case 'string':
      return toStr(v, what);
    case 'boolean':
      return toBool(v, what);
    case 'timestamptz':
      return toMicros(v, what);
    case 'decimal':
      return toDecimal(v, type, what);
    case 'list': {
      if (v === null || v === undefined) return null;
      if (!Array.isArray(v)) throw badValue(what, v);
      return v.map((el: unknown) => {
        if (el === null || el === undefined) return null;
        const obj = el as Record<string, unknown>;
        const out: Record<string, CanonicalValue> = {};
        for (const f of type.element.fields)
          out[f.name] = toCanonical(f.type, obj[f.name], `${what}.${f.name}`);
        return out;
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rows ↔ changes

const OPS = new Set(['c', 'u', 'd', 'r']);

/**
 * One lake changelog row → a canonical change. Columns the table does not declare are ignored
 * (schema additions); declared columns that are absent become null (older files).
 */
export function lakeRowToChange(
  table: SourceTable,
  row: Record<string, unknown>,
  origin?: string,
): SourceChange {
  const schema = LAKE_SCHEMAS[table];
  const out: CanonicalRow = {};
  let op: ChangeOp | undefined;
  let commitTsUs: number | null = null;
  let deleted = false;
  for (const f of schema.fields) {
    const v = row[f.name];
    if (f.name === '__op') {
      const s = toStr(v, `${table}.__op`);
      if (s !== null) {
        if (!OPS.has(s)) throw new LakeRowError(`${table}.__op`, 'is not one of c, u, d, r');
        op = s as ChangeOp;
      }
    } else if (f.name === '__ts') {
      commitTsUs = toMicros(v, `${table}.__ts`);
    } else if (f.name === '__deleted') {
      deleted = toBool(v, `${table}.__deleted`) === true;
    } else {
      out[f.name] = toCanonical(f.type, v, `${table}.${f.name}`);
    }
  }
  const exactUs = toMicros(row[EXACT_COMMIT_TIME_COLUMN], `${table}.${EXACT_COMMIT_TIME_COLUMN}`);
  if (exactUs !== null) commitTsUs = exactUs;
  if (commitTsUs === null) throw new LakeRowError(`${table}.__ts`, 'is missing');
  if (deleted) op = 'd';
  if (!op) throw new LakeRowError(`${table}.__op`, 'is missing');
  return { table, op, row: out, commitTsUs, ...(origin ? { origin } : {}) };
}

/** The physical values our writer stores: BigInt for long/timestamps, unscaled BigInt decimals. */
export function changeToLakeRow(change: SourceChange): Record<string, unknown> {
  const schema = LAKE_SCHEMAS[change.table];
  const row: Record<string, unknown> = {};
  for (const f of schema.fields) {
    if (f.name === '__op') row[f.name] = change.op;
    else if (f.name === '__ts') row[f.name] = BigInt(change.commitTsUs);
    else if (f.name === '__deleted') row[f.name] = change.op === 'd';
    else row[f.name] = toPhysical(f, change.row[f.name]);
  }
  return row;
}

function toPhysical(f: LakeField, v: CanonicalValue | undefined): unknown {
  if (v === null || v === undefined) return null;
  const t = f.type;
  switch (t.kind) {
    case 'long':
      return BigInt(v as number | bigint);
    case 'int':
      return Number(v);
    case 'timestamptz':
      return BigInt(v as number);
    case 'decimal':
      return unscaledAt(String(v), t.scale, t.precision);
    case 'string':
      return String(v);
    case 'boolean':
      return Boolean(v);
    case 'list':
      return (v as Record<string, CanonicalValue>[]).map((el) => {
        const o: Record<string, unknown> = {};
        for (const sf of t.element.fields) o[sf.name] = toPhysical(sf, el[sf.name]);
        return o;
      });
  }
}
