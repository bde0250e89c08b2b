/**
 * Canonical value helpers (see vault/types.ts): money as integer cents inside the generator and as
 * "12.50" strings outside; time as epoch microseconds.
 */

export const US_PER_MS = 1000;
export const US_PER_SECOND = 1_000_000;
export const US_PER_HOUR = 3_600_000_000;
export const US_PER_DAY = 86_400_000_000;

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

/** Epoch µs → ISO-8601 with 6 fraction digits, exact (for PostgreSQL timestamptz input). */
export function isoMicros(tsUs: number): string {
  const ms = Math.floor(tsUs / US_PER_MS);
  const us = tsUs - ms * US_PER_MS;
  const iso = new Date(ms).toISOString(); // 2026-11-18T13:45:12.123Z
  return `${iso.slice(0, 23)}${String(us).padStart(3, '0')}Z`;
}
