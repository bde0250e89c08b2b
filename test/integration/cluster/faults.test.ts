import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { runCli } from '../../helpers/cli.js';
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
  sampleRss,
  spawnStream,
  streamArgs,
  testKafka,
  type TestNamespace,
} from '../stream/support.js';
import {
  clusterUrl,
  createClusterVault,
  dropClusterVault,
  killNode,
  localCounts,
  lockCluster,
  replicationQueue,
  startNodes,
  startZooKeeper,
  stopZooKeeper,
  sum,
  waitUntil,
  type Node,
} from './support.js';

// Faults on the replicated warehouse (scripts/stack/up cluster), each during a `stream` load of
// 100,000 changes (≈104k Debezium messages with tombstones): kill -9 one replica; ZooKeeper gone
// for 30 s. Exact counts: the group commits every message, the vault holds exactly the expected
// rows (FINAL, through the Distributed tables), both replicas of shard 1 hold the same rows and
// `vault check`'s replica agreement passes.

const N = 100_000;
const kafka = testKafka();
let release: () => void;

interface Load {
  ns: TestNamespace;
  topics: string[];
  total: number;
  changes: ReturnType<typeof makeChanges>;
  wh: Warehouse;
}

async function prepare(prefix: string, seed: number, order: readonly Node[]): Promise<Load> {
  const ns = namespace(prefix);
  const topics = ns.router.allTopics();
  const changes = makeChanges(N, seed);
  const wh = await createClusterVault(ns.dbs, order);
  await createTopics(kafka, topics, 3);
  await createTopics(kafka, [ns.dlqTopic], 1);
  const messages = encodeAll(changes, ns.router, { light: true });
  await produce(kafka, messages, 5000);
  return { ns, topics, total: messages.length, changes, wh };
}

async function cleanup(l: Load | undefined): Promise<void> {
  if (!l) return;
  await deleteTopics(kafka, [...l.topics, l.ns.dlqTopic]);
  await dropClusterVault(l.wh, l.ns.dbs);
  await l.wh.close();
}

/** The vault holds exactly the rows the changes call for, as readers see them (FINAL). */
async function expectExactVault(l: Load): Promise<Record<string, number>> {
  const expected = expectedVault(l.changes);
  const actual = await readVault(l.wh, l.ns.dbs);
  for (const [table, rows] of expected) {
    expect(actual.get(table)!.length, table).toBe(rows.length);
    expect(actual.get(table), table).toEqual(rows);
  }
  return Object.fromEntries([...expected].map(([t, rows]) => [t, rows.length]));
}

/** Both replicas of shard 1 caught up and hold the same rows; vault check's agreement passes. */
async function expectReplicasAgree(l: Load): Promise<string> {
  await waitUntil(
    'replication queues empty',
    180_000,
    async () => (await replicationQueue(1, l.ns.dbs)) + (await replicationQueue(2, l.ns.dbs)) === 0,
  );
  const [c1, c2, c3] = [
    await localCounts(1, l.ns.dbs),
    await localCounts(2, l.ns.dbs),
    await localCounts(3, l.ns.dbs),
  ];
  expect(c2).toEqual(c1);
  // Shard 1 + shard 2 = the whole vault (each key lives on one shard).
  const visible = await countRows(l.wh, l.ns.dbs, true);
  for (const t of Object.keys(visible)) expect(c1[t]! + c3[t]!, t).toBe(visible[t]);
  const check = await runCli(
    ['vault', 'check', '--checks', 'replica-agreement', '--db-suffix', l.ns.suffix, '--format', 'json'],
    { env: { SHOPDATA_CLICKHOUSE_URL: clusterUrl() } },
  );
  expect(check.code, check.stderr).toBe(0);
  const report = JSON.parse(check.stdout) as { checks: { id: string; status: string; message: string }[] };
  const agreement = report.checks.find((c) => c.id === 'replica-agreement')!;
  expect(agreement.status).toBe('pass');
  return `shard 1 ${sum(c1)} rows on ch1 = ${sum(c2)} on ch2, shard 2 ${sum(c3)}; ${agreement.message}`;
}

