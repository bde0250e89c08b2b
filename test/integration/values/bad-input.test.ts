import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeChange } from '../../helpers/debezium.js';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { runCli } from '../../helpers/cli.js';
import {
  SALT,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  expectedVault,
  makeChanges,
  namespace,
  produce,
  readTopic,
  readVault,
  streamArgs,
  testKafka,
  type TestMessage,
  type TestNamespace,
} from '../stream/support.js';

// Issue 18's held-out check and items 1–5, end to end through the built CLI (`npm run build`
// first) against ClickHouse 18.16 and Kafka: bad events among good ones — a negative id, a
// password-hash event with a bad field, a value nested 100 000 deep, impossible timestamps, a
// line past --max-line-bytes — leave every good event loaded, every bad one rejected with a
// reason that quotes no value, and no password hash in any rejects file or dead letter.

const HASH = '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy';
const SECRET_EMAIL = 'secret.person@example.com';
const DEEP = '['.repeat(100_000) + ']'.repeat(100_000);
const T = Date.UTC(2026, 10, 20, 12) * 1000;

/** The bad events, as Debezium would send them (schemaless), each with the reason it must get. */
function badEvents(ns: TestNamespace): Array<TestMessage & { reason: string }> {
  const router = ns.router;
  const user = (id: number, over: Record<string, unknown> = {}): SourceChange => ({
    table: 'users',
    op: 'c',
    commitTsUs: T,
    row: {
      id,
      email: `u${id}@example.com`,
      full_name: 'X',
      city: 'Y',
      created_at: T,
      updated_at: T,
      ...over,
    } as SourceChange['row'],
  });
  const enc = (c: SourceChange, edit: (v: Record<string, unknown>) => void = () => undefined) => {
    const e = encodeChange(c, { router, withSchema: false });
    const v = JSON.parse(e.value!) as Record<string, unknown>;
    edit(v);
    return { topic: e.topic, key: e.key, value: JSON.stringify(v) };
  };
  const after = (v: Record<string, unknown>) => v.after as Record<string, unknown>;
  const auth: SourceChange = {
    table: 'auth_credentials',
    op: 'u',
    commitTsUs: T,
    row: { user_id: 77, last_login_at: T, failed_logins: 1, updated_at: T },
  };
  const deepUser = enc(user(78));
  return [
    { ...enc(user(-5)), reason: 'mapping-failed' },
    {
      ...enc(auth, (v) => {
        after(v).password_hash = HASH;
        after(v).failed_logins = 'three';
      }),
      reason: 'type-mismatch',
    },
    { ...deepUser, value: deepUser.value.replace('"city":"Y"', `"city":${DEEP}`), reason: 'nested-too-deep' },
    { ...enc(user(79), (v) => (after(v).email = { addr: SECRET_EMAIL })), reason: 'type-mismatch' },
    { ...enc(user(80), (v) => (after(v).created_at = '0000-01-01T00:00:00Z')), reason: 'out-of-range' },
    { ...enc(user(81), (v) => (after(v).created_at = '2026-02-30T10:00:00Z')), reason: 'invalid-timestamp' },
    {
      // committed at 2106-02-07T06:28:16Z, a second past what effective_ts holds (was clamped)
      ...enc(user(82), (v) => {
        const source = v.source as Record<string, unknown>;
        source.ts_ms = 2 ** 32 * 1000;
        source.ts_us = 2 ** 32 * 1e6;
      }),
      reason: 'mapping-failed',
    },
    {
      topic: router.topicFor('auth_credentials'),
      key: '{"user_id":83}',
      value: `{"after":{"user_id":83,"password_hash":"${HASH}","failed_logins":`,
      reason: 'malformed-json',
    },
  ];
}

/** No password hash, in any form. (Dead letters do hold the rest of the source event: by design.) */
function assertNoHash(text: string, what: string): void {
  expect(text.includes(HASH), `${what} holds the password hash`).toBe(false);
  expect(/\$2[aby]\$\d\d\$/.test(text), `${what} holds a bcrypt hash`).toBe(false);
}

/** Reasons name the field and the problem, never the value. */
function assertNoValue(reason: string, what: string): void {
  assertNoHash(reason, what);
  expect(reason.includes(SECRET_EMAIL), `${what} quotes a value`).toBe(false);
}

