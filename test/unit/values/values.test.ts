import { describe, it, expect } from 'vitest';
import {
  COMMIT_TIME_RANGE,
  TIMESTAMP_RANGE,
  US_PER_DAY,
  ValueError,
  canonicalDecimal,
  canonicalInt,
  checkIntRange,
  dateOfEpochDay,
  dayOfMicros,
  dayStartUs,
  decimalFromNumber,
  decimalFromPrecise,
  epochDayOfDate,
  epochDayOfMicros,
  formatDecimal,
  isCalendarDay,
  isoFromMicros,
  microsFromEpoch,
  microsFromIso,
  nestsDeeperThan,
  normalizeDecimal,
  preciseFromDecimal,
  unscaledAt,
} from '../../../src/lib/values/index.js';

/** The ValueError `f` throws (message and reason), or undefined. */
function problem(f: () => unknown): { message: string; reason: string } | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof ValueError) return { message: e.message, reason: e.reason };
    throw e;
  }
  return undefined;
}

describe('decimals: one rule, reject extra digits, never round', () => {
  it('normalises to the column scale', () => {
    expect(normalizeDecimal('12.5', 2)).toBe('12.50');
    expect(normalizeDecimal('1.25E+1', 2)).toBe('12.50');
    expect(normalizeDecimal('007.10', 2)).toBe('7.10');
    expect(normalizeDecimal('1.230', 2)).toBe('1.23');
    expect(normalizeDecimal('3', 2)).toBe('3.00');
    expect(formatDecimal(1250n, 2)).toBe('12.50');
    expect(formatDecimal(-5n, 2)).toBe('-0.05');
  });

  it('reads negative zero as zero in every form', () => {
    for (const z of ['-0', '-0.00', '-0.000', '-0e5', '+0.0']) expect(normalizeDecimal(z, 2)).toBe('0.00');
    expect(decimalFromNumber(-0, 2)).toBe('0.00');
    expect(canonicalDecimal(-0, 2)).toBe('0.00');
  });

  it('rejects one digit beyond the scale, and accepts the scale limit', () => {
    expect(problem(() => normalizeDecimal('19.995', 2))).toEqual({
      message: 'has more than 2 decimal places',
      reason: 'too-many-decimals',
    });
    expect(problem(() => normalizeDecimal('0.005', 2))?.reason).toBe('too-many-decimals');
    expect(problem(() => decimalFromNumber(19.995, 2))?.reason).toBe('too-many-decimals');
    expect(problem(() => decimalFromNumber(0.1 + 0.2, 2))?.message).toMatch(/cannot be read exactly/);
    expect(decimalFromNumber(19.99, 2)).toBe('19.99');
    expect(decimalFromNumber(1e-2, 2)).toBe('0.01');
  });

  it('checks precision: Decimal(12, 2) holds 9999999999.99 and not 10000000000.00', () => {
    expect(normalizeDecimal('9999999999.99', 2, 12)).toBe('9999999999.99');
    expect(normalizeDecimal('-9999999999.99', 2, 12)).toBe('-9999999999.99');
    expect(problem(() => normalizeDecimal('10000000000', 2, 12))).toEqual({
      message: 'does not fit Decimal(12, 2)',
      reason: 'out-of-range',
    });
  });

  it('refuses numbers it cannot read exactly and exponents that would allocate without bound', () => {
    expect(problem(() => decimalFromNumber(Number('12345678901234567'), 0))?.reason).toBe('out-of-range');
    expect(problem(() => decimalFromNumber(Number.NaN, 2))?.message).toBe('is not a finite number');
    expect(problem(() => unscaledAt('1e999999', 2))?.reason).toBe('out-of-range');
    expect(problem(() => unscaledAt('abc', 2))?.message).toBe('is not a decimal number');
  });

  it('round-trips Kafka Connect precise decimals and rejects extra digits in them too', () => {
    for (const v of ['12.50', '-0.07', '0.00', '99999999.99'])
      expect(decimalFromPrecise(preciseFromDecimal(v, 2), 2, 2)).toBe(v);
    const threeDigits = preciseFromDecimal('19.995', 3);
    expect(decimalFromPrecise(threeDigits, 3, 3)).toBe('19.995');
    expect(problem(() => normalizeDecimal(decimalFromPrecise(threeDigits, 3, 3), 2))?.reason).toBe(
      'too-many-decimals',
    );
  });
});

