import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stack } from '../../helpers/stack.js';
import type { ArchiveResult } from '../../../src/lib/archive/index.js';
import { ARCHIVE_METRICS } from '../../../src/lib/observability/metric-names.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import { s3Lake } from '../lake/helpers.js';
import { PrivateKafka } from '../stream/private-kafka.js';
import {
  createTopics,
  encodeAll,
  freePort,
  makeChanges,
  metricSum,
  namespace,
  produce,
  testKafka,
} from '../stream/support.js';
import { lakeCounts, spawnCli, waitFor } from './helpers.js';

// The Kafka broker restarts while `archive` runs. The shared broker must stay up for the other
// suites, so this test runs its own (the stack's jars, ephemeral ports), stops it for a while
// during the load and starts it again on the same data. The archive waits, resumes, and the lake
// holds every change once. Its /metrics show the rows, files, commits and a lag back at 0.
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
const ns = namespace('abrk');
const broker = new PrivateKafka();
const topics = ns.router.allTopics();
const changes = makeChanges(8_000, 71);
const half = Math.floor(changes.length / 2);
const expected: Record<string, number> = {};
for (const c of changes) expected[c.table] = (expected[c.table] ?? 0) + 1;

beforeAll(async () => {
  await broker.init();
  await broker.start();
  await createTopics(testKafka(broker.brokers), topics, 2);
}, 300_000);

afterAll(async () => {
  await broker.destroy();
});

describe('archive: Kafka broker restart during a load', () => {
  it(
    'waits for the broker, resumes, and the lake holds every change once',
    { timeout: 420_000 },
    async () => {
      const lake = s3Lake('arch-brk');
      const kafka = testKafka(broker.brokers);
      await produce(kafka, encodeAll(changes.slice(0, half), ns.router, { light: true }), 4000);
      const port = await freePort();
      const child = spawnCli([
        'archive',
        '--kafka-brokers',
        broker.brokers.join(','),
        '--lake',
        lake,
        '--s3-endpoint',
        stack.s3Endpoint,
        '--postgres-topic-prefix',
        ns.router.prefixes.postgres,
        '--mongo-topic-prefix',
        ns.router.prefixes.mongo,
        '--group',
        ns.group,
        '--roll-seconds',
        '1',
        '--roll-mb',
        '1',
        '--metrics-port',
        String(port),
        '--json',
      ]);
      const rows = () => metricSum(port, ARCHIVE_METRICS.rows).catch(() => 0);
      const diagnose = (err: unknown) => {
        throw new Error(`${(err as Error).message}; archive stderr: ${child.stderr().slice(-3000)}`);
      };
      await waitFor('the first half in the lake', async () => (await rows()) >= half, 120_000).catch(
        diagnose,
      );

      await broker.stop();
      await new Promise((r) => setTimeout(r, 8000));
      expect(child.proc.exitCode).toBeNull();
      await broker.start();
      await produce(
        testKafka(broker.brokers),
        encodeAll(changes.slice(half), ns.router, { light: true }),
        4000,
      );
      await waitFor('every change in the lake', async () => (await rows()) >= changes.length, 150_000).catch(
        diagnose,
      );
      await waitFor(
        'lag 0',
        async () => (await metricSum(port, ARCHIVE_METRICS.lagMessages).catch(() => -1)) === 0,
        60_000,
      );
      expect(await metricSum(port, ARCHIVE_METRICS.lagSeconds)).toBe(0);
      const commits = await metricSum(port, ARCHIVE_METRICS.commits);
      const files = await metricSum(port, ARCHIVE_METRICS.files);
      expect(commits).toBeGreaterThanOrEqual(SOURCE_TABLES.length);
      expect(files).toBeGreaterThanOrEqual(commits / 2);

      child.proc.kill('SIGTERM');
      const { code } = await child.exited;
      expect(code, child.stderr().slice(-3000)).toBe(0);
      const r = JSON.parse(child.stdout()) as ArchiveResult;
      expect(Object.values(r.tables).reduce((n, t) => n + t.commits, 0)).toBe(commits);
      const counts = await lakeCounts(lake);
      for (const t of SOURCE_TABLES) {
        expect(counts[t]!.rows, t).toBe(expected[t] ?? 0);
        expect(counts[t]!.distinct, t).toBe(counts[t]!.rows);
      }
    },
  );
});
