/**
 * JSON that keeps integers beyond 2^53 exact, as bigint. Debezium writes PostgreSQL bigint and
 * NanoTimestamp values as JSON numbers; plain JSON.parse turns 9007199254740993 into
 * 9007199254740992. The reviver reads each literal's source text (Node ≥ 21); it is several
 * times slower than plain JSON.parse, so it runs only where needed: `parseJsonExact` when the text
 * has such a literal (other than the envelope's `ts_ns`, which nothing reads), and the Debezium
 * decoder only after a plain parse met an inexact integer.
 */
const INTEGER = /^-?\d+$/;
const DIGITS16 = /\d{16}/g;

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

/** True when `text` holds an integer literal of 2^53 or more, not counting `"ts_ns":` values. */
export function hasBigIntegerLiteral(text: string): boolean {
  DIGITS16.lastIndex = 0;
  for (let m = DIGITS16.exec(text); m; m = DIGITS16.exec(text)) {
    const start = m.index;
    let end = start + 16;
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    DIGITS16.lastIndex = end;
    const prev = text.charCodeAt(start - 1);
    const next = text.charCodeAt(end);
    if (end - start === 16 && text.charCodeAt(start) !== 57 /* 9 */) continue; // below 9·10^15
    if (prev === 46 /* . */ || next === 46 || next === 101 /* e */ || next === 69 /* E */) continue;
    if (
      !text
        .slice(Math.max(0, start - 16), start)
        .trimEnd()
        .endsWith('"ts_ns":')
    )
      return true;
  }
  return false;
}

/** JSON.parse, keeping every integer literal beyond 2^53 as an exact bigint. */
export function parseJsonReviving(text: string): unknown {
  return JSON.parse(text, exactIntegers as (k: string, v: unknown) => unknown) as unknown;
}

/** JSON.parse, exact for integers beyond 2^53; at full speed when the text has none. */
export function parseJsonExact(text: string): unknown {
  return hasBigIntegerLiteral(text) ? parseJsonReviving(text) : (JSON.parse(text) as unknown);
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
