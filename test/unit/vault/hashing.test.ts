import { describe, it, expect } from 'vitest';
import {
  columnValue,
  hashKey,
  hashKeyPreimage,
  hashdiff,
  hashdiffPreimage,
  piiHash,
  normalisePii,
  checkPiiSalt,
  ZERO_KEY,
} from '../../../src/lib/vault/index.js';
import { ConfigError } from '../../../src/lib/errors/index.js';
import { vectors, specOf, canonicalOf } from '../../golden/vectors.js';

// Expected values in hash-vectors.json were computed with Python's hashlib and hmac from the
// documented preimages and messages (docs/HASHING.md), not by this code.
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
      expect(normalisePii(v.value, v.normalise)).toBe(v.message);
      expect(piiHash(v.value, v.salt, v.normalise)).toBe(v.expected);
    });
  }

  it('keeps null personal data null and never returns the clear text', () => {
    const salt = vectors.pii[0]!.salt;
    expect(piiHash(null, salt, 'email')).toBeNull();
    const h = piiHash('bob@example.com', salt, 'email')!;
    expect(h).toMatch(/^[0-9A-F]{64}$/);
    expect(piiHash('bob@example.com', vectors.pii[4]!.salt, 'email')).not.toBe(h);
  });

  it('is a keyed HMAC, not SHA-256 of salt and value', async () => {
    const { createHash } = await import('node:crypto');
    const v = vectors.pii[0]!;
    const salted = createHash('sha256').update(`${v.salt}||${v.message}`).digest('hex').toUpperCase();
    expect(piiHash(v.value, v.salt, v.normalise)).not.toBe(salted);
  });
});

describe('PII salt strength', () => {
  it('accepts 16 random bytes or more, as hex or base64', () => {
    for (const v of vectors.pii) expect(checkPiiSalt(v.salt)).toBe(v.salt);
    expect(checkPiiSalt('3f9a1c0e7b2d4a6f8e1b5c9d0a7f3e21')).toBeTruthy(); // 16 bytes of hex
  });

  it('refuses a missing, short, non-random or non-encoded salt, saying how to make one, without echoing it', () => {
    for (const weak of [
      undefined,
      '',
      'pepper-123',
      'test-salt-0123456789',
      '3f9a1c0e7b2d4a6f8e1b5c9d0a7f3e2', // 31 hex digits
      '0'.repeat(64),
      'abababababababababababababababab',
      'correct horse battery staple!!!!',
    ]) {
      let err: unknown;
      try {
        checkPiiSalt(weak);
      } catch (e) {
        err = e;
      }
      expect(err, String(weak)).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.exitCode).toBe(2);
      expect(e.hint).toContain('openssl rand -hex 32');
      if (weak) expect(`${e.message} ${e.hint}`).not.toContain(weak);
    }
  });

  it('uses the zero key only when every part is null or blank', () => {
    expect(hashKey([null])).toBe(ZERO_KEY);
    expect(hashKey([' ', null])).toBe(ZERO_KEY);
    expect(hashKey([0])).not.toBe(ZERO_KEY);
  });
});
