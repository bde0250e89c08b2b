import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { DLQ_HEADERS } from '../../../src/lib/stream/dlq.js';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import {
  SALT,
  countRows,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  expectedVault,
  makeChanges,
  namespace,
  poisonMessages,
  produce,
  readTopic,
  readVault,
  streamArgs,
  testKafka,
} from './support.js';

// Debezium-format events of every flavour in Kafka (3 partitions per topic) → `stream --until-idle`
// → ClickHouse 18.16. Poison messages go to the DLQ topic with reason and source position in
// headers; every other event is loaded exactly once (row-by-row comparison); a second run of the
// same group finds nothing to do; a new group re-reads everything and the visible vault is unchanged.

const ns = namespace('skaf');
const kafka = testKafka();
const unknownTopic = `${ns.router.prefixes.postgres}coupons`;
const topics = [...ns.router.allTopics(), unknownTopic];
const changes = makeChanges(2000, 11);
const good = encodeAll(changes, ns.router);
const poison = poisonMessages(ns.router, unknownTopic);
let wh: Warehouse;

describe('stream from Kafka', () => {
  beforeAll(async () => {
    wh = await createVault(ns);
    await createTopics(kafka, topics, 3);
    await createTopics(kafka, [ns.dlqTopic], 1);
    const all = [...good];
    poison.forEach((p, k) => all.splice(100 + k * 211, 0, p));
    await produce(kafka, all);
  });

  afterAll(async () => {
    await deleteTopics(kafka, [...topics, ns.dlqTopic]);
    await dropVault(wh, ns);
    await wh.close();
  });

  it('loads every variant, dead-letters the poison with its reason, commits everything', async () => {
    const res = await runCli(
      [
        'stream',
        ...streamArgs(ns, [
          '--topics',
          topics.join(','),
          '--until-idle',
          '--idle-ms',
          '1500',
          '--batch-size',
          '300',
          '--json',
        ]),
      ],
      {
        env: { SHOPDATA_PII_SALT: SALT },
        timeoutMs: 150_000,
      },
    );
    expect(res.code, res.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(res.stdout) as StreamResult;
    expect(result.stoppedBy).toBe('idle');
    expect(result.dlq.count).toBe(poison.length);
    const reasons: Record<string, number> = {};
    for (const p of poison) reasons[p.reason] = (reasons[p.reason] ?? 0) + 1;
    expect(result.dlq.reasons).toEqual(reasons);
    const events = Object.values(result.topics).reduce((n, t) => n + t.events, 0);
    expect(events).toBe(good.length + poison.length);
    const loaded = Object.values(result.topics).reduce((n, t) => n + t.loaded, 0);
    expect(loaded).toBe(changes.length);

    // Committed offsets: every partition up to its end.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const committed = await admin.fetchOffsets({ groupId: ns.group, topics });
      for (const t of topics) {
        const ends = await admin.fetchTopicOffsets(t);
        for (const e of ends) {
          const c = committed
            .find((x) => x.topic === t)!
            .partitions.find((p) => p.partition === e.partition)!;
          if (e.high !== '0') expect(c.offset, `${t}/${e.partition}`).toBe(e.high);
        }
      }
    } finally {
      await admin.disconnect();
    }

    // The DLQ: original bytes, reason and source position in headers.
    const dlq = await readTopic(kafka, ns.dlqTopic, poison.length);
    expect(dlq).toHaveLength(poison.length);
    for (const p of poison) {
      const letter = dlq.find((d) => d.value === p.value && d.headers[DLQ_HEADERS.reason] === p.reason);
      expect(letter, p.reason).toBeDefined();
      expect(letter!.headers[DLQ_HEADERS.topic]).toBe(p.topic);
      expect(letter!.headers[DLQ_HEADERS.partition]).toMatch(/^[0-2]$/);
      expect(letter!.headers[DLQ_HEADERS.offset]).toMatch(/^\d+$/);
      expect(letter!.headers[DLQ_HEADERS.error]!.length).toBeGreaterThan(20);
      expect(letter!.key).toBe(p.key);
    }

    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);
  });

  it('the same group has nothing left; a new group re-reads all and nothing doubles', async () => {
    const before = await readVault(wh, ns.dbs);
    const again = await runCli(
      [
        'stream',
        ...streamArgs(ns, ['--topics', topics.join(','), '--until-idle', '--idle-ms', '1000', '--json']),
      ],
      {
        env: { SHOPDATA_PII_SALT: SALT },
        timeoutMs: 120_000,
      },
    );
    expect(again.code, again.stderr.slice(-3000)).toBe(0);
    expect((JSON.parse(again.stdout) as StreamResult).batches).toBe(0);

    const replay = await runCli(
      [
        'stream',
        ...streamArgs({ ...ns, group: `${ns.group}-2` }, [
          '--topics',
          topics.join(','),
          '--until-idle',
          '--idle-ms',
          '1000',
          '--json',
        ]),
      ],
      {
        env: { SHOPDATA_PII_SALT: SALT },
        timeoutMs: 120_000,
      },
    );
    expect(replay.code, replay.stderr.slice(-3000)).toBe(0);
    expect(await readVault(wh, ns.dbs)).toEqual(before);
    const visible = await countRows(wh, ns.dbs, true);
    for (const [table, rows] of before) expect(visible[table], table).toBe(rows.length);
  });
});
