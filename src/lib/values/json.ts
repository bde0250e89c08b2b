/**
 * JSON.parse that keeps integers beyond 2^53 exact, as bigint. Debezium writes PostgreSQL bigint
 * and NanoTimestamp values as JSON numbers; plain JSON.parse turns 9007199254740993 into
 * 9007199254740992. The reviver (with the literal's source text, Node ≥ 21) only runs when the
 * text has a run of 16 digits, so ordinary events parse at full speed.
 */
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;

function exactIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (
    typeof value === 'number' &&
    !Number.isSafeInteger(value) &&
    context?.source &&
    INTEGER.test(context.source)
  )
    return BigInt(context.source);
  return value;
}

export function parseJsonExact(text: string): unknown {
  return LONG_DIGITS.test(text)
    ? (JSON.parse(text, exactIntegers as (k: string, v: unknown) => unknown) as unknown)
    : (JSON.parse(text) as unknown);
}

const rawJSON = (JSON as { rawJSON?: (text: string) => unknown }).rawJSON;

function bigintsAsNumbers(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return rawJSON ? rawJSON(value.toString()) : value.toString();
}

/** JSON.stringify that writes bigints as the exact JSON numbers parseJsonExact reads back. */
export function stringifyJsonExact(value: unknown): string {
  return JSON.stringify(value, bigintsAsNumbers);
}
