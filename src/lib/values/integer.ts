import { ValueError } from './errors.js';

/**
 * Integers: canonical as `number` up to 2^53, `bigint` beyond. JSON numbers beyond 2^53 have
 * already lost digits when JSON.parse returns them, so they are refused rather than guessed.
 */

/** The ranges of ClickHouse's integer types, inclusive. */
export const INT_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  UInt8: [0n, 255n],
  UInt16: [0n, 65_535n],
  UInt32: [0n, 4_294_967_295n],
  UInt64: [0n, 18_446_744_073_709_551_615n],
  Int8: [-128n, 127n],
  Int16: [-32_768n, 32_767n],
  Int32: [-2_147_483_648n, 2_147_483_647n],
  Int64: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n],
};

/** A bigint as a number when exact, else the bigint. */
export function exactInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** An integer value (number, bigint or digit string) as bigint; ValueError for anything else. */
export function toBigInt(v: number | bigint | string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ValueError('is not an integer');
    if (!Number.isSafeInteger(v))
      throw new ValueError('is beyond 2^53 as a JSON number and has lost digits', 'inexact-number');
    return BigInt(v);
  }
  if (!/^-?\d{1,40}$/.test(v)) throw new ValueError('is not an integer');
  return BigInt(v);
}

/** Throws `out-of-range` unless `v` fits the ClickHouse integer type `chType`. */
export function checkIntRange(v: bigint, chType: string): void {
  const r = INT_RANGES[chType];
  if (!r) throw new Error(`${chType} is not an integer type`);
  if (v < r[0] || v > r[1]) throw new ValueError(`is outside the ${chType} range`, 'out-of-range');
}

/** A JSON integer or the digits of a MongoDB `$numberLong` → number, or bigint beyond 2^53. */
export function canonicalInt(v: number | bigint | string, bits: 32 | 64): number | bigint {
  // the common case without BigInt: a safe integer is inside Int64, and Int32 bounds are exact
  if (
    typeof v === 'number' &&
    Number.isSafeInteger(v) &&
    (bits === 64 || (v >= -2_147_483_648 && v <= 2_147_483_647))
  )
    return v;
  const big = toBigInt(v);
  checkIntRange(big, bits === 32 ? 'Int32' : 'Int64');
  return exactInt(big);
}
