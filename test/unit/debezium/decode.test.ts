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
    expect(decoded.kind === 'reject' && decoded.error.reason).toBe('too-many-decimals');
    expect(decoded.kind === 'reject' && decoded.error.message).toBe(
      'products.price: has more than 2 decimal places',
    );
  });
});

/** A schemaless users create event with `after` fields overridden. */
function usersEvent(after: Record<string, unknown>, source: Record<string, unknown> = {}): RawMessage {
  return {
    topic: 'shop.public.users',
    partition: 0,
    offset: '7',
    key: null,
    value: JSON.stringify({
      before: null,
      after: {
        id: 1,
        email: 'a@b.c',
        full_name: 'A B',
        city: 'X',
        created_at: null,
        updated_at: null,
        ...after,
      },
      source: { connector: 'postgresql', ts_ms: 1_764_000_000_000, ...source },
      op: 'c',
    }),
  };
}

describe('decodeMessage: bad input is a reject with a reason, never an exception (issue 18)', () => {
  it('rejects a 100 000-deep nested value in a column instead of overflowing the stack', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const text = usersEvent({}).value as string;
    const msg = { ...usersEvent({}), value: text.replace('"city":"X"', `"city":${deep}`) };
    const decoded = decodeMessage(msg);
    expect(decoded.kind === 'reject' && decoded.error.reason).toBe('nested-too-deep');
    // the same nesting already parsed (a replay line's object)
    const parsed = { ...msg, value: JSON.parse(msg.value) as unknown };
    expect(decodeMessage(parsed).kind).toBe('reject');
  });

  it('turns an unexpected exception into a decode-failed reject', () => {
    const hostile = {
      topic: 'shop.public.users',
      key: null,
      value: {
        get payload(): never {
          throw new TypeError('boom');
        },
        schema: null,
      },
    };
    const decoded = decodeMessage(hostile);
    expect(decoded.kind === 'reject' && decoded.error.reason).toBe('decode-failed');
  });

  it('names the field and the problem, never the value', () => {
    const cases: [RawMessage, string, string][] = [
      [
        usersEvent({ email: { addr: 'secret.person@example.com' } }),
        'type-mismatch',
        'users.email: expected a string, got an object.',
      ],
      [
        usersEvent({ id: 'secret-123' }),
        'type-mismatch',
        'users.id: expected a 64-bit integer, got a string.',
      ],
      [{ ...usersEvent({}), value: '{"after": {"email": "secret.person@example.com"' }, 'malformed-json', ''],
    ];
    for (const [msg, reason, message] of cases) {
      const d = decodeMessage(msg);
      expect(d.kind === 'reject' && d.error.reason).toBe(reason);
      if (d.kind !== 'reject') continue;
      if (message) expect(d.error.message).toBe(message);
      expect(d.error.message).not.toMatch(/secret/);
    }
  });

  it('rejects impossible timestamps instead of rewriting them (0000-01-01, 2026-02-30, 23:59:60)', () => {
    const cases: [string, string][] = [
      ['0000-01-01T00:00:00Z', 'out-of-range'],
      ['2026-02-30T10:00:00Z', 'invalid-timestamp'],
      ['2016-12-31T23:59:60Z', 'invalid-timestamp'],
    ];
    for (const [ts, reason] of cases) {
      const d = decodeMessage(usersEvent({ created_at: ts }));
      expect(
        d.kind === 'reject' && [d.error.reason, d.error.message.startsWith('users.created_at: ')],
        ts,
      ).toEqual([reason, true]);
    }
    const ok = decodeMessage(usersEvent({ created_at: '2026-11-24T23:59:59.999999Z' }));
    expect(ok.kind === 'change' && ok.change.row.created_at).toBe(Date.UTC(2026, 10, 25) * 1000 - 1);
  });

  it('rejects commit times and epoch numbers a number cannot hold exactly', () => {
    const d1 = decodeMessage(usersEvent({}, { ts_ms: 1e300 }));
    expect(d1.kind === 'reject' && d1.error.reason).toBe('inexact-number');
    const d2 = decodeMessage(usersEvent({ created_at: 1e300 }));
    expect(d2.kind === 'reject' && d2.error.reason).toBe('inexact-number');
    // 1e20 was stored as 7766279631452241920; read exactly it is beyond the source's bigint
    const d3 = decodeMessage(usersEvent({ id: 1e20 }));
    expect(d3.kind === 'reject' && d3.error.message).toBe('users.id: is outside the Int64 range');
    const d4 = decodeMessage({
      ...usersEvent({}),
      value: (usersEvent({}).value as string).replace('"id":1', '"id":1e20'),
    });
    expect(d4.kind === 'reject' && d4.error.message).toBe(
      'users.id: is beyond 2^53 as a JSON number and has lost digits',
    );
  });

  it('never lets password_hash through, even in an event with a bad field', () => {
    const msg: RawMessage = {
      topic: 'shop.public.auth_credentials',
      key: null,
      value: {
        before: null,
        after: {
          user_id: 3,
          password_hash: '$2b$10$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01',
          failed_logins: 'x',
        },
        source: { ts_ms: 1_764_000_000_000 },
        op: 'u',
      },
    };
    const d = decodeMessage(msg);
    expect(d.kind === 'reject' && d.error.message).toBe(
      'auth_credentials.failed_logins: expected a 32-bit integer, got a string.',
    );
  });
});

describe('decodeMessage: integers beyond 2^53 stay exact (the lake keeps them exact too)', () => {
  it('reads a PostgreSQL bigint 2^53 + 1 sent as a JSON number, and a NanoTimestamp, exactly', () => {
    const text = (usersEvent({}).value as string).replace('"id":1', '"id":9007199254740993');
    const d = decodeMessage({ ...usersEvent({}), value: text });
    expect(d.kind === 'change' && d.change.row.id).toBe(9007199254740993n);
    const ns = decodeMessage({
      topic: 'shop.public.users',
      key: null,
      value:
        '{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"int64","name":"io.debezium.time.NanoTimestamp","field":"created_at"}]}]},' +
        '"payload":{"before":null,"after":{"id":1,"email":"e","created_at":1764000000123456789},"source":{"ts_ms":1764000000000},"op":"c"}}',
    });
    expect(ns.kind === 'change' && ns.change.row.created_at).toBe(1_764_000_000_123_456);
  });
});

describe('decodeMessage: MongoDB dates follow the same rules', () => {
  it('rejects a relaxed $date of 2026-02-30 instead of rolling it over to March 2', () => {
    const ratings = (date: string) => ({
      topic: 'shopev.shop_events.ratings',
      key: null,
      value: JSON.stringify({
        after: JSON.stringify({
          _id: { $oid: '6745a1b20000000000000e01' },
          user_id: 1,
          product_id: 2,
          stars: 4,
          ts: { $date: date },
        }),
        source: { ts_ms: 1_764_000_000_000 },
        op: 'c',
      }),
    });
    const bad = decodeMessage(ratings('2026-02-30T10:00:00Z'));
    expect(bad.kind === 'reject' && [bad.error.reason, bad.error.message]).toEqual([
      'invalid-timestamp',
      'ratings.ts: is not a valid calendar date',
    ]);
    const ok = decodeMessage(ratings('2026-02-28T10:00:00.123Z'));
    expect(ok.kind === 'change' && ok.change.row.ts).toBe(Date.UTC(2026, 1, 28, 10, 0, 0, 123) * 1000);
  });
});
