import type { CanonicalRow, CanonicalValue, ChangeOp, SourceChange, SourceTable } from '../vault/types.js';
import { DataProblemError } from '../errors/index.js';
import { LAKE_SCHEMAS, type LakeField, type LakeType } from './schema.js';

/**
 * Lake rows ↔ canonical `SourceChange`s. Reading tolerates every physical representation the
 * lake's writers produce (BigInt or number integers, decimals as JS numbers, byte strings or
 * unscaled integers, timestamps as epoch µs numbers, Dates or BigInts) and always yields the
 * canonical values of vault/types.ts, so a change read from the lake maps to the same vault rows
 * as the same change decoded from Debezium.
 */

const US_PER_DAY = 86_400_000_000;

/** hyparquet parsers that keep timestamps exact, as epoch microseconds (numbers). */
export const MICROS_PARSERS = {
  timestampFromMilliseconds: (ms: bigint): number => Number(ms) * 1000,
  timestampFromMicroseconds: (us: bigint): number => Number(us),
  timestampFromNanoseconds: (ns: bigint): number => Number(ns / 1000n),
  dateFromDays: (days: number): number => days * US_PER_DAY,
};

export function dayOfMicros(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString().slice(0, 10);
}

/** Days since 1970-01-01 (Iceberg's `day` transform) of epoch µs. */
export function epochDayOfMicros(us: number): number {
  return Math.floor(us / US_PER_DAY);
}

export function epochDayOfDate(day: string): number {
  return Math.floor(Date.parse(`${day}T00:00:00Z`) / 86_400_000);
}

export function dateOfEpochDay(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------
// Values

function toInteger(v: unknown, what: string): number | bigint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw badValue(what, v);
    return v;
  }
  if (typeof v === 'bigint')
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return toInteger(BigInt(v), what);
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw badValue(what, v);
}

/** Unscaled integer + scale → "123.45" (plain notation, exactly `scale` decimals). */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return neg ? `-${digits}` : digits;
}

/** A decimal string in any notation → its unscaled value at `scale` (exact, rounds half away). */
export function parseDecimalString(s: string, scale: number): bigint {
  const m = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`not a decimal: "${s}"`);
  const exp = Number(m[4] ?? 0);
  let digits = (m[2] ?? '') + (m[3] ?? '');
  const pointPos = (m[2] ?? '').length + exp; // digits before the decimal point
  const want = pointPos + scale; // digits to keep
  let roundUp = false;
  if (want < digits.length) {
    roundUp = want >= 0 && digits[want]! >= '5';
    digits = want > 0 ? digits.slice(0, want) : '';
  } else {
    digits = digits.padEnd(want, '0');
  }
  let n = digits ? BigInt(digits) : 0n;
  if (roundUp) n += 1n;
  return m[1] === '-' ? -n : n;
}

// 2^50: beyond this a JS number cannot be scaled back to the exact unscaled integer.
const EXACT_LIMIT = 2 ** 50;

function toDecimal(v: unknown, scale: number, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return formatDecimal(parseDecimalString(v, scale), scale);
  if (typeof v === 'number') {
    // hyparquet returns decimals as unscaled / 10^scale in a double; undo that exactly.
    const scaled = v * 10 ** scale;
    if (!Number.isFinite(scaled) || Math.abs(scaled) >= EXACT_LIMIT) {
      throw new DataProblemError(`${what}: decimal ${v} is too large to read exactly.`, {
        hint: 'Decimals must stay below 2^50 units of their scale (about 11 trillion at scale 2).',
      });
    }
    return formatDecimal(BigInt(Math.round(scaled)), scale);
  }
  if (typeof v === 'bigint') return formatDecimal(v, scale); // already unscaled
  throw badValue(what, v);
}

function toMicros(v: unknown, what: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime() * 1000;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) throw badValue(what, v);
    const frac = /\.(\d+)/.exec(v)?.[1] ?? '';
    const extraUs = frac.length > 3 ? Number(frac.slice(3, 6).padEnd(3, '0')) : 0;
    return ms * 1000 + extraUs;
  }
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

function badValue(what: string, v: unknown): DataProblemError {
  const shown = typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v));
  return new DataProblemError(`Unexpected lake value for ${what}: ${shown.slice(0, 80)}.`, {
    hint: 'The lake file does not match the changelog layout of docs/CONTRACT.md §5.',
  });
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
      return toDecimal(v, type.scale, what);
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
        if (!OPS.has(s)) throw badValue(`${table}.__op`, s);
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
  if (commitTsUs === null) throw badValue(`${table}.__ts`, null);
  if (deleted) op = 'd';
  if (!op) throw badValue(`${table}.__op`, null);
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
      return parseDecimalString(String(v), t.scale);
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
