import { ValueError } from './errors.js';

/**
 * Decimals, exact. The canonical form is plain notation with exactly the column's scale ("12.50",
 * "-0.07", "0.00"). One rule on every path: a value with more significant fraction digits than the
 * scale is rejected (`too-many-decimals`), never rounded; a value beyond the column's precision is
 * rejected (`out-of-range`). Negative zero is zero.
 */

const DECIMAL_RE = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
/** Exponents beyond this are refused before any arithmetic (1e999999 would allocate a huge BigInt). */
const MAX_EXPONENT = 400;
/** Digits a JavaScript number carries exactly (a decimal with more may not survive as a double). */
const DOUBLE_DIGITS = 15;

/** True if `s` is a plain or exponent decimal literal ("12.50", "-3", "1.2E+3"). */
export function isDecimalLiteral(s: string): boolean {
  const m = DECIMAL_RE.exec(s);
  return !!m && ((m[2] ?? '') + (m[3] ?? '')).length > 0;
}

/** The one decimal formatter: an unscaled integer with `scale` digits after the point, (1250n, 2) → "12.50". */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (scale === 0) return (negative ? '-' : '') + digits;
  const padded = digits.padStart(scale + 1, '0');
  const text = `${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/**
 * The unscaled integer of a decimal literal at `scale`, exactly ("12.5", 2 → 1250n). Throws
 * `too-many-decimals` when digits would be lost, and `out-of-range` beyond `precision` digits.
 */
export function unscaledAt(literal: string, scale: number, precision?: number): bigint {
  const m = DECIMAL_RE.exec(literal.trim());
  const intPart = m?.[2] ?? '';
  const fracPart = m?.[3] ?? '';
  if (!m || intPart.length + fracPart.length === 0) throw new ValueError('is not a decimal number');
  const exp10 = Number.parseInt(m[4] ?? '0', 10);
  if (!Number.isFinite(exp10) || Math.abs(exp10) > MAX_EXPONENT)
    throw new ValueError('has an exponent out of range', 'out-of-range');
  const exp = exp10 - fracPart.length + scale;
  let unscaled = BigInt(intPart + fracPart || '0');
  if (exp >= 0) {
    unscaled *= 10n ** BigInt(exp);
  } else {
    const div = 10n ** BigInt(-exp);
    if (unscaled % div !== 0n)
      throw new ValueError(`has more than ${scale} decimal places`, 'too-many-decimals');
    unscaled /= div;
  }
  if (precision !== undefined && unscaled >= 10n ** BigInt(precision))
    throw new ValueError(`does not fit Decimal(${precision}, ${scale})`, 'out-of-range');
  return m[1] === '-' ? -unscaled : unscaled;
}

const CANONICAL_2 = /^-?(?:0|[1-9]\d*)\.\d\d$/;

/** A decimal literal in canonical form at `scale`: "12.5" → "12.50", "1.25E+1" → "12.50", "-0" → "0.00". */
export function normalizeDecimal(literal: string, scale: number, precision?: number): string {
  // Fast path: already canonical at scale 2 (what decimal.handling.mode=string sends for money).
  if (
    scale === 2 &&
    CANONICAL_2.test(literal) &&
    literal !== '-0.00' &&
    literal.length < 20 &&
    (precision === undefined || literal.replace('-', '').length - 3 <= precision - 2)
  )
    return literal;
  return formatDecimal(unscaledAt(literal, scale, precision), scale);
}

/**
 * A JavaScript number (Debezium's decimal.handling.mode=double, a BSON double, a Parquet decimal as
 * hyparquet returns it) at the column's scale. The number's shortest round-trip text is the
 * decimal the writer meant as long as it has at most 15 significant digits; beyond that the
 * number cannot be read exactly and is refused. Never rounds: 19.995 at scale 2 is rejected.
 */
export function decimalFromNumber(n: number, scale: number, precision?: number): string {
  if (!Number.isFinite(n)) throw new ValueError('is not a finite number');
  const text = String(n);
  const digits = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '');
  if (digits.length > DOUBLE_DIGITS)
    throw new ValueError(
      `has more than ${DOUBLE_DIGITS} significant digits and cannot be read exactly as a number`,
      'out-of-range',
    );
  return formatDecimal(unscaledAt(text, scale, precision), scale);
}

/**
 * A decimal as a literal or a number → canonical text at the column's scale. Throws ValueError on lost digits or a bad value.
 */
export function canonicalDecimal(v: string | number, scale: number, precision?: number): string {
  return typeof v === 'string'
    ? normalizeDecimal(v, scale, precision)
    : decimalFromNumber(v, scale, precision);
}

/** A canonical decimal string as integer units of 10^-scale ("12.50", 2 → 1250n). */
export function decimalUnits(v: string, scale: number): bigint {
  return unscaledAt(v, scale);
}

// ---------------------------------------------------------------- Kafka Connect Decimal bytes

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
  if (!looksLikeBase64(base64)) throw new ValueError('is not base64 of a precise decimal');
  if (!Number.isInteger(schemaScale) || schemaScale < 0 || schemaScale > MAX_EXPONENT)
    throw new ValueError('has a schema scale out of range', 'out-of-range');
  const unscaled = bigintFromTwosComplement(Buffer.from(base64, 'base64'));
  return normalizeDecimal(formatDecimal(unscaled, schemaScale), scale);
}

export function preciseFromDecimal(canonical: string, scale: number): string {
  return twosComplementFromBigint(unscaledAt(canonical, scale)).toString('base64');
}
