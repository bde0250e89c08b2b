import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeMessage, type RawMessage } from '../../../src/lib/debezium/decode.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';

const dir = fileURLToPath(new URL('../../fixtures/debezium/', import.meta.url));

interface Fixture {
  description: string;
  message: {
    topic: string;
    partition?: number;
    offset?: string;
    key: unknown;
    value?: unknown;
    valueText?: string;
  };
  expect?: unknown;
  expectReject?: string;
  expectSkip?: string;
}

/** The fixture's message as Kafka hands it over: key and value as bytes of JSON text. */
function asKafka(m: Fixture['message']): RawMessage {
  const bytes = (v: unknown) =>
    v === null || v === undefined ? null : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: bytes(m.key),
    value: m.valueText !== undefined ? Buffer.from(m.valueText) : bytes(m.value),
  };
}

const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(dir + f, 'utf8')) as Fixture] as const);

describe('decodeMessage: documented Debezium 3.6 events', () => {
  it('has fixtures', () => expect(fixtures.length).toBeGreaterThan(15));

  for (const [file, fx] of fixtures) {
    it(`${file}: ${fx.description.slice(0, 90)}`, () => {
      const decoded = decodeMessage(asKafka(fx.message));
      if (fx.expect) {
        expect(decoded).toEqual({ kind: 'change', change: fx.expect });
      } else if (fx.expectReject) {
        expect(decoded.kind).toBe('reject');
        if (decoded.kind === 'reject') {
          expect(decoded.error.reason).toBe(fx.expectReject);
          expect(decoded.error.message.length).toBeGreaterThan(20);
        }
      } else {
        expect(decoded).toEqual({ kind: 'skip', why: fx.expectSkip });
      }
    });
  }

  it('accepts key and value as strings and as parsed objects too', () => {
    const fx = fixtures.find(([f]) => f === 'pg-users-create-with-schema.json')![1];
    const asString = decodeMessage({
      ...fx.message,
      key: JSON.stringify(fx.message.key),
      value: JSON.stringify(fx.message.value),
    });
    const asObject = decodeMessage({ ...fx.message, key: fx.message.key, value: fx.message.value });
    expect(asString).toEqual({ kind: 'change', change: fx.expect });
    expect(asObject).toEqual({ kind: 'change', change: fx.expect });
  });

  it('never carries password_hash', () => {
    const fx = fixtures.find(([f]) => f === 'pg-auth-credentials-password-hash.json')![1];
    const decoded = decodeMessage(asKafka(fx.message));
    expect(JSON.stringify(decoded)).not.toContain('password_hash');
    expect(JSON.stringify(decoded)).not.toContain('$2a$10$');
  });

  it('routes topics by configurable prefixes', () => {
    const fx = fixtures.find(([f]) => f === 'pg-users-create-with-schema.json')![1];
    const router = new TopicRouter({ postgres: 't1.shop.public.', mongo: 't1.shopev.shop_events.' });
    const moved = { ...asKafka(fx.message), topic: 't1.shop.public.users' };
    const decoded = decodeMessage(moved, { router });
    expect(decoded.kind).toBe('change');
    expect(decodeMessage(asKafka(fx.message), { router }).kind).toBe('reject');
  });

  it('rejects a decimal with more places than the column', () => {
    const fx = fixtures.find(([f]) => f === 'pg-products-update-string-noschema.json')![1];
    const value = structuredClone(fx.message.value) as { after: { price: string } };
    value.after.price = '19.995';
    const decoded = decodeMessage({ ...fx.message, value });
    expect(decoded.kind === 'reject' && decoded.error.reason).toBe('type-mismatch');
  });
});