describe('cluster faults during a stream load of 100k changes', () => {
  beforeAll(async () => {
    release = await lockCluster();
  }, 1_600_000);

  afterAll(async () => {
    await startZooKeeper().catch(() => undefined);
    await startNodes().catch(() => undefined);
    release?.();
  }, 180_000);

  describe('kill -9 of one replica', () => {
    let l: Load | undefined;
    afterAll(async () => cleanup(l), 120_000);

    it('the stream goes on through the other endpoints; the replica catches up; nothing lost or doubled', async () => {
      // The stream talks to ch2 first: killing it also forces the failover to ch1.
      l = await prepare('clkill', 31, [2, 1, 3]);
      const child = spawnStream(
        streamArgs(
          l.ns,
          ['--batch-size', '2000', '--batch-max-ms', '500', '--until-idle', '--idle-ms', '3000', '--json'],
          {
            clickhouseUrl: clusterUrl([2, 1, 3]),
          },
        ),
      );
      try {
        await waitUntil(
          '30% committed',
          240_000,
          async () => (await committedTotal(kafka, l!.ns.group, l!.topics)) >= 0.3 * l!.total,
        );
        const atKill = await committedTotal(kafka, l.ns.group, l.topics);
        killNode(2);
        const t0 = Date.now();
        // It keeps committing with ch2 dead.
        await waitUntil(
          'progress without ch2',
          120_000,
          async () => (await committedTotal(kafka, l!.ns.group, l!.topics)) >= atKill + 0.2 * l!.total,
        );
        const withoutCh2 = await committedTotal(kafka, l.ns.group, l.topics);
        await startNodes();
        const restartedAfterMs = Date.now() - t0;
        const exit = await child.exited;
        expect(exit.code, child.stderr().slice(-3000)).toBe(0);
        const result = JSON.parse(child.stdout()) as StreamResult;
        expect(result.dlq.count).toBe(0);
        expect(await committedTotal(kafka, l.ns.group, l.topics)).toBe(l.total);
        const rows = await expectExactVault(l);
        const agreement = await expectReplicasAgree(l);
        const physical = await countRows(l.wh, l.ns.dbs, false);
        console.log(
          `cluster kill -9: ${l.total} messages; ch2 killed at ${atKill} committed, ${withoutCh2} committed while it was down, restarted after ${restartedAfterMs} ms; ` +
            `vault ${sum(rows)} rows (FINAL) = expected, ${sum(physical)} physical; ${agreement}`,
        );
      } finally {
        if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
      }
    }, 900_000);
  });

  describe('ZooKeeper stopped for 30 s', () => {
    let l: Load | undefined;
    afterAll(async () => cleanup(l), 120_000);

    it('inserts fail, offsets hold, memory stays flat; afterwards nothing lost or doubled', async () => {
      l = await prepare('clzk', 37, [1, 2, 3]);
      const port = await freePort();
      const child = spawnStream(
        streamArgs(
          l.ns,
          [
            '--batch-size',
            '2000',
            '--batch-max-ms',
            '500',
            '--until-idle',
            '--idle-ms',
            '3000',
            '--json',
            '--metrics-port',
            String(port),
            '--metrics-host',
            '127.0.0.1',
          ],
          { clickhouseUrl: clusterUrl() },
        ),
      );
      try {
        await waitUntil(
          '30% committed',
          240_000,
          async () => (await committedTotal(kafka, l!.ns.group, l!.topics)) >= 0.3 * l!.total,
        );
        await stopZooKeeper();
        const stoppedAt = Date.now();
        const rss = sampleRss(child.proc.pid!);
        // A batch confirmed just before the stop may still be committing; from then on nothing may be.
        await new Promise((r) => setTimeout(r, 3000));
        const held = await committedTotal(kafka, l.ns.group, l.topics);
        const batches = await metricSum(port, 'shopdata_stream_batches_total');
        const base = Math.max(...rss.samples);
        while (Date.now() - stoppedAt < 30_000) {
          await new Promise((r) => setTimeout(r, 1000));
          expect(await committedTotal(kafka, l.ns.group, l.topics)).toBe(held);
          // No insert succeeds although events are waiting.
          expect(await metricSum(port, 'shopdata_stream_batches_total')).toBe(batches);
        }
        rss.stop();
        expect(held).toBeLessThan(l.total);
        // Flat: the stream stopped fetching; it holds at most the batch it retries and the next one.
        expect(rss.peakMb()).toBeLessThan(base + 64);
        await startZooKeeper();
        await waitUntil(
          'the stream to resume',
          180_000,
          async () => (await committedTotal(kafka, l!.ns.group, l!.topics)) > held,
        );
        const resumedAfterMs = Date.now() - stoppedAt;
        // The failed inserts were retried (the loader's retries; the failover rounds are inside them).
        const retries = await metricSum(port, 'shopdata_stream_retries_total');
        expect(retries).toBeGreaterThan(0);
        const exit = await child.exited;
        expect(exit.code, child.stderr().slice(-3000)).toBe(0);
        const result = JSON.parse(child.stdout()) as StreamResult;
        expect(result.dlq.count).toBe(0);
        expect(await committedTotal(kafka, l.ns.group, l.topics)).toBe(l.total);
        const rows = await expectExactVault(l);
        const agreement = await expectReplicasAgree(l);
        console.log(
          `cluster ZooKeeper 30 s: ${l.total} messages; offsets held at ${held} for 30 s, resumed ${resumedAfterMs} ms after the stop, ${retries} insert retries; ` +
            `stream RSS ${base.toFixed(0)} MB at the outage, peak ${rss.peakMb().toFixed(0)} MB during it; vault ${sum(rows)} rows (FINAL) = expected; ${agreement}`,
        );
      } finally {
        await startZooKeeper().catch(() => undefined);
        if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
      }
    }, 900_000);
  });
});
