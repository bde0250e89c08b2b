import { describe, it, expect } from 'vitest';
import { hasBigIntegerLiteral, parseJsonExact, stringifyJsonExact } from '../../../src/lib/values/index.js';

describe('exact JSON integers', () => {
  it('finds integer literals of 2^53 and more, but not decimals, exponents or the envelope ts_ns', () => {
    expect(hasBigIntegerLiteral('{"id":9007199254740993}')).toBe(true);
    expect(hasBigIntegerLiteral('{"id":12345678901234567890}')).toBe(true);
    expect(hasBigIntegerLiteral('{"ts_us":1764000000000000,"ts_ns":1764000000000000000}')).toBe(false);
    expect(hasBigIntegerLiteral('{"ts_ns": 1764000000000000000}')).toBe(false);
    expect(hasBigIntegerLiteral('{"x":1.7640000000000001234}')).toBe(false);
    expect(hasBigIntegerLiteral('{"x":12345678901234567e3}')).toBe(false);
    expect(hasBigIntegerLiteral('{"x":8999999999999999}')).toBe(false);
  });

  it('parses them as bigint and writes them back as the same JSON numbers', () => {
    const text = '{"id":9007199254740993,"n":-12345678901234567890,"small":7,"f":1.5}';
    const v = parseJsonExact(text) as Record<string, unknown>;
    expect(v).toEqual({ id: 9007199254740993n, n: -12345678901234567890n, small: 7, f: 1.5 });
    expect(stringifyJsonExact(v)).toBe(text);
  });
});
