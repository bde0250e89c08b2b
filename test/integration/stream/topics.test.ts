import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import type { SourceTable } from '../../../src/lib/vault/types.js';
import {
  committedTotal,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  expectedVault,
  makeChanges,
  namespace,
  produce,
  readVault,
  spawnStream,
  streamArgs,
  testKafka,
  type StreamChild,
  type TestMessage,
} from './support.js';

// Debezium creates a topic on the first change of its table, so a shop without ratings yet has no
// ratings topic. A long-running `stream` must consume the topics that exist at once and join the
// others when they appear, without a restart, losing nothing and loading nothing twice:
// - only the PostgreSQL topics exist at start: their events are loaded and committed;
// - the purchases topic appears (while more PostgreSQL events arrive), then the ratings topic:
//   both are picked up by the running process (it rejoins its group);
// - the cancellations topic never appears and blocks nothing;
// - two members share the group, each rejoining on its own;
// - after SIGTERM the vault holds exactly the rows of every event produced, and every partition
//   is committed up to its end.

const ns = namespace('stopic');
const kafka = testKafka();
const PG: SourceTable[] = ['sellers', 'users', 'auth_credentials', 'products'];
const all = ns.router.allTopics();
const changes = makeChanges(3000, 31).filter((c) => c.table !== 'cancellations');
const messagesOf = (tables: SourceTable[]): TestMessage[] => {
  const topics = new Set(tables.map((t) => ns.router.topicFor(t)));
  return encodeAll(changes, ns.router).filter((m) => topics.has(m.topic));
};
let wh: Warehouse;
/** Two members of one group, as in production: each notices the new topics on its own. */
let children: StreamChild[] = [];

async function waitCommitted(topics: string[], n: number, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const done = await committedTotal(kafka, ns.group, topics);
    if (done >= n) return;
    for (const c of children)
      if (c.proc.exitCode !== null)
        throw new Error(`stream exited early (${c.proc.exitCode}): ${c.stderr().slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(
        `${what}: ${done} of ${n} committed; stream logs: ${children.map((c) => c.stderr().slice(-2000)).join('\n---\n')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('stream: topics that appear while it runs', () => {
  beforeAll(async () => {
    wh = await createVault(ns);
    await createTopics(kafka, [ns.dlqTopic], 1);
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await deleteTopics(kafka, [...all, ns.dlqTopic]);
    await dropVault(wh, ns);
    await wh.close();
  });

  it('consumes the existing topics at once and joins new ones without a restart', async () => {
    const pgTopics = PG.map((t) => ns.router.topicFor(t));
    const purchases = ns.router.topicFor('purchases');
    const ratings = ns.router.topicFor('ratings');
    const pg = messagesOf(PG);
    const half = Math.floor(pg.length / 2);
    const purchaseMsgs = messagesOf(['purchases']);
    const ratingMsgs = messagesOf(['ratings']);
    expect(purchaseMsgs.length).toBeGreaterThan(100);
    expect(ratingMsgs.length).toBeGreaterThan(100);

    await createTopics(kafka, pgTopics, 3);
    await produce(kafka, pg.slice(0, half));

    children = [0, 1].map(() =>
      spawnStream(streamArgs(ns, ['--batch-size', '250', '--batch-max-ms', '300'])),
    );
    // 1. The existing topics load although three of the contract's topics are missing.
    await waitCommitted(pgTopics, half, 'PostgreSQL topics before any MongoDB topic exists');

    // 2. A new topic while events keep arriving on the old ones.
    await createTopics(kafka, [purchases], 3);
    await produce(kafka, [...purchaseMsgs, ...pg.slice(half)]);
    await waitCommitted([purchases], purchaseMsgs.length, 'the purchases topic created during the run');
    await waitCommitted(pgTopics, pg.length, 'PostgreSQL events produced during the rejoin');

    // 3. Another one, produced in two parts around its creation being noticed.
    await createTopics(kafka, [ratings], 2);
    await produce(kafka, ratingMsgs.slice(0, 50));
    await waitCommitted([ratings], 50, 'the ratings topic');
    await produce(kafka, ratingMsgs.slice(50));
    await waitCommitted([ratings], ratingMsgs.length, 'the rest of the ratings');

    for (const c of children) c.proc.kill('SIGTERM');
    for (const c of children) {
      const exit = await c.exited;
      expect(exit.code, c.stderr().slice(-3000)).toBe(0);
      expect(c.stderr()).toContain('new topics appeared');
    }

    // Every partition of every topic committed up to its end; nothing beyond the events produced.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topics = [...pgTopics, purchases, ratings];
      const committed = await admin.fetchOffsets({ groupId: ns.group, topics });
      for (const t of topics) {
        for (const e of await admin.fetchTopicOffsets(t)) {
          const c = committed
            .find((x) => x.topic === t)!
            .partitions.find((p) => p.partition === e.partition)!;
          if (e.high !== '0') expect(c.offset, `${t}/${e.partition}`).toBe(e.high);
        }
      }
      expect(await admin.listTopics()).not.toContain(ns.router.topicFor('cancellations'));
    } finally {
      await admin.disconnect();
    }

    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);
  }, 300_000);
});
