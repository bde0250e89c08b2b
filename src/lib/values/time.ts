import { ValueError } from './errors.js';

/**
 * Timestamps as epoch microseconds (UTC, integer `number`s) and days, exact. Calendar arithmetic
 * is done here with integers, not with `Date.UTC`, which maps years 0–99 to 1900–1999 and rolls
 * 2026-02-30 over to March: an invalid date is rejected, never rewritten.
 */

export const US_PER_MS = 1000;
export const US_PER_SECOND = 1_000_000;
export const US_PER_MINUTE = 60_000_000;
export const US_PER_HOUR = 3_600_000_000;
export const US_PER_DAY = 86_400_000_000;
/** US_PER_DAY for bigint arithmetic (Iceberg bounds, Parquet INT64). */
export const US_PER_DAY_BIGINT = BigInt(US_PER_DAY);
export const MS_PER_DAY = US_PER_DAY / US_PER_MS;

/** An inclusive range of epoch microseconds. */
export interface MicrosRange {
  min: number;
  max: number;
  /** For messages: what the range is. */
  label: string;
}

/**
 * Timestamp attributes (`*_us` Int64 columns): 1900-01-01 to 2199-12-31. The canonical value is a
 * JavaScript number, exact to 2^53 µs (1684–2255); this range keeps inside that, starts where
 * ClickHouse's DateTime64 starts, and holds every date a shop records.
 */
export const TIMESTAMP_RANGE: MicrosRange = {
  min: -2_208_988_800_000_000,
  max: 7_258_118_400_000_000 - 1,
  label: '1900-01-01T00:00:00Z to 2199-12-31T23:59:59.999999Z',
};

/**
 * Source commit times: `effective_us UInt64` and the partition column `effective_ts
 * DateTime('UTC')` (UInt32 seconds) must both hold them: 1970-01-01 to 2106-02-07T06:28:15Z.
 */
export const COMMIT_TIME_RANGE: MicrosRange = {
  min: 0,
  max: (2 ** 32 - 1) * US_PER_SECOND + 999_999,
  label: '1970-01-01T00:00:00Z to 2106-02-07T06:28:15.999999Z',
};

export function inRange(us: number, range: MicrosRange): boolean {
  return Number.isSafeInteger(us) && us >= range.min && us <= range.max;
}

/** Throws `out-of-range` unless `us` is an integer inside `range`. */
export function checkMicros(us: number, range: MicrosRange): number {
  if (!Number.isSafeInteger(us)) throw new ValueError('is not an integer of epoch microseconds');
  if (us < range.min || us > range.max)
    throw new ValueError(`is outside the supported range ${range.label}`, 'out-of-range');
  return us;
}

// ---------------------------------------------------------------- calendar

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(y: number, m: number): number {
  return m === 2 && isLeapYear(y) ? 29 : (MONTH_DAYS[m - 1] ?? 0);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil); no validation. */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function validDate(y: number, m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar day written `YYYY-MM-DD` (2026-02-30 is not one). */
export function isCalendarDay(s: string): boolean {
  const m = DAY_RE.exec(s);
  return !!m && validDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** "2026-11-24" → days since 1970-01-01 (Iceberg's `day` transform); ValueError for a non-day. */
export function epochDayOfDate(day: string): number {
  const m = DAY_RE.exec(day);
  if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3])))
    throw new ValueError('is not a calendar day YYYY-MM-DD', 'invalid-timestamp');
  return daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** "2026-11-24" → epoch µs of its UTC midnight; ValueError for a non-day. */
export function dayStartUs(day: string): number {
  return epochDayOfDate(day) * US_PER_DAY;
}

/** Days since 1970-01-01 of epoch µs (floor: negative times belong to the day before). */
export function epochDayOfMicros(us: number): number {
  return Math.floor(us / US_PER_DAY);
}

/** Days since 1970-01-01 → "YYYY-MM-DD". */
export function dateOfEpochDay(days: number): string {
  return new Date(days * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Epoch µs → its UTC day "YYYY-MM-DD". */
export function dayOfMicros(us: number): string {
  return dateOfEpochDay(epochDayOfMicros(us));
}

/** 2026-11-24 → 20261124 (toYYYYMMDD, the satellites' partition id). */
export function partitionOfDay(day: string): number {
  epochDayOfDate(day);
  return Number(day.replaceAll('-', ''));
}

// ---------------------------------------------------------------- ISO-8601

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2}){0,2})?$/i;

