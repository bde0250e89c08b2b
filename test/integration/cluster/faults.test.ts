import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { spawn } from 'node:child_process';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT, s3Env, stack, uniqueName } from '../../helpers/stack.js';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { checksumSql } from '../../../src/lib/backfill/vaultsql.js';
import { partitionId } from '../../../src/lib/backfill/dates.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import { VAULT_TABLES, testDatabases } from '../../../src/lib/vault/tables.js';
import { localTable } from '../../../src/lib/warehouse/cluster.js';
import { openWarehouse } from '../../../src/lib/warehouse/index.js';
import { sampleChanges, onDay, DAY1 } from '../../fixtures/lake/changes.js';
import { s3Lake } from '../lake/helpers.js';
import {
  SALT as BF_SALT,
  createVault as createSingleVault,
  dropVault as dropSingleVault,
  loadLikeStream,
  vaultSnapshot,
} from '../backfill/helpers.js';
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
  clusterRss,
  clusterUrl,
  createClusterVault,
  dropClusterVault,
  killNode,
  localCounts,
  node,
  NODES,
  lockCluster,
  replicasSettled,
  startNodes,
  startZooKeeper,
  stopZooKeeper,
  sum,
  waitUntil,
  type Node,
} from './support.js';

// Faults on the replicated warehouse (scripts/stack/up cluster), each during a `stream` load of
// 100,000 changes (≈106k Debezium messages with tombstones; default batches of 5,000): kill -9 one replica; ZooKeeper gone
// for 30 s. Exact counts: the group commits every message, the vault holds exactly the expected
// rows (FINAL, through the Distributed tables), both replicas of shard 1 hold the same rows and
// `vault check`'s replica agreement passes. And a backfill killed during its partition swap (while
// such a stream load runs on the cluster): the day it was rebuilding stays visible on every replica.

const N = 100_000;
const kafka = testKafka();
// The lake of the backfill fault is on the stack's S3 (moto accepts these).
process.env.AWS_ACCESS_KEY_ID ??= s3Env.AWS_ACCESS_KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY ??= s3Env.AWS_SECRET_ACCESS_KEY;
let release: () => void;

interface Load {
  ns: TestNamespace;
  topics: string[];
  total: number;
  changes: ReturnType<typeof makeChanges>;
  wh: Warehouse;
}

/**
 * The three faults share one set of topics holding the 100k changes (produced once); each fault
 * reads them with its own consumer group into its own vault on the cluster.
 */
const shared = namespace('clfault');
const sharedTopics = shared.router.allTopics();
const changes = makeChanges(N, 31);
let total = 0;

async function prepare(prefix: string, order: readonly Node[]): Promise<Load> {
  const id = uniqueName(prefix);
  const ns: TestNamespace = { ...shared, id, group: `${id}-group`, dbs: testDatabases(id), suffix: id };
  const wh = await createClusterVault(ns.dbs, order);
  return { ns, topics: sharedTopics, total, changes, wh };
}

