/**
 * Canonical value helpers (see vault/types.ts): money as integer cents inside the generator and as
 * "12.50" strings outside; time as epoch microseconds.
 */

export { US_PER_MS, US_PER_SECOND, US_PER_HOUR, US_PER_DAY, isoMicros } from '../values/index.js';
import { US_PER_MS } from '../values/index.js';

/** 1250 → "12.50", -5 → "-0.05". */
export function centsToDecimal(cents: bigint | number): string {
  const v = BigInt(cents);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const units = abs / 100n;
  const frac = (abs % 100n).toString().padStart(2, '0');
  return `${neg ? '-' : ''}${units}.${frac}`;
}

/** "12.5", "12.50", "12" → 1250n. Exact: no float on the way. Rejects more than 2 decimals unless they are zeros. */
export function decimalToCents(value: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!m) throw new Error(`not a decimal: ${JSON.stringify(value)}`);
  const frac = (m[3] ?? '').padEnd(2, '0');
  if (/[^0]/.test(frac.slice(2))) throw new Error(`decimal ${value} has more than 2 significant decimals`);
  const cents = BigInt(m[2]!) * 100n + BigInt(frac.slice(0, 2));
  return m[1] === '-' ? -cents : cents;
}

/** Epoch µs → "2026-11-18" (UTC day). */
export function utcDay(tsUs: number): string {
  return new Date(Math.floor(tsUs / US_PER_MS)).toISOString().slice(0, 10);
}

/** "2026-11-18" → epoch µs of its UTC midnight; throws on anything else. */
export function dayStartUs(day: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`not a YYYY-MM-DD date: ${day}`);
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day)
    throw new Error(`not a valid date: ${day}`);
  return ms * US_PER_MS;
}
