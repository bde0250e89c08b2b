/**
 * A value that cannot be represented exactly where it must go (a vault column, the canonical
 * change). The message names the problem only, never the value: callers prefix the field
 * (`products.price: has more than 2 decimal places`) and the result goes into dead letters, the
 * backfill report and logs, which must not copy source data.
 */
export type ValueProblem =
  | 'type-mismatch'
  | 'out-of-range'
  | 'too-many-decimals'
  | 'invalid-timestamp'
  | 'precise-decimal-without-schema'
  | 'nested-too-deep'
  /** A JSON number beyond 2^53 that a plain parse rounded (the decoder then parses exactly). */
  | 'inexact-number';

export class ValueError extends Error {
  constructor(
    message: string,
    readonly reason: ValueProblem = 'type-mismatch',
  ) {
    super(message);
    this.name = 'ValueError';
  }
}

/** `{"a":1}` → "object", `[1]` → "array", `null` → "null": the JSON kind of a value, never its text. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return 'bytes';
  if (v instanceof Date) return 'date';
  return typeof v;
}
