import { readFileSync } from 'node:fs';
import type { ColumnSpec, ValueKind, PiiNormaliser } from '../../src/lib/vault/index.js';
import type { CanonicalValue } from '../../src/lib/vault/types.js';

/** The golden hash vectors (hash-vectors.json): expected values computed outside this code base. */
export interface VectorInput {
  kind: Exclude<ValueKind, 'pii'>;
  value: string | number | boolean | null;
  scale?: number;
}
export interface KeyVector {
  name: string;
  inputs: VectorInput[];
  preimage: string | null;
  expected: string;
}
/** HMAC-SHA-256 keyed with the salt text of the normalised value (`message`), upper-case hex. */
export interface PiiVector {
  name: string;
  salt: string;
  normalise: PiiNormaliser;
  value: string;
  message: string;
  expected: string;
}
export interface Vectors {
  hashKeys: KeyVector[];
  hashdiffs: KeyVector[];
  pii: PiiVector[];
}

export const vectors = JSON.parse(
  readFileSync(new URL('./hash-vectors.json', import.meta.url), 'utf8'),
) as Vectors;

const CH_TYPES: Record<VectorInput['kind'], string> = {
  int: 'Int64',
  string: 'String',
  decimal: 'Decimal(18, 2)',
  bool: 'UInt8',
  timestamp: 'Int64',
};

export function specOf(i: VectorInput): ColumnSpec {
  return {
    name: 'v',
    kind: i.kind,
    chType: CH_TYPES[i.kind],
    ...(i.scale !== undefined ? { scale: i.scale } : {}),
  };
}

/** The canonical value a decoder would hand over (big integers beyond 2^53 as bigint). */
export function canonicalOf(i: VectorInput): CanonicalValue {
  if (i.kind === 'int' && typeof i.value === 'string') return BigInt(i.value);
  return i.value;
}

/** A typed ClickHouse literal for the input (the way the value sits in a vault column). */
export function sqlLiteralOf(i: VectorInput): string {
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (i.value === null)
    return `CAST(NULL AS Nullable(${i.kind === 'decimal' ? `Decimal(18, ${i.scale ?? 0})` : CH_TYPES[i.kind]}))`;
  switch (i.kind) {
    case 'int':
      return typeof i.value === 'string' ? `toUInt64(${q(i.value)})` : `toInt64(${q(String(i.value))})`;
    case 'timestamp':
      return `toInt64(${q(String(i.value))})`;
    case 'bool':
      return `toUInt8(${i.value ? 1 : 0})`;
    case 'decimal':
      return `toDecimal64(${q(String(i.value))}, ${i.scale ?? 0})`;
    case 'string':
      return q(String(i.value));
  }
}
