import { describe, it, expect } from 'vitest';
import {
  columnValue,
  hashKey,
  hashKeyPreimage,
  hashdiff,
  hashdiffPreimage,
  piiHash,
  formatDecimal,
  ZERO_KEY,
} from '../../../src/lib/vault/index.js';
import { vectors, specOf, canonicalOf } from '../../golden/vectors.js';

// Expected values in hash-vectors.json were computed with Python's hashlib from the documented
// preimages (docs/HASHING.md), not by this code.
describe('hashing spec: golden vectors in TypeScript', () => {
  it('has vectors of every sort', () => {
    expect(vectors.hashKeys.length).toBeGreaterThan(10);
    expect(vectors.hashdiffs.length).toBeGreaterThan(5);
    expect(vectors.pii.length).toBeGreaterThan(1);
  });

  for (const v of vectors.hashKeys) {
    it(`hash key: ${v.name}`, () => {
      const texts = v.inputs.map((i) => columnValue(specOf(i), canonicalOf(i)).text);
      if (v.preimage !== null) expect(hashKeyPreimage(texts)).toBe(v.preimage);
      expect(hashKey(texts)).toBe(v.expected);
    });
  }

  for (const v of vectors.hashdiffs) {
    it(`hashdiff: ${v.name}`, () => {
      const texts = v.inputs.map((i) => columnValue(specOf(i), canonicalOf(i)).text);
      expect(hashdiffPreimage(texts)).toBe(v.preimage);
      expect(hashdiff(texts)).toBe(v.expected);
    });
  }

  for (const v of vectors.pii) {
    it(`pii: ${v.name}`, () => {
      expect(piiHash(v.value, v.salt, v.normalise)).toBe(v.expected);
    });
  }

  it('keeps null personal data null and never returns the clear text', () => {
    expect(piiHash(null, 'salt-salt', 'email')).toBeNull();
    const h = piiHash('bob@example.com', 'salt-salt', 'email')!;
    expect(h).toMatch(/^[0-9A-F]{64}$/);
    expect(piiHash('bob@example.com', 'other-salt', 'email')).not.toBe(h);
  });

  it('formats decimals at their scale and refuses to lose digits', () => {
    expect(formatDecimal('12.5', 2)).toBe('12.50');
    expect(formatDecimal('-0', 2)).toBe('0.00');
    expect(formatDecimal('007.10', 2)).toBe('7.10');
    expect(formatDecimal('1.230', 2)).toBe('1.23');
    expect(() => formatDecimal('1.005', 2)).toThrow(/decimal places/);
    expect(() => formatDecimal('abc', 2)).toThrow(/not a decimal/);
  });

  it('uses the zero key only when every part is null or blank', () => {
    expect(hashKey([null])).toBe(ZERO_KEY);
    expect(hashKey([' ', null])).toBe(ZERO_KEY);
    expect(hashKey([0])).not.toBe(ZERO_KEY);
  });
});
