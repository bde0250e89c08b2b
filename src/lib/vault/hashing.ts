import { hash } from 'node:crypto';
import type { CanonicalValue } from './types.js';

/**
 * The hashing spec (docs/HASHING.md), in the style of AutomateDV / datavault4dbt. sql.ts generates
 * the same functions as ClickHouse SQL; test/golden/hash-vectors.json pins both bit for bit.
 *
 * - Every value is first rendered as its canonical text (`canonicalText`).
 * - Hash keys: each business-key component is trimmed (ASCII whitespace), upper-cased (ASCII only),
 *   and replaced by NULL_TOKEN when null or empty; components are joined by DELIMITER; the key is
 *   the upper-case hex MD5 of the UTF-8 bytes. If every component is null the key is ZERO_KEY.
 * - Hashdiffs: attribute values in the model's order, null → NULL_TOKEN, no trimming and no case
 *   change (any visible change is a change), joined by DELIMITER, upper-case hex MD5.
 * - Personal data: upper-case hex SHA-256 of `salt || DELIMITER || normalised value`
 *   (e-mail: trimmed and ASCII lower-cased; names: trimmed). Null stays null.
 */
export const NULL_TOKEN = '^^';
export const DELIMITER = '||';
export const ZERO_KEY = '0'.repeat(32);
/** Hash keys and hashdiffs: 32 upper-case hex digits. */
export const HASH_KEY_LENGTH = 32;
/** Pseudonymised personal data: 64 upper-case hex digits. */
export const PII_HASH_LENGTH = 64;

/** Characters `trimAscii` removes at both ends: space, \t, \n, \v, \f, \r (the same set in SQL). */
export const TRIM_CHARS = ' \t\n\u000b\f\r';
const TRIM_RE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

export function trimAscii(s: string): string {
  return s.replace(TRIM_RE, '');
}

/** ASCII-only upper-casing, as ClickHouse `upper()` (JS toUpperCase would turn ß into SS). */
export function upperAscii(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

export function lowerAscii(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * The canonical text of a value for hashing: strings as they are, integers in decimal, booleans as
 * 1/0 (they are stored as UInt8), decimals as their fixed-scale string ("12.50"; see `formatDecimal`),
 * timestamps as epoch microseconds. Returns null for null/undefined.
 */
export function canonicalText(v: CanonicalValue | undefined): string | null {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return Number.isInteger(v) ? String(v) : String(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? '1' : '0';
    default:
      return JSON.stringify(v);
  }
}

/** One business-key component after normalisation (trim, upper-case, null token). */
export function normaliseKeyPart(v: CanonicalValue | undefined): string {
  // numbers have no whitespace and no letters: skip the string work (the hot path for ids)
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  const text = canonicalText(v);
  if (text === null) return NULL_TOKEN;
  const t = isTrimmed(text) ? text : trimAscii(text);
  if (t === '') return NULL_TOKEN;
  return /[a-z]/.test(t) ? upperAscii(t) : t;
}

function isWs(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

function isTrimmed(s: string): boolean {
  return s.length > 0 && !isWs(s.charCodeAt(0)) && !isWs(s.charCodeAt(s.length - 1));
}

/** The string that is hashed into a hash key (exposed for docs, golden vectors and debugging). */
export function hashKeyPreimage(parts: readonly (CanonicalValue | undefined)[]): string {
  return parts.map(normaliseKeyPart).join(DELIMITER);
}

export function md5Hex(s: string): string {
  return hash('md5', s, 'hex').toUpperCase();
}

export function sha256Hex(s: string): string {
  return hash('sha256', s, 'hex').toUpperCase();
}

/** Hash key of a hub (one component per business-key column) or a link (hub keys, then child keys). */
export function hashKey(parts: readonly (CanonicalValue | undefined)[], cache?: Map<string, string>): string {
  let allNull = true;
  let pre = '';
  for (let i = 0; i < parts.length; i++) {
    const p = normaliseKeyPart(parts[i]);
    if (p !== NULL_TOKEN) allNull = false;
    pre = i === 0 ? p : pre + DELIMITER + p;
  }
  if (allNull) return ZERO_KEY;
  if (!cache) return md5Hex(pre);
  let hk = cache.get(pre);
  if (hk === undefined) {
    hk = md5Hex(pre);
    cache.set(pre, hk);
  }
  return hk;
}

export function hashdiffPreimage(values: readonly (CanonicalValue | undefined)[]): string {
  return values.map((v) => canonicalText(v) ?? NULL_TOKEN).join(DELIMITER);
}

/** Hashdiff of a satellite's attribute values, in the model's attribute order. */
export function hashdiff(values: readonly (CanonicalValue | undefined)[]): string {
  return md5Hex(hashdiffPreimage(values));
}

export type PiiNormaliser = 'email' | 'text';

export function normalisePii(value: string, how: PiiNormaliser): string {
  const t = trimAscii(value);
  return how === 'email' ? lowerAscii(t) : t;
}

/** Salted SHA-256 of personal data; the clear text never leaves this function. */
export function piiHash(value: CanonicalValue | undefined, salt: string, how: PiiNormaliser): string | null {
  const text = canonicalText(value);
  if (text === null) return null;
  return sha256Hex(salt + DELIMITER + normalisePii(text, how));
}

/**
 * A decimal's canonical text with exactly `scale` fraction digits ("12.5" → "12.50"), as
 * ClickHouse prints Decimal(P, scale). Throws if digits would be lost.
 */
export function formatDecimal(v: CanonicalValue | undefined, scale: number): string | null {
  if (v === null || v === undefined) return null;
  const s =
    typeof v === 'string' ? v.trim() : typeof v === 'number' || typeof v === 'bigint' ? String(v) : '';
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === ''))
    throw new RangeError(`"${String(v)}" is not a decimal number`);
  const sign = m[1] === '-' ? '-' : '';
  const int = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  let frac = m[3] ?? '';
  if (frac.length > scale) {
    if (/[^0]/.test(frac.slice(scale))) throw new RangeError(`"${s}" has more than ${scale} decimal places`);
    frac = frac.slice(0, scale);
  }
  frac = frac.padEnd(scale, '0');
  const body = scale > 0 ? `${int}.${frac}` : int;
  return sign && /[1-9]/.test(body) ? sign + body : body;
}

/** A fixed-scale decimal string as integer units of 10^-scale ("12.50", 2 → 1250n). */
export function decimalUnits(v: string, scale: number): bigint {
  const f = formatDecimal(v, scale)!;
  return BigInt(f.replace('.', ''));
}

/** Integer units of 10^-scale back to a fixed-scale decimal string (1250n, 2 → "12.50"). */
export function unitsToDecimal(units: bigint, scale: number): string {
  const neg = units < 0n;
  const digits = (neg ? -units : units).toString().padStart(scale + 1, '0');
  const body = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return neg ? '-' + body : body;
}
