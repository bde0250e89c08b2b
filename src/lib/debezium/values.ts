/**
 * Conversions between Debezium's wire encodings and the canonical values of src/lib/vault/types.ts:
 * decimals as plain strings with the column's scale, timestamps as epoch microseconds (UTC).
 * Used by both the decoder and the encoder so the two stay exact inverses.
 */

/** A value that does not fit its column; the decoder turns it into a `type-mismatch` reject. */
export class ValueError extends Error {
  constructor(
    message: string,
    readonly reason: 'type-mismatch' | 'precise-decimal-without-schema' = 'type-mismatch',
  ) {
    super(message);
    this.name = 'ValueError';
  }
}

// ---------------------------------------------------------------- decimals

const DECIMAL_RE = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** True if `s` is a plain or exponent decimal literal ("12.50", "-3", "1.2E+3"). */
export function isDecimalLiteral(s: string): boolean {
  const m = DECIMAL_RE.exec(s);
  return !!m && ((m[2] ?? '') + (m[3] ?? '')).length > 0;
}

/** Formats an unscaled integer with `scale` digits after the point: (1250n, 2) → "12.50". */
export function formatUnscaled(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (scale === 0) return (negative ? '-' : '') + digits;
  const padded = digits.padStart(scale + 1, '0');
  const text = `${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/**
 * The unscaled integer of a decimal literal at `scale`, exactly. Throws if the literal has more
 * significant fractional digits than the scale allows (it would not fit the column).
 */
export function unscaledAt(literal: string, scale: number): bigint {
  const m = DECIMAL_RE.exec(literal.trim());
  const intPart = m?.[2] ?? '';
  const fracPart = m?.[3] ?? '';
  if (!m || intPart.length + fracPart.length === 0)
    throw new ValueError(`"${literal}" is not a decimal number`);
  const exp = Number.parseInt(m[4] ?? '0', 10) - fracPart.length + scale;
  let unscaled = BigInt(intPart + fracPart || '0');
  if (exp >= 0) {
    unscaled *= 10n ** BigInt(exp);
  } else {
    const div = 10n ** BigInt(-exp);
    if (unscaled % div !== 0n) throw new ValueError(`"${literal}" has more than ${scale} decimal places`);
    unscaled /= div;
  }
  return m[1] === '-' ? -unscaled : unscaled;
}

const CANONICAL_2 = /^-?(?:0|[1-9]\d*)\.\d\d$/;

/** "12.5" → "12.50", "1.25E+1" → "12.50", "-0" → "0.00". */
export function normalizeDecimal(literal: string, scale: number): string {
  // Fast path: already canonical at scale 2 (what decimal.handling.mode=string sends for money).
  if (scale === 2 && CANONICAL_2.test(literal) && !literal.startsWith('-0.00')) return literal;
  return formatUnscaled(unscaledAt(literal, scale), scale);
}

/** A double (decimal.handling.mode=double, or a BSON double) at the column's scale. */
export function decimalFromDouble(n: number, scale: number): string {
  if (!Number.isFinite(n)) throw new ValueError(`${n} is not a finite number`);
  // toFixed picks the nearest decimal, which is the value the source stored at this scale.
  return normalizeDecimal(n.toFixed(scale), scale);
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function looksLikeBase64(s: string): boolean {
  return s.length > 0 && s.length % 4 === 0 && BASE64_RE.test(s);
}

/** Big-endian two's-complement bytes (Java BigInteger.toByteArray) → bigint. */
export function bigintFromTwosComplement(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  if (bytes[0]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return v;
}

/** bigint → the minimal big-endian two's-complement bytes, as Kafka Connect's Decimal writes them. */
export function twosComplementFromBigint(v: bigint): Buffer {
  let n = 1;
  while (v < -(1n << BigInt(n * 8 - 1)) || v >= 1n << BigInt(n * 8 - 1)) n++;
  let u = v < 0n ? v + (1n << BigInt(n * 8)) : v;
  const out = Buffer.alloc(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(u & 0xffn);
    u >>= 8n;
  }
  return out;
}

/** Kafka Connect Decimal (precise mode): base64 of the unscaled bytes, scale from the schema. */
export function decimalFromPrecise(base64: string, schemaScale: number, scale: number): string {
  if (!looksLikeBase64(base64)) throw new ValueError(`"${base64}" is not base64 of a precise decimal`);
  const unscaled = bigintFromTwosComplement(Buffer.from(base64, 'base64'));
  return normalizeDecimal(formatUnscaled(unscaled, schemaScale), scale);
}

export function preciseFromDecimal(canonical: string, scale: number): string {
  return twosComplementFromBigint(unscaledAt(canonical, scale)).toString('base64');
}

// ---------------------------------------------------------------- timestamps

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2}){0,2})?$/i;

/**
 * ISO-8601 with an offset (Debezium's ZonedTimestamp, MongoDB relaxed `$date`) → epoch µs.
 * Digits beyond microseconds are truncated; no offset means UTC.
 */
export function microsFromIso(s: string): number {
  const fast = fastUtcMicros(s);
  if (fast !== undefined) return fast;
  const m = ISO_RE.exec(s.trim());
  if (!m) throw new ValueError(`"${s}" is not an ISO-8601 timestamp`);
  const [, y, mo, d, h, mi, sec, frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  if (
    Number.isNaN(ms) ||
    Number(mo) > 12 ||
    Number(d) > 31 ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(sec) > 60
  ) {
    throw new ValueError(`"${s}" is not a valid timestamp`);
  }
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?/.exec(zone)!;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
  }
  const micros = Number((frac + '000000').slice(0, 6));
  return (ms - offsetMin * 60_000) * 1000 + micros;
}

/** "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" without a regex (the ZonedTimestamp shape); undefined otherwise. */
function fastUtcMicros(s: string): number | undefined {
  const n = s.length;
  if (n < 20 || s.charCodeAt(n - 1) !== 90 /* Z */ || s.charCodeAt(10) !== 84 /* T */) return undefined;
  const d = (i: number) => s.charCodeAt(i) - 48;
  const two = (i: number) => {
    const a = d(i);
    const b = d(i + 1);
    return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
  };
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58)
    return undefined;
  const year = two(0) * 100 + two(2);
  const month = two(5);
  const day = two(8);
  const hour = two(11);
  const minute = two(14);
  const second = two(17);
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60))
    return undefined;
  let micros = 0;
  if (n > 20) {
    if (s.charCodeAt(19) !== 46 /* . */ || n > 30) return undefined;
    let scale = 100_000;
    for (let i = 20; i < n - 1; i++) {
      const c = d(i);
      if (c < 0 || c > 9) return undefined;
      if (scale >= 1) micros += c * scale;
      scale /= 10;
    }
    micros = Math.floor(micros);
  } else if (n !== 20) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return Number.isNaN(ms) ? undefined : ms * 1000 + micros;
}

/** Epoch µs → "2026-11-25T10:00:00.123456Z" (fraction trimmed, as java.time prints it). */
export function isoFromMicros(us: number): string {
  const secs = Math.floor(us / 1_000_000);
  const fracUs = us - secs * 1_000_000;
  const base = new Date(secs * 1000).toISOString().slice(0, 19);
  if (fracUs === 0) return `${base}Z`;
  return `${base}.${String(fracUs).padStart(6, '0').replace(/0+$/, '')}Z`;
}

/** Epoch units named by Debezium/Kafka Connect temporal schema names. */
export type EpochUnit = 'ms' | 'us' | 'ns';

export function unitForSchemaName(name: string | undefined): EpochUnit | undefined {
  switch (name) {
    case 'io.debezium.time.MicroTimestamp':
      return 'us';
    case 'io.debezium.time.NanoTimestamp':
      return 'ns';
    case 'io.debezium.time.Timestamp':
    case 'org.apache.kafka.connect.data.Timestamp':
      return 'ms';
    default:
      return undefined;
  }
}

/**
 * Epoch number → µs. Without a schema the unit is inferred from the magnitude: values of 10^14 and
 * above are microseconds (as milliseconds they would be after the year 5000), below milliseconds.
 */
export function microsFromEpoch(n: number, unit?: EpochUnit): number {
  if (!Number.isFinite(n) || !Number.isInteger(n)) throw new ValueError(`${n} is not an epoch timestamp`);
  const u = unit ?? (Math.abs(n) >= 1e17 ? 'ns' : Math.abs(n) >= 1e14 ? 'us' : 'ms');
  if (u === 'ms') return n * 1000;
  if (u === 'ns') return Math.floor(n / 1000);
  return n;
}

// ---------------------------------------------------------------- integers

/** A JSON integer or the digits of a MongoDB `$numberLong` → number, or bigint beyond 2^53. */
export function canonicalInt(v: number | string, bits: 32 | 64): number | bigint {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ValueError(`${v} is not an integer`);
    if (bits === 32 && (v < -2147483648 || v > 2147483647))
      throw new ValueError(`${v} does not fit a 32-bit integer`);
    return v;
  }
  if (!/^-?\d+$/.test(v)) throw new ValueError(`"${v}" is not an integer`);
  const big = BigInt(v);
  if (bits === 32 && (big < -2147483648n || big > 2147483647n))
    throw new ValueError(`${v} does not fit a 32-bit integer`);
  if (big < -(2n ** 63n) || big >= 2n ** 63n) throw new ValueError(`${v} does not fit a 64-bit integer`);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}
