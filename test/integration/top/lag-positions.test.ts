import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaLagSource, lagAtPositions } from '../../../src/lib/kafka/lag.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { createTopicsReady } from '../../helpers/kafka.js';

// Lag of positions that are not a consumer group's (what a lake table holds), from the real Kafka:
// the same lag formula as stream and top (src/lib/kafka/lag.ts).
const kafka = new Kafka({
  clientId: 'lag-positions-test',
  brokers: [...stack.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
const topic = uniqueName('lagpos');
const t0 = Date.UTC(2026, 10, 24, 12, 0, 0);

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsReady(admin, [{ topic, numPartitions: 2 }]);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  // Partition 0: 10 records with fixed timestamps one second apart; partition 1 stays empty.
  await producer.send({
    topic,
    messages: Array.from({ length: 10 }, (_, i) => ({
      partition: 0,
      value: `v${i}`,
      timestamp: String(t0 + i * 1000),
    })),
  });
  await producer.disconnect();
});

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

describe('lag at positions', () => {
  it('messages to the log end and the age of the record at the position', async () => {
    const source = new KafkaLagSource(kafka);
    try {
      const read = await source.positions([topic], [{ topic, partition: 0, offset: 4 }]);
      const at = t0 + 60_000;
      const lags = lagAtPositions(
        [
          { topic, partition: 0, offset: 4 },
          { topic, partition: 0, offset: 10 },
          { topic, partition: 1, offset: null, start: 0 },
          { topic, partition: 1, offset: null },
        ],
        read,
        at,
      );
      expect(lags).toEqual([
        { topic, partition: 0, end: 10, lag: 6, lagSeconds: 56 },
        { topic, partition: 0, end: 10, lag: 0, lagSeconds: 0 },
        { topic, partition: 1, end: 0, lag: 0, lagSeconds: 0 },
        { topic, partition: 1, end: 0, lag: null, lagSeconds: null },
      ]);
    } finally {
      await source.close();
    }
  });
});
