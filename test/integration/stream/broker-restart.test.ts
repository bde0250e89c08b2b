import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { PrivateKafka } from './private-kafka.js';
import {
  createTopics,
  createVault,
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
  committedTotal,
} from './support.js';

// The Kafka broker restarts in the middle of a load. The shared broker must stay up for the other
// suites, so this test runs its own single-node broker (the stack's jars, ephemeral ports), stops
// it for ~20 s while `stream` is consuming, and starts it again on the same data directory. The
// stream keeps what it has, retries, resumes, and loads everything exactly once.

const ns = namespace('sbrk');
const broker = new PrivateKafka();
const topics = ns.router.allTopics();
let wh: Warehouse;
let total = 0;

/** Committed offsets of the group; 0 while the fresh broker's group coordinator is not ready yet. */

describe('stream: Kafka broker restart during a load', () => {
  const changes = makeChanges(30_000, 61);

  beforeAll(async () => {
    wh = await createVault(ns);
    await broker.init();
    await broker.start();
    const kafka = testKafka(broker.brokers);
    await createTopics(kafka, topics, 2);
    const messages = encodeAll(changes, ns.router, { light: true });
    total = messages.length;
    await produce(kafka, messages, 5000);
  }, 300_000);

  afterAll(async () => {
    await broker.destroy();
    await dropVault(wh, ns);
    await wh.close();
  });

  it('keeps going after the broker comes back, nothing lost or doubled', async () => {
    const child = spawnStream(
      streamArgs(
        ns,
        ['--batch-size', '500', '--batch-max-ms', '300', '--until-idle', '--idle-ms', '1500', '--json'],
        { brokers: broker.brokers.join(',') },
      ),
    );
    try {
      for (
        const deadline = Date.now() + 120_000;
        (await committedTotal(testKafka(broker.brokers), ns.group, topics).catch(() => 0)) < total * 0.2;
      ) {
        if (Date.now() > deadline) throw new Error(`no progress; ${child.stderr().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await broker.stop();
      await new Promise((r) => setTimeout(r, 20_000));
      expect(child.proc.exitCode, child.stderr().slice(-2000)).toBeNull(); // waiting, not given up
      await broker.start();
      const exit = await Promise.race([
        child.exited,
        new Promise<never>((_, rej) =>
          setTimeout(
            () => rej(new Error(`no finish after restart: ${child.stderr().slice(-2000)}`)),
            240_000,
          ),
        ),
      ]);
      expect(exit.code, child.stderr().slice(-3000)).toBe(0);
      const result = JSON.parse(child.stdout()) as StreamResult;
      expect(result.stoppedBy).toBe('idle');
      expect(result.dlq.count).toBe(0);
    } finally {
      if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    }
    let committed = 0;
    for (
      let i = 0;
      i < 20 &&
      (committed = await committedTotal(testKafka(broker.brokers), ns.group, topics).catch(() => 0)) !==
        total;
      i++
    )
      await new Promise((r) => setTimeout(r, 500));
    expect(committed).toBe(total);
    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);
  }, 600_000);
});
