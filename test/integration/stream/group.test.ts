import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import {
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  expectedVault,
  freePort,
  makeChanges,
  namespace,
  produce,
  readVault,
  spawnStream,
  streamArgs,
  testKafka,
  committedTotal,
  metricSum,
} from './support.js';

// Two `stream` processes in one consumer group share the partitions (Kafka's group protocol);
// one is killed with SIGKILL, the other takes its partitions over and finishes the load; nothing
// is lost. The survivor then stops on SIGTERM within seconds, exit 0, work flushed and committed.

const ns = namespace('sgrp');
const kafka = testKafka();
const topics = ns.router.allTopics();
let wh: Warehouse;
let total = 0;

async function members(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([ns.group]);
    return groups[0]?.state === 'Stable' ? groups[0].members.length : 0;
  } finally {
    await admin.disconnect();
  }
}

describe('stream: two consumers in one group', () => {
  const changes = makeChanges(60_000, 41);

  beforeAll(async () => {
    wh = await createVault(ns);
    await createTopics(kafka, topics, 3);
    const messages = encodeAll(changes, ns.router, { light: true });
    total = messages.length;
    await produce(kafka, messages, 5000);
  }, 300_000);

  afterAll(async () => {
    await deleteTopics(kafka, [...topics, ns.dlqTopic]);
    await dropVault(wh, ns);
    await wh.close();
  });

  it('shares partitions, survives the loss of one member, stops cleanly on SIGTERM', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    // Small batches so the load lasts long enough to have two members working on it.
    const args = (port: number) =>
      streamArgs(ns, [
        '--batch-size',
        '300',
        '--batch-max-ms',
        '200',
        '--metrics-port',
        String(port),
        '--metrics-host',
        '127.0.0.1',
        '--json',
      ]);
    const a = spawnStream(args(portA));
    const b = spawnStream(args(portB));
    try {
      for (const deadline = Date.now() + 60_000; (await members()) < 2;) {
        if (Date.now() > deadline)
          throw new Error(`group never had 2 members; ${a.stderr().slice(-1000)} ${b.stderr().slice(-1000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      for (
        const deadline = Date.now() + 60_000;
        (await metricSum(portA, 'shopdata_stream_events_consumed_total')) === 0 ||
        (await metricSum(portB, 'shopdata_stream_events_consumed_total')) === 0;
      ) {
        if (Date.now() > deadline) throw new Error('both members should have loaded events');
        await new Promise((r) => setTimeout(r, 250));
      }
      const beforeKill = await committedTotal(kafka, ns.group, topics);
      expect(beforeKill).toBeLessThan(total);
      a.proc.kill('SIGKILL');
      expect((await a.exited).signal).toBe('SIGKILL');

      // B gets A's partitions once the broker notices A is gone (session timeout), and finishes.
      for (const deadline = Date.now() + 150_000; (await committedTotal(kafka, ns.group, topics)) < total;) {
        if (Date.now() > deadline)
          throw new Error(
            `B did not finish: ${await committedTotal(kafka, ns.group, topics)}/${total}; ${b.stderr().slice(-2000)}`,
          );
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(b.proc.exitCode).toBeNull();

      const t0 = Date.now();
      b.proc.kill('SIGTERM');
      const exit = await b.exited;
      const stopMs = Date.now() - t0;
      expect(exit.code, b.stderr().slice(-2000)).toBe(0);
      expect(stopMs).toBeLessThan(10_000);
      const result = JSON.parse(b.stdout()) as StreamResult;
      expect(result.stoppedBy).toBe('SIGTERM');
      console.log(
        `group: committed ${beforeKill}/${total} when A was killed; B stopped ${stopMs} ms after SIGTERM having loaded ${Object.values(result.topics).reduce((n, t) => n + t.loaded, 0)} changes`,
      );
    } finally {
      for (const c of [a, b])
        if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    }
    expect(await committedTotal(kafka, ns.group, topics)).toBe(total);
    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);
  }, 420_000);
});
