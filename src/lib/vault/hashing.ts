import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';
import { ConfigError } from '../errors/index.js';
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
 * - Personal data: upper-case hex HMAC-SHA-256 keyed with the salt (its UTF-8 bytes) of the
 *   normalised value (e-mail: trimmed and ASCII lower-cased; names: trimmed). Null stays null.
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
 * 1/0 (they are stored as UInt8), decimals as their fixed-scale string ("12.50", values/decimal.ts),
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

/** The PII salt must carry at least this many random bytes. */
export const MIN_SALT_BYTES = 16;
/** How to make a salt of the required strength (quoted in the error). */
export const SALT_HOWTO = 'openssl rand -hex 32';

/**
 * Refuses a salt that cannot hold 16 random bytes: it must be hex (≥ 32 digits) or base64 /
 * base64url (≥ 24 characters), with at least 8 distinct characters (`0000…` is not random). The
 * HMAC key is the salt text itself (its UTF-8 bytes), as configured. Exit 2; the salt is never
 * printed.
 */
export function checkPiiSalt(salt: string | undefined, source = 'SHOPDATA_PII_SALT'): string {
  if (!salt) {
    throw new ConfigError(`${source} is not set: personal data cannot be pseudonymised without it.`, {
      hint: `Generate a salt with \`${SALT_HOWTO}\`, keep it secret and the same for every run.`,
    });
  }
  // All-hex text counts as hex (4 bits a character), anything else must be base64 (6 bits).
  const strongEnough = /^[0-9a-fA-F]+$/.test(salt)
    ? salt.length >= MIN_SALT_BYTES * 2
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(salt) && salt.length >= 24;
  if (!strongEnough || new Set(salt).size < 8) {
    throw new ConfigError(
      `${source} is too weak (${salt.length} characters): it must hold at least ${MIN_SALT_BYTES} random bytes, written as hex (at least ${MIN_SALT_BYTES * 2} digits) or base64 (at least 24 characters).`,
      {
        hint: `Generate one with \`${SALT_HOWTO}\`. Changing the salt changes every pseudonym: set it once per platform and keep it secret.`,
      },
    );
  }
  return salt;
}

const KEYS = new Map<string, KeyObject>();

/** HMAC-SHA-256 of personal data, keyed with the salt; the clear text never leaves this function. */
export function piiHash(value: CanonicalValue | undefined, salt: string, how: PiiNormaliser): string | null {
  const text = canonicalText(value);
  if (text === null) return null;
  let key = KEYS.get(salt);
  if (!key) {
    if (KEYS.size > 16) KEYS.clear();
    KEYS.set(salt, (key = createSecretKey(Buffer.from(salt, 'utf8'))));
  }
  return createHmac('sha256', key).update(normalisePii(text, how), 'utf8').digest('hex').toUpperCase();
}