describe('bad input never stops the stream or leaks a secret (issue 18, held-out check)', () => {
  const ns = namespace('vbad');
  const dir = mkdtempSync(join(tmpdir(), 'shopdata-bad-'));
  let wh: Warehouse;
  const good = makeChanges(150, 29);
  beforeAll(async () => {
    wh = await createVault(ns);
  });
  afterAll(async () => {
    await dropVault(wh, ns);
    await wh.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('replay: loads every good event, rejects each bad one with its reason, no hash in the rejects file', async () => {
    const bad = badEvents(ns);
    const lines = encodeAll(good, ns.router).map((m) =>
      JSON.stringify({ topic: m.topic, key: m.key, value: m.value }),
    );
    // Bad lines among the good ones: the deep value also as a whole line's object (not a string).
    const badLines = bad.map((b) => JSON.stringify({ topic: b.topic, key: b.key, value: b.value }));
    badLines.push(
      `{"topic":"${ns.router.topicFor('users')}","key":null,"value":{"after":{"id":84,"city":${DEEP}}},"headers":{"h":${DEEP}}}`,
    );
    // past --max-line-bytes (1 MiB): skipped unread, like a 200 MB line would be
    badLines.push(
      JSON.stringify({ topic: ns.router.topicFor('users'), key: null, value: 'x'.repeat(2 << 20) }),
    );
    badLines.forEach((l, k) => lines.splice(10 + k * 17, 0, l));
    const file = join(dir, 'mixed.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');

    const res = await runCli(
      [
        'stream',
        ...streamArgs(ns, ['--from-file', file, '--until-idle', '--max-line-bytes', '1048576', '--json']),
      ],
      { env: { SHOPDATA_PII_SALT: SALT }, timeoutMs: 180_000 },
    );
    expect(res.code, res.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(res.stdout) as StreamResult;
    expect(result.dlq.reasons).toEqual({
      'mapping-failed': 2,
      'type-mismatch': 2,
      'nested-too-deep': 2,
      'out-of-range': 1,
      'invalid-timestamp': 1,
      'malformed-json': 1,
      'line-too-long': 1,
    });
    expect(result.dlq.count).toBe(badLines.length);

    // The good events, all loaded (row by row as the shared mapping says), nothing of the bad.
    expect(await readVault(wh, ns.dbs)).toEqual(expectedVault(good));

    const rejectsFile = `${file}.rejects.jsonl`;
    expect(statSync(rejectsFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(rejectsFile, 'utf8');
    assertNoHash(text, 'FILE.rejects.jsonl');
    const rejects = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; error: string });
    for (const r of rejects) assertNoValue(r.error, `reject ${r.reason}`);
    expect(rejects.map((r) => r.error)).toEqual(
      expect.arrayContaining([
        'users: hub_user.user_id: is outside the UInt64 range',
        'auth_credentials.failed_logins: expected a 32-bit integer, got a string.',
        'users.email: expected a string, got an object.',
      ]),
    );
    assertNoValue(res.stdout + res.stderr, 'the command output');
  });

  it('kafka: the dead-letter topic carries no password hash and no value in its error header', async () => {
    const kafka = testKafka();
    const topics = [
      'users',
      'auth_credentials',
      'sellers',
      'products',
      'purchases',
      'cancellations',
      'ratings',
    ].map((t) => ns.router.topicFor(t as SourceChange['table']));
    const kns = { ...ns, group: `${ns.group}-k` };
    await createTopics(kafka, topics, 1);
    await createTopics(kafka, [ns.dlqTopic], 1);
    try {
      const bad = badEvents(ns);
      const all: TestMessage[] = encodeAll(good.slice(0, 60), ns.router);
      bad.forEach((b, k) => all.splice(5 + k * 7, 0, b));
      await produce(kafka, all);
      const res = await runCli(
        [
          'stream',
          ...streamArgs(kns, ['--topics', topics.join(','), '--until-idle', '--idle-ms', '1500', '--json']),
        ],
        { env: { SHOPDATA_PII_SALT: SALT }, timeoutMs: 180_000 },
      );
      expect(res.code, res.stderr.slice(-3000)).toBe(0);
      expect((JSON.parse(res.stdout) as StreamResult).dlq.count).toBe(bad.length);
      const letters = await readTopic(kafka, ns.dlqTopic, bad.length);
      expect(letters).toHaveLength(bad.length);
      for (const l of letters) {
        assertNoHash(l.value ?? '', 'a dead letter');
        assertNoValue(JSON.stringify(l.headers), 'dead-letter headers');
      }
      // The auth event keeps its other fields (the DLQ holds source data), only the hash is gone.
      const authLetter = letters.find((l) => l.value?.includes('"three"'));
      expect(JSON.parse(authLetter!.value!)).toMatchObject({
        after: { user_id: 77, failed_logins: 'three' },
      });
    } finally {
      await deleteTopics(kafka, [...topics, ns.dlqTopic]);
    }
  });
});
