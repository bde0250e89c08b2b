import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';
import { createTopicsReady } from '../../helpers/kafka.js';

// Needs the broker of scripts/stack/services/kafka.sh (scripts/stack/up kafka).
const execFileAsync = promisify(execFile);
const kafka = new Kafka({
  clientId: 'stack-kafka-test',
  brokers: [...stack.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
const kafkaTool = `${REPO_ROOT}scripts/stack/kafka-tool`;

/** Consumes `count` messages of `topic` from the beginning with a fresh group, then disconnects. */
async function consumeAll(
  topic: string,
  groupId: string,
  count: number,
): Promise<Array<{ key: string; value: string; partition: number }>> {
  const consumer = kafka.consumer({ groupId });
  const got: Array<{ key: string; value: string; partition: number }> = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`got ${got.length}/${count} messages of ${topic} within 60 s`)),
        60_000,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            got.push({
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
              partition,
            });
            if (got.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('local Kafka broker', () => {
  let admin: Admin;
  const topics: string[] = [];

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  it('is a single KRaft node on loopback with the fixed cluster id', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toEqual([
      { nodeId: 1, host: '127.0.0.1', port: Number(stack.kafkaBrokers[0]!.split(':')[1]) },
    ]);
    expect(cluster.clusterId).toBe('c2hvcGRhdGEtc3RhY2stMQ');
  });

  it('round-trips keyed messages through a created topic, and the group offsets show no lag', async () => {
    const topic = uniqueName('stack_kafka_rt');
    const groupId = uniqueName('stack_kafka_rt_group');
    topics.push(topic);
    await createTopicsReady(admin, [{ topic, numPartitions: 2, replicationFactor: 1 }]);
    expect((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions).toHaveLength(2);

    const sent = Array.from({ length: 20 }, (_, i) => ({
      key: `k${i % 5}`,
      value: JSON.stringify({ n: i, topic }),
    }));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const acks = await producer.send({ topic, acks: -1, messages: sent });
      expect(acks.every((a) => a.errorCode === 0)).toBe(true);
    } finally {
      await producer.disconnect();
    }

    const got = await consumeAll(topic, groupId, sent.length);
    expect(
      got.map(({ key, value }) => ({ key, value })).sort((a, b) => a.value.localeCompare(b.value)),
    ).toEqual([...sent].sort((a, b) => a.value.localeCompare(b.value)));
    // Same key, same partition: the order per key survives.
    for (const key of new Set(sent.map((m) => m.key))) {
      const partitions = new Set(got.filter((m) => m.key === key).map((m) => m.partition));
      expect(partitions.size).toBe(1);
      const ns = got.filter((m) => m.key === key).map((m) => (JSON.parse(m.value) as { n: number }).n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }

    // The committed offsets, seen through the CLI wrapper that scripts and other tests use.
    const { stdout } = await execFileAsync(
      kafkaTool,
      ['consumer-groups', '-b', '--describe', '--group', groupId],
      { timeout: 60_000 },
    );
    const rows = stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols[0] === groupId && cols[1] === topic);
    expect(rows).toHaveLength(2);
    const committed = rows.reduce((sum, cols) => sum + Number(cols[3]), 0);
    const lag = rows.reduce((sum, cols) => sum + Number(cols[5]), 0);
    expect({ committed, lag }).toEqual({ committed: sent.length, lag: 0 });
  });

  it('creates a topic on first produce (auto.create.topics.enable)', async () => {
    const topic = uniqueName('stack_kafka_auto');
    topics.push(topic);
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ value: 'first' }] });
    } finally {
      await producer.disconnect();
    }
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions).toHaveLength(1);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.map((o) => o.high)).toEqual(['1']);
  });
});
