import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import {
  committedTotal,
  countRows,
  createTopics,
  deleteTopics,
  encodeAll,
  expectedVault,
  freePort,
  makeChanges,
  metricSum,
  namespace,
  produce,
  readVault,
  spawnStream,
  streamArgs,
  testKafka,
  type StreamChild,
} from '../stream/support.js';
import {
  clusterRss,
  clusterUrl,
  createClusterVault,
  dropClusterVault,
  localCounts,
  lockCluster,
  replicasSettled,
  sum,
  waitUntil,
  type Node,
} from './support.js';

// Horizontal scale of the stream: three `stream` processes in one consumer group over topics of
// 12 partitions each, writing to the replicated cluster (each process starts at another endpoint).
// One is killed with SIGKILL mid-load; Kafka's group protocol gives its partitions to the other
// two, which finish: every message committed, the vault exact (FINAL), the replicas in agreement.

const N = 100_000;
const PARTITIONS = 12;
const ns = namespace('clscale');
const kafka = testKafka();
const topics = ns.router.allTopics();
const changes = makeChanges(N, 43);
let wh: Warehouse;
let total = 0;
let release: () => void;

async function groupMembers(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([ns.group]);
    return groups[0]?.state === 'Stable' ? groups[0].members.length : 0;
  } finally {
    await admin.disconnect();
  }
}

describe('stream scale-out: three processes in one group, one killed', () => {
  beforeAll(async () => {
    release = await lockCluster();
    wh = await createClusterVault(ns.dbs);
    await createTopics(kafka, topics, PARTITIONS);
    await createTopics(kafka, [ns.dlqTopic], 1);
    const messages = encodeAll(changes, ns.router, { light: true });
    total = messages.length;
    await produce(kafka, messages, 5000);
  }, 1_800_000);

  afterAll(async () => {
    await deleteTopics(kafka, [...topics, ns.dlqTopic]);
    if (wh) {
      await dropClusterVault(wh, ns.dbs);
      await wh.close();
    }
    release?.();
  }, 180_000);

  it("the two survivors take the killed member's partitions over; exact counts", async () => {
    const orders: Node[][] = [
      [1, 2, 3],
      [2, 3, 1],
      [3, 1, 2],
    ];
    const ports = [await freePort(), await freePort(), await freePort()];
    const members: StreamChild[] = orders.map((order, i) =>
      spawnStream(
        streamArgs(
          ns,
          [
            '--batch-size',
            '1000',
            '--batch-max-ms',
            '300',
            '--metrics-port',
            String(ports[i]),
            '--metrics-host',
            '127.0.0.1',
            '--json',
          ],
          { clickhouseUrl: clusterUrl(order) },
        ),
      ),
    );
    try {
      await waitUntil('a group of three', 120_000, async () => (await groupMembers()) === 3);
      await waitUntil('every member loading', 120_000, async () => {
        for (const p of ports)
          if ((await metricSum(p, 'shopdata_stream_events_consumed_total')) === 0) return false;
        return true;
      });
      const atKill = await committedTotal(kafka, ns.group, topics);
      expect(atKill).toBeLessThan(total);
      const loadedByKilled = await metricSum(ports[1]!, 'shopdata_stream_events_consumed_total');
      members[1]!.proc.kill('SIGKILL');
      expect((await members[1]!.exited).signal).toBe('SIGKILL');
      const t0 = Date.now();
      await waitUntil(
        'the survivors to finish',
        300_000,
        async () => (await committedTotal(kafka, ns.group, topics)) === total,
      );
      const finishMs = Date.now() - t0;
      expect(await groupMembers()).toBe(2);
      const results: StreamResult[] = [];
      for (const i of [0, 2]) {
        members[i]!.proc.kill('SIGTERM');
        const exit = await members[i]!.exited;
        expect(exit.code, members[i]!.stderr().slice(-2000)).toBe(0);
        results.push(JSON.parse(members[i]!.stdout()) as StreamResult);
      }
      expect(results.reduce((n, r) => n + r.dlq.count, 0)).toBe(0);
      expect(await committedTotal(kafka, ns.group, topics)).toBe(total);

      const expected = expectedVault(changes);
      const actual = await readVault(wh, ns.dbs);
      for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);
      await waitUntil('replication caught up', 180_000, () => replicasSettled(ns.dbs));
      const [c1, c2] = [await localCounts(1, ns.dbs), await localCounts(2, ns.dbs)];
      expect(c2).toEqual(c1);
      const loaded = results.map((r) => Object.values(r.topics).reduce((n, t) => n + t.events, 0));
      console.log(
        `scale: ${total} messages over ${topics.length} topics x ${PARTITIONS} partitions; 3 members, one killed at ${atKill} committed ` +
          `(it had consumed ${loadedByKilled}); the other two finished ${finishMs} ms later having consumed ${loaded.join(' + ')}; ` +
          `vault ${sum(Object.fromEntries([...expected].map(([t, r]) => [t, r.length])))} rows (FINAL) = expected, ${sum(await countRows(wh, ns.dbs, false))} physical; shard 1 replicas ${sum(c1)} = ${sum(c2)}; RSS ${clusterRss()}`,
      );
    } finally {
      for (const m of members)
        if (m.proc.exitCode === null && m.proc.signalCode === null) m.proc.kill('SIGKILL');
    }
  }, 900_000);
});
