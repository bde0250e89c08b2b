import type { LakeField } from '../schema.js';

/**
 * Column statistics of a data file for its manifest entry (Iceberg spec, "Manifests": value_counts,
 * null_value_counts, lower_bounds, upper_bounds keyed by field id), so that readers (pyiceberg,
 * Java, ClickHouse, ours) can skip files by predicate. Bounds use Iceberg's single-value binary
 * serialization; strings are truncated to 16 characters as Iceberg's default metrics mode
 * `truncate(16)` does (lower bound: the prefix; upper bound: the prefix with its last character
 * incremented). Only top-level primitive columns get statistics; list columns get none.
 */

export interface ColumnStats {
  value_counts: { key: number; value: number }[];
  null_value_counts: { key: number; value: number }[];
  lower_bounds: { key: number; value: Buffer }[];
  upper_bounds: { key: number; value: Buffer }[];
}

const TRUNCATE = 16;

/** Physical values as the writer holds them (see changes.ts changeToLakeRow): compare and encode. */
type Primitive = bigint | number | string | boolean;

/**
 * Order of two values of one column. Strings compare by UTF-16 code units, as Iceberg's Java
 * comparator for strings (Comparators.charSequences) does; numbers and BigInts by value.
 */
function compare(a: Primitive, b: Primitive): number {
  if (typeof a === typeof b || (typeof a !== 'string' && typeof b !== 'string' && typeof a !== 'boolean')) {
    // Same type (the usual case), or number vs BigInt: JS compares those by value.
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Iceberg single-value serialization of a bound for a field's type. */
export function encodeBound(field: LakeField, v: Primitive): Buffer | undefined {
  switch (field.type.kind) {
    case 'boolean':
      return Buffer.from([v ? 1 : 0]);
    case 'int': {
      const b = Buffer.alloc(4);
      b.writeInt32LE(Number(v));
      return b;
    }
    case 'long':
    case 'timestamptz': {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(v as bigint | number));
      return b;
    }
    case 'decimal':
      return decimalBytes(BigInt(v as bigint | number));
    case 'string':
      return Buffer.from(String(v), 'utf8');
    default:
      return undefined;
  }
}

/** Minimal big-endian two's-complement bytes of an unscaled decimal. */
export function decimalBytes(n: bigint): Buffer {
  let hex = (n < 0n ? -n : n).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (n >= 0n) {
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return bytes;
  }
  // Two's complement of the magnitude over enough bytes to keep the sign bit.
  let len = bytes.length;
  const fits = (l: number) => -n <= 1n << BigInt(l * 8 - 1);
  while (!fits(len)) len++;
  const out = Buffer.alloc(len);
  let v = (1n << BigInt(len * 8)) + n;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function truncateLower(s: string): string {
  const cps = Array.from(s);
  return cps.length <= TRUNCATE ? s : cps.slice(0, TRUNCATE).join('');
}

/** The smallest string of at most 16 characters that is ≥ s, or undefined when there is none. */
function truncateUpper(s: string): string | undefined {
  const cps = Array.from(s);
  if (cps.length <= TRUNCATE) return s;
  const head = cps.slice(0, TRUNCATE);
  for (let i = head.length - 1; i >= 0; i--) {
    const was = head[i]!.codePointAt(0)!;
    let cp = was + 1;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000; // skip the surrogate range
    // U+FFFF + 1 would be a surrogate pair, which sorts below U+FFFF in UTF-16 order.
    if (was <= 0xffff && cp > 0xffff) continue;
    if (cp <= 0x10ffff) return head.slice(0, i).join('') + String.fromCodePoint(cp);
  }
  return undefined;
}

/** Statistics of `rows` for the top-level primitive `fields`. */
export function columnStats(
  fields: readonly LakeField[],
  rows: readonly Record<string, unknown>[],
): ColumnStats {
  const out: ColumnStats = { value_counts: [], null_value_counts: [], lower_bounds: [], upper_bounds: [] };
  for (const f of fields) {
    if (f.type.kind === 'list') continue;
    let nulls = 0;
    let lo: Primitive | undefined;
    let hi: Primitive | undefined;
    for (const r of rows) {
      const v = r[f.name];
      if (v === null || v === undefined) {
        nulls++;
        continue;
      }
      const p = v as Primitive;
      if (lo === undefined || compare(p, lo) < 0) lo = p;
      if (hi === undefined || compare(p, hi) > 0) hi = p;
    }
    out.value_counts.push({ key: f.id, value: rows.length });
    out.null_value_counts.push({ key: f.id, value: nulls });
    if (lo === undefined || hi === undefined) continue;
    if (f.type.kind === 'string') {
      lo = truncateLower(String(lo));
      hi = truncateUpper(String(hi));
    }
    const lower = encodeBound(f, lo);
    const upper = hi === undefined ? undefined : encodeBound(f, hi);
    if (lower) out.lower_bounds.push({ key: f.id, value: lower });
    if (upper) out.upper_bounds.push({ key: f.id, value: upper });
  }
  return out;
}
