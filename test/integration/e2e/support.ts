import { Kafka, logLevel, type Admin } from 'kafkajs';
import { stack } from '../../helpers/stack.js';

/** Helpers of the end-to-end platform test: raw Kafka reads and ClickHouse dumps, no product code. */

export const kafka = new Kafka({
  clientId: 'e2e-platform-test',
  brokers: [...stack.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});

export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
}

export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Messages in each topic (sum of the partitions' high watermarks; topics here start at offset 0). */
export async function endOffsets(admin: Admin, topics: string[]): Promise<Record<string, number>> {
  const existing = new Set(await admin.listTopics());
  const out: Record<string, number> = {};
  for (const t of topics) {
    out[t] = existing.has(t)
      ? (await admin.fetchTopicOffsets(t)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
      : 0;
  }
  return out;
}

/**
 * Polls until `expected` messages per topic are in Kafka (never more), or fails after `timeoutMs`
 * naming what was there. Debezium writes a seed's transaction only after PostgreSQL flushed and
 * decoded it, so this is the "wait until Debezium has seen every commit" step.
 */
export async function waitForCounts(
  expected: Record<string, number>,
  timeoutMs: number,
): Promise<{ waitedMs: number; counts: Record<string, number> }> {
  const t0 = Date.now();
  return withAdmin(async (admin) => {
    let counts: Record<string, number> = {};
    for (;;) {
      counts = await endOffsets(admin, Object.keys(expected));
      const over = Object.entries(expected).filter(([t, n]) => (counts[t] ?? 0) > n);
      if (over.length > 0)
        throw new Error(
          `more messages than changes: ${over.map(([t, n]) => `${t} has ${counts[t]}, expected ${n}`).join('; ')}`,
        );
      if (Object.entries(expected).every(([t, n]) => counts[t] === n))
        return { waitedMs: Date.now() - t0, counts };
      if (Date.now() - t0 > timeoutMs)
        throw new Error(
          `Debezium did not deliver every change within ${timeoutMs} ms: ${JSON.stringify({ expected, counts })}`,
        );
      await sleep(500);
    }
  });
}

/** Every message of the topics, read from the beginning up to the end offsets of now. */
export async function readAll(topics: string[], timeoutMs = 60_000): Promise<RawMessage[]> {
  const ends = await withAdmin(async (admin) => {
    const existing = new Set(await admin.listTopics());
    const m = new Map<string, bigint>();
    for (const t of topics.filter((x) => existing.has(x)))
      for (const p of await admin.fetchTopicOffsets(t))
        if (BigInt(p.high) > BigInt(p.low)) m.set(`${t}/${p.partition}`, BigInt(p.high));
    return m;
  });
  const out: RawMessage[] = [];
  if (ends.size === 0) return out;
  const wanted = [...new Set([...ends.keys()].map((k) => k.slice(0, k.lastIndexOf('/'))))];
  const groupId = `e2e-reader-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: wanted, fromBeginning: true });
    const pending = new Set(ends.keys());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading ${wanted.join(', ')} did not reach the end within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const id = `${topic}/${partition}`;
            const end = ends.get(id);
            if (end === undefined || BigInt(message.offset) >= end) return;
            out.push({
              topic,
              partition,
              offset: message.offset,
              key: message.key?.toString() ?? null,
              value: message.value?.toString() ?? null,
            });
            if (BigInt(message.offset) + 1n >= end) {
              pending.delete(id);
              if (pending.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await withAdmin((admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  }
  return out;
}

export async function produce(
  messages: Array<{ topic: string; key: string; value: string | null }>,
  chunk = 1000,
): Promise<void> {
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      const byTopic = new Map<string, Array<{ key: string; value: string | null }>>();
      for (const m of messages.slice(i, i + chunk)) {
        let list = byTopic.get(m.topic);
        if (!list) byTopic.set(m.topic, (list = []));
        list.push({ key: m.key, value: m.value });
      }
      await producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
        acks: -1,
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** One statement against the stack's ClickHouse over plain HTTP, the response as text. */
export async function clickhouseText(sql: string): Promise<string> {
  const url = new URL(stack.clickhouseUrl);
  const endpoint = `${url.protocol}//${url.host}/?user=${encodeURIComponent(decodeURIComponent(url.username) || 'default')}`;
  const r = await fetch(endpoint, { method: 'POST', body: sql });
  const text = await r.text();
  if (!r.ok) throw new Error(`ClickHouse said ${r.status} to ${sql.slice(0, 200)}: ${text.slice(0, 500)}`);
  return text;
}

/** Every table and view of the databases, dumped as TabSeparated text (small test databases only). */
export async function dumpDatabases(databases: string[]): Promise<Map<string, string>> {
  const list = await clickhouseText(
    `SELECT database, name FROM system.tables WHERE database IN (${databases.map((d) => `'${d}'`).join(', ')}) ORDER BY database, name FORMAT TabSeparated`,
  );
  const out = new Map<string, string>();
  for (const line of list.split('\n').filter(Boolean)) {
    const [db, name] = line.split('\t') as [string, string];
    out.set(`${db}.${name}`, await clickhouseText(`SELECT * FROM ${db}.${name} FORMAT TabSeparated`));
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last lines of a process's stderr, for failure messages. */
export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}