async function cleanup(l: Load | undefined): Promise<void> {
  if (!l) return;
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
  await waitUntil('replication queues empty', 180_000, () => replicasSettled(l.ns.dbs));
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
    await createTopics(kafka, sharedTopics, 3);
    await createTopics(kafka, [shared.dlqTopic], 1);
    const messages = encodeAll(changes, shared.router, { light: true });
    total = messages.length;
    await produce(kafka, messages, 5000);
  }, 1_600_000);

  afterAll(async () => {
    await startZooKeeper().catch(() => undefined);
    await startNodes().catch(() => undefined);
    await deleteTopics(kafka, [...sharedTopics, shared.dlqTopic]);
    release?.();
  }, 180_000);

  describe('kill -9 of one replica', () => {
    let l: Load | undefined;
    afterAll(async () => cleanup(l), 120_000);

    it('the stream goes on through the other endpoints; the replica catches up; nothing lost or doubled', async () => {
      // The stream talks to ch2 first: killing it also forces the failover to ch1.
      l = await prepare('clkill', [2, 1, 3]);
      const child = spawnStream(
        streamArgs(l.ns, ['--until-idle', '--idle-ms', '3000', '--json'], {
          clickhouseUrl: clusterUrl([2, 1, 3]),
        }),
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
            `vault ${sum(rows)} rows (FINAL) = expected, ${sum(physical)} physical; ${agreement}; RSS ${clusterRss()}`,
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
      l = await prepare('clzk', [1, 2, 3]);
      const port = await freePort();
      const child = spawnStream(
        streamArgs(
          l.ns,
          [
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
            `stream RSS ${base.toFixed(0)} MB at the outage, peak ${rss.peakMb().toFixed(0)} MB during it; vault ${sum(rows)} rows (FINAL) = expected; ${agreement}; RSS ${clusterRss()}`,
        );
      } finally {
        await startZooKeeper().catch(() => undefined);
        if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
      }
    }, 900_000);
  });

  describe('kill -9 of a backfill during its partition swap', () => {
    let l: Load | undefined;
    const bf = testDatabases(uniqueName('clbf'));
    let reference: Awaited<ReturnType<typeof openWarehouse>> | undefined;
    const refDbs: (typeof bf)[] = [];
    afterAll(async () => {
      await cleanup(l);
      if (l) await dropClusterVault(l.wh, bf);
      for (const d of refDbs) await dropSingleVault(reference!, d);
      await reference?.close();
    }, 180_000);

    it('the day being rebuilt stays visible on every replica; the re-run completes', async () => {
      // The lake: two days of every table. The cluster vault got day 1 from a stream that missed 10 %.
      const changes = sampleChanges(30000, 17);
      const day1 = onDay(
        SOURCE_TABLES.flatMap((t) => changes[t]),
        DAY1,
      );
      const lake = s3Lake('clbf');
      const io = openLake(lake, { s3Endpoint: stack.s3Endpoint });
      try {
        for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'iceberg' });
      } finally {
        io.close();
      }
      // The stream load that runs meanwhile (its own vault on the same cluster).
      l = await prepare('clbfs', [1, 2, 3]);
      const cw = await createClusterVault(bf);
      try {
        await loadLikeStream(
          cw,
          bf,
          day1.filter((_, i) => i % 10 !== 0),
        );
      } finally {
        await cw.close();
      }
      const P = partitionId(DAY1);
      const sats = VAULT_TABLES.filter((t) => t.kind === 'satellite');
      /** Per server and satellite: the day partition as that replica's readers see it (FINAL). */
      const perReplica = async () => {
        const out: Record<string, string> = {};
        for (const n of NODES) {
          const wh = node(n);
          try {
            for (const t of sats) {
              const [r] = await wh.query<{ rows: string; checksum: string }>(
                checksumSql(`${bf.vault}.${localTable(t.name)}`, t, `toYYYYMMDD(effective_ts) = ${P}`),
              );
              out[`ch${n} ${t.name}`] = `${r!.rows}/${r!.checksum}`;
            }
          } finally {
            await wh.close();
          }
        }
        return out;
      };
      await waitUntil('replicas in step', 120_000, () => replicasSettled(bf));
      const before = await perReplica();

      const env = {
        ...process.env,
        ...s3Env,
        SHOPDATA_CLICKHOUSE_URL: clusterUrl(),
        SHOPDATA_LAKE: lake,
        SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
        SHOPDATA_PII_SALT: BF_SALT,
        SHOPDATA_LOG_LEVEL: 'info',
      };
      const backfill = (extra: string[] = []) => {
        const child = spawn(
          process.execPath,
          [
            `${REPO_ROOT}bin/run.js`,
            'backfill',
            '--date',
            DAY1,
            '--db-suffix',
            bf.vault.slice('vault_'.length),
            ...extra,
          ],
          { env, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stderr = '';
        child.stdout.resume();
        const swapped = new Promise<void>((resolve) =>
          child.stderr.on('data', (d: Buffer) => {
            stderr += d.toString();
            if (/replaced sat_\w+ \S+ on shard/.test(stderr)) resolve();
          }),
        );
        const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          child.on('close', (code, signal) => resolve({ code, signal })),
        );
        return { child, swapped, done, stderr: () => stderr };
      };

      const stream = spawnStream(
        streamArgs(l.ns, ['--until-idle', '--idle-ms', '3000', '--json'], {
          clickhouseUrl: clusterUrl(),
        }),
      );
      try {
        await waitUntil(
          '20% committed',
          240_000,
          async () => (await committedTotal(kafka, l!.ns.group, l!.topics)) >= 0.2 * l!.total,
        );
        const first = backfill();
        // kill -9 right after the first shard of the first satellite got its new partition.
        await Promise.race([first.swapped, first.done]);
        first.child.kill('SIGKILL');
        const killed = await first.done;
        expect(killed.signal, first.stderr().slice(-3000)).toBe('SIGKILL');
        const atKill = await perReplica();

        const again = backfill(['--lock-wait', '90', '--json']);
        const rerun = await again.done;
        expect(rerun.code, again.stderr().slice(-3000)).toBe(0);
        await waitUntil('replicas in step', 120_000, () => replicasSettled(bf));
        const after = await perReplica();

        // Every replica showed, for every satellite, either the day as it was or as rebuilt —
        // never a missing or half-replaced partition; some had been swapped, some not yet.
        let swapped = 0;
        let untouched = 0;
        for (const [k, v] of Object.entries(atKill)) {
          expect([before[k], after[k]], k).toContain(v);
          if (before[k] !== after[k]) {
            if (v === after[k]) swapped++;
            else untouched++;
          }
        }
        expect(swapped).toBeGreaterThan(0);
        expect(untouched).toBeGreaterThan(0);
        // Each replica of shard 1 ends with the same rows; the rebuilt vault equals a full load of the day.
        for (const t of sats) expect(after[`ch2 ${t.name}`], t.name).toBe(after[`ch1 ${t.name}`]);
        reference = await openWarehouse(stack.clickhouseUrl);
        const ref = await createSingleVault(reference, 'clbfref');
        refDbs.push(ref);
        await loadLikeStream(reference, ref, day1);
        const cw2 = await openWarehouse(clusterUrl());
        try {
          expect(await vaultSnapshot(cw2, bf)).toEqual(await vaultSnapshot(reference, ref));
        } finally {
          await cw2.close();
        }

        // vault check on the cluster, with the lake, finds what it finds on one server holding the same rows.
        const checkOn = async (url: string, suffixOf: string) => {
          const r = await runCli(
            ['vault', 'check', '--date', DAY1, '--db-suffix', suffixOf, '--format', 'json'],
            {
              env: { ...env, SHOPDATA_CLICKHOUSE_URL: url, SHOPDATA_LOG_LEVEL: 'warn' },
              timeoutMs: 300_000,
            },
          );
          const report = JSON.parse(r.stdout) as { checks: { id: string; status: string; count: number }[] };
          return report.checks
            .filter((c) => c.id !== 'replica-agreement' && c.id !== 'freshness')
            .map((c) => `${c.id} ${c.status} ${c.count}`);
        };
        const onCluster = await checkOn(clusterUrl(), bf.vault.slice('vault_'.length));
        expect(onCluster).toEqual(await checkOn(stack.clickhouseUrl, ref.vault.slice('vault_'.length)));
        expect(onCluster).toContain('lost-changes pass 0');
        expect(onCluster.some((c) => c.startsWith('reconcile-lake ') && !c.includes(' skip '))).toBe(true);

        // The stream load went on meanwhile and is exact.
        const exit = await stream.exited;
        expect(exit.code, stream.stderr().slice(-3000)).toBe(0);
        expect(await committedTotal(kafka, l.ns.group, l.topics)).toBe(l.total);
        const rows = await expectExactVault(l);
        console.log(
          `cluster backfill kill -9 during the swap: ${swapped} replica/table partitions already swapped, ${untouched} not yet, none missing; ` +
            `re-run exit 0, day ${DAY1} equals a full load; stream meanwhile ${l.total} messages, vault ${sum(rows)} rows (FINAL) = expected; RSS ${clusterRss()}`,
        );
      } finally {
        if (stream.proc.exitCode === null && stream.proc.signalCode === null) stream.proc.kill('SIGKILL');
      }
    }, 900_000);
  });
});