describe('timestamps: invalid or out-of-range values are rejected, never rewritten', () => {
  it('parses ISO-8601 exactly at day boundaries', () => {
    expect(microsFromIso('2026-11-24T00:00:00Z')).toBe(Date.UTC(2026, 10, 24) * 1000);
    expect(microsFromIso('2026-11-24T23:59:59.999999Z')).toBe(Date.UTC(2026, 10, 25) * 1000 - 1);
    expect(microsFromIso('2026-11-25T00:30:00+01:00')).toBe(Date.UTC(2026, 10, 24, 23, 30) * 1000);
    expect(microsFromIso('2026-11-24 23:59:59.1234567+00')).toBe(
      Date.UTC(2026, 10, 24, 23, 59, 59, 123) * 1000 + 456,
    );
    expect(microsFromIso('2024-02-29T12:00:00Z')).toBe(Date.UTC(2024, 1, 29, 12) * 1000);
    expect(microsFromIso('1969-12-31T23:59:59.999999Z')).toBe(-1);
  });

  it('rejects 2026-02-30, 2025-02-29 and hour 24 instead of rolling them over', () => {
    for (const s of [
      '2026-02-30T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-04-31T10:00:00+02:00',
      '2026-13-01T00:00:00Z',
    ])
      expect(
        problem(() => microsFromIso(s)),
        s,
      ).toEqual({
        message: 'is not a valid calendar date',
        reason: 'invalid-timestamp',
      });
    expect(problem(() => microsFromIso('2026-11-24T24:00:00Z'))?.message).toBe('is not a valid time of day');
  });

  it('rejects year 0000 (Date.UTC maps it to 1900) and anything a number cannot hold exactly', () => {
    expect(problem(() => microsFromIso('0000-01-01T00:00:00Z'))?.reason).toBe('out-of-range');
    expect(problem(() => microsFromIso('0099-06-01T00:00:00Z'))?.reason).toBe('out-of-range');
    expect(microsFromIso('1900-01-01T00:00:00Z')).toBe(TIMESTAMP_RANGE.min);
  });

  it('rejects a leap second: no source stores 23:59:60', () => {
    expect(problem(() => microsFromIso('2016-12-31T23:59:60Z'))).toEqual({
      message: 'is a leap second (23:59:60), which no source stores',
      reason: 'invalid-timestamp',
    });
    expect(problem(() => microsFromIso('2016-12-31T23:59:60.5+00:00'))?.reason).toBe('invalid-timestamp');
  });

  it('refuses epoch numbers that are not exact (1e300) and infers units from magnitude', () => {
    expect(problem(() => microsFromEpoch(1e300))?.reason).toBe('inexact-number');
    expect(problem(() => microsFromEpoch(1.5))?.reason).toBe('out-of-range');
    expect(microsFromEpoch(1_764_000_000_000)).toBe(1_764_000_000_000_000);
    expect(microsFromEpoch(1_764_000_000_000_123)).toBe(1_764_000_000_000_123);
    expect(microsFromEpoch(1_764_000_000_000_123, 'us')).toBe(1_764_000_000_000_123);
  });

  it('prints microseconds back as ISO', () => {
    expect(isoFromMicros(Date.UTC(2026, 10, 25, 10) * 1000 + 123_456)).toBe('2026-11-25T10:00:00.123456Z');
    expect(isoFromMicros(0)).toBe('1970-01-01T00:00:00Z');
  });

  it('bounds commit times by what effective_ts DateTime holds', () => {
    expect(isoFromMicros(COMMIT_TIME_RANGE.max)).toBe('2106-02-07T06:28:15.999999Z');
    expect(COMMIT_TIME_RANGE.min).toBe(0);
  });
});

describe('epoch days', () => {
  it('has one US_PER_DAY and floors negative times to the day before', () => {
    expect(US_PER_DAY).toBe(86_400 * 1_000_000);
    expect(epochDayOfMicros(-1)).toBe(-1);
    expect(epochDayOfMicros(US_PER_DAY - 1)).toBe(0);
    expect(dayOfMicros(US_PER_DAY)).toBe('1970-01-02');
  });

  it('converts days both ways and refuses days that do not exist', () => {
    expect(epochDayOfDate('2026-11-24')).toBe(Date.UTC(2026, 10, 24) / 86_400_000);
    expect(dateOfEpochDay(epochDayOfDate('2028-02-29'))).toBe('2028-02-29');
    expect(dayStartUs('2026-11-24')).toBe(Date.UTC(2026, 10, 24) * 1000);
    expect(isCalendarDay('2026-02-30')).toBe(false);
    expect(isCalendarDay('2026-2-3')).toBe(false);
    expect(problem(() => epochDayOfDate('2026-02-30'))?.reason).toBe('invalid-timestamp');
  });
});

describe('integers', () => {
  it('keeps exact values and refuses JSON numbers that already lost digits', () => {
    expect(canonicalInt('9007199254740993', 64)).toBe(9007199254740993n);
    expect(canonicalInt(42, 64)).toBe(42);
    expect(problem(() => canonicalInt(1e20, 64))?.message).toBe(
      'is beyond 2^53 as a JSON number and has lost digits',
    );
    expect(problem(() => canonicalInt(2 ** 31, 32))?.message).toBe('is outside the Int32 range');
    expect(problem(() => checkIntRange(-5n, 'UInt64'))?.message).toBe('is outside the UInt64 range');
    expect(problem(() => checkIntRange(2n ** 64n, 'UInt64'))?.reason).toBe('out-of-range');
  });
});

describe('nesting', () => {
  it('measures 100 000 nested arrays without recursion', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(nestsDeeperThan(deep, 64)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: [1] }] }, 3)).toBe(true);
    expect(nestsDeeperThan('[[[[', 1)).toBe(false);
  });
});