/**
 * ISO-8601 with an offset (Debezium's ZonedTimestamp, MongoDB relaxed `$date`, replay files) →
 * epoch µs. Digits beyond microseconds are truncated (the sources keep µs at most); no offset
 * means UTC. Rejected, never rewritten: impossible dates (2026-02-30), hours past 23, leap seconds
 * (23:59:60: PostgreSQL and MongoDB cannot store one, so no source sends it), and times whose
 * microseconds a number cannot hold exactly (before 1684 or after 2255).
 */
export function microsFromIso(s: string): number {
  const fast = fastUtcMicros(s);
  if (fast !== undefined) return fast;
  const m = ISO_RE.exec(s.trim());
  if (!m) throw new ValueError('is not an ISO-8601 timestamp', 'invalid-timestamp');
  const [, y, mo, d, h, mi, sec, frac = '', zone = 'Z'] = m;
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?/.exec(zone)!;
    const oh = Number(z[2]);
    const om = Number(z[3] ?? 0);
    if (oh > 18 || om > 59) throw new ValueError('has an invalid UTC offset', 'invalid-timestamp');
    offsetMin = (z[1] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return composeMicros(+y!, +mo!, +d!, +h!, +mi!, +sec!, Number((frac + '000000').slice(0, 6)), offsetMin);
}

function composeMicros(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  sec: number,
  micros: number,
  offsetMin: number,
): number {
  if (!validDate(y, mo, d)) throw new ValueError('is not a valid calendar date', 'invalid-timestamp');
  if (sec === 60)
    throw new ValueError('is a leap second (23:59:60), which no source stores', 'invalid-timestamp');
  if (h > 23 || mi > 59 || sec > 59) throw new ValueError('is not a valid time of day', 'invalid-timestamp');
  const seconds = ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec - offsetMin * 60;
  const us = seconds * US_PER_SECOND + micros;
  if (!Number.isSafeInteger(us))
    throw new ValueError('is outside the range epoch microseconds hold exactly (1684–2255)', 'out-of-range');
  return us;
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
  const fields = [year, two(5), two(8), two(11), two(14), two(17)];
  if (fields.some(Number.isNaN)) return undefined;
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
  // composeMicros validates the date and time (the slow path would only reach the same verdict)
  return composeMicros(year, fields[1]!, fields[2]!, fields[3]!, fields[4]!, fields[5]!, micros, 0);
}

/** Epoch µs → "2026-11-25T10:00:00.123456Z" (fraction trimmed, as java.time prints it). */
export function isoFromMicros(us: number): string {
  const secs = Math.floor(us / US_PER_SECOND);
  const fracUs = us - secs * US_PER_SECOND;
  const base = new Date(secs * 1000).toISOString().slice(0, 19);
  if (fracUs === 0) return `${base}Z`;
  return `${base}.${String(fracUs).padStart(6, '0').replace(/0+$/, '')}Z`;
}

/** Epoch µs → ISO-8601 with 6 fraction digits, exact (for PostgreSQL timestamptz input). */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / US_PER_MS);
  const rest = us - ms * US_PER_MS;
  return `${new Date(ms).toISOString().slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}

// ---------------------------------------------------------------- epoch numbers

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
 * above are microseconds (as milliseconds they would be after the year 5000), from 10^17
 * nanoseconds, below milliseconds. Refuses what a number cannot hold exactly (1e300).
 */
export function microsFromEpoch(n: number | bigint, unit?: EpochUnit): number {
  if (typeof n === 'number' && !Number.isSafeInteger(n))
    throw Number.isInteger(n)
      ? new ValueError('is beyond 2^53 as a JSON number and has lost digits', 'inexact-number')
      : new ValueError('is not an integer epoch timestamp', 'out-of-range');
  const big = BigInt(n);
  const abs = big < 0n ? -big : big;
  const u = unit ?? (abs >= 10n ** 17n ? 'ns' : abs >= 10n ** 14n ? 'us' : 'ms');
  // nanoseconds beyond 2^53 are exact only as bigint (parseJsonExact keeps them so): floor to µs
  const us = u === 'ms' ? big * 1000n : u === 'ns' ? (big - (((big % 1000n) + 1000n) % 1000n)) / 1000n : big;
  return microsFromBigint(us);
}

/** A bigint of epoch µs (Parquet INT64) → number, refusing what a number cannot hold exactly. */
export function microsFromBigint(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
    throw new ValueError('is outside the range epoch microseconds hold exactly (1684–2255)', 'out-of-range');
  return Number(v);
}
