import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stack } from '../../helpers/stack.js';
import type { ArchiveResult } from '../../../src/lib/archive/index.js';
import type { LakeStatusResult } from '../../../src/lib/lake/status.js';
import type { TopSample } from '../../../src/lib/top/types.js';
import { runCli } from '../../helpers/cli.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import { s3Lake } from '../lake/helpers.js';
import {
  createTopics,
  deleteTopics,
  encodeAll,
  makeChanges,
  namespace,
  produce,
  testKafka,
} from '../stream/support.js';
import { lakeCounts, snapshotCount, spawnCli, waitFor } from './helpers.js';

// `archive` from the shared Kafka into an S3 lake: kill -9 in the middle of a load, then a
// restart; a new consumer group re-reading every message; a fresh lake behind a group that is
// already at the end. Counted with pyiceberg by table, key and __ts: every change exactly once.
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
const ns = namespace('arch');
const topics = ns.router.allTopics();
const changes = makeChanges(12_000, 23);
const expected: Record<string, number> = {};
for (const c of changes) expected[c.table] = (expected[c.table] ?? 0) + 1;
let messages = 0;

function archiveArgs(lake: string, group: string, extra: string[] = []): string[] {
  return [
    'archive',
    '--kafka-brokers',
    stack.kafkaBrokers.join(','),
    '--lake',
    lake,
    '--s3-endpoint',
    stack.s3Endpoint,
    '--postgres-topic-prefix',
    ns.router.prefixes.postgres,
    '--mongo-topic-prefix',
    ns.router.prefixes.mongo,
    '--group',
    group,
    '--dlq-topic',
    ns.dlqTopic,
    ...extra,
  ];
}

beforeAll(async () => {
  const kafka = testKafka();
  await createTopics(kafka, topics, 2);
  const encoded = encodeAll(changes, ns.router, { light: true });
  messages = encoded.length;
  await produce(kafka, encoded, 4000);
}, 300_000);

afterAll(async () => {
  await deleteTopics(testKafka(), topics);
});

function expectExactlyOnce(counts: Record<string, { rows: number; distinct: number }>): void {
  for (const t of SOURCE_TABLES) {
    expect(counts[t]!.rows, t).toBe(expected[t] ?? 0);
    expect(counts[t]!.distinct, t).toBe(counts[t]!.rows);
  }
}

describe('archive from Kafka, exactly once', () => {
  const lake = s3Lake('arch-kafka');

  it('kill -9 in the middle of a load, then a restart: every change once', { timeout: 420_000 }, async () => {
    // Small rolls: many commits, so the kill lands between commits (and inside one).
    const roll = ['--roll-mb', '1', '--roll-seconds', '2', '--max-buffer-mb', '2'];
    for (let kill = 0; kill < 2; kill++) {
      const before = await snapshotCount(lake);
      const child = spawnCli(archiveArgs(lake, ns.group, roll));
      // Killed right after a commit landed: the rest is held in memory or not read yet.
      await waitFor('a new commit', async () => (await snapshotCount(lake)) > before, 120_000);
      child.proc.kill('SIGKILL');
      const { signal } = await child.exited;
      expect(signal).toBe('SIGKILL');
    }
    const partial = await lakeCounts(lake);
    const partialRows = Object.values(partial).reduce((n, c) => n + c.rows, 0);
    expect(partialRows).toBeGreaterThan(0);
    expect(partialRows).toBeLessThan(changes.length);
    for (const c of Object.values(partial)) expect(c.distinct).toBe(c.rows);

    const done = spawnCli(archiveArgs(lake, ns.group, [...roll, '--until-idle', '--json']));
    const { code } = await done.exited;
    expect(code, done.stderr().slice(-3000)).toBe(0);
    const r = JSON.parse(done.stdout()) as ArchiveResult;
    expect(r.stoppedBy).toBe('idle');
    expectExactlyOnce(await lakeCounts(lake));
    // The lake holds every partition up to its end: the tombstones at the end included.
    const total = Object.values(r.offsets).reduce((n, o) => n + Number(o), 0);
    expect(total).toBe(messages);
  });

  it('a new group re-reads every message: all are known to the lake, nothing is added', async () => {
    const child = spawnCli(archiveArgs(lake, `${ns.group}-again`, ['--until-idle', '--json']));
    const { code } = await child.exited;
    expect(code, child.stderr().slice(-3000)).toBe(0);
    const r = JSON.parse(child.stdout()) as ArchiveResult;
    expect(r.tables).toEqual({});
    expect(Object.values(r.topics).reduce((n, c) => n + c.duplicates, 0)).toBe(messages);
    expectExactlyOnce(await lakeCounts(lake));
  });

  it(
    'a fresh lake behind a group that is at the end: the group is moved back, nothing is skipped',
    { timeout: 300_000 },
    async () => {
      const fresh = s3Lake('arch-fresh');
      const child = spawnCli(archiveArgs(fresh, ns.group, ['--until-idle', '--json']));
      const { code } = await child.exited;
      expect(code, child.stderr().slice(-3000)).toBe(0);
      expect(child.stderr()).toContain('moved the consumer group to the lake positions');
      expectExactlyOnce(await lakeCounts(fresh));
    },
  );

  it('lake status: offsets covered, rows per day, lag 0; then new messages show up as lag', async () => {
    const args = [
      'lake',
      'status',
      '--lake',
      lake,
      '--s3-endpoint',
      stack.s3Endpoint,
      '--kafka-brokers',
      stack.kafkaBrokers.join(','),
      '--postgres-topic-prefix',
      ns.router.prefixes.postgres,
      '--mongo-topic-prefix',
      ns.router.prefixes.mongo,
      '--until',
      '2026-12-31',
      '--days',
      '60',
      '--json',
    ];
    const env = {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      SHOPDATA_ICEBERG_CATALOG_URI: undefined,
    };
    const r = await runCli(args, { env });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const status = JSON.parse(r.stdout) as LakeStatusResult;
    for (const t of status.tables) {
      expect(t.writer, t.table).toBe('archive');
      expect(
        t.days.reduce((n, d) => n + d.rows, 0),
        t.table,
      ).toBe(expected[t.table] ?? 0);
      expect(t.partitions.length, t.table).toBe(2);
      for (const p of t.partitions) {
        expect(p.covered, `${p.topic}/${p.partition}`).toBe(p.end);
        expect(p.lag).toBe(0);
        expect(p.lagSeconds).toBe(0);
      }
    }
    // Five more user changes in Kafka, not archived yet: the lake is five messages behind.
    const more = makeChanges(200, 99)
      .filter((c) => c.table === 'users' && c.op !== 'd')
      .slice(0, 5);
    await produce(testKafka(), encodeAll(more, ns.router), 10);
    await new Promise((res) => setTimeout(res, 1500));
    const r2 = await runCli(args, { env });
    expect(r2.code, r2.stderr.slice(-2000)).toBe(0);
    const users = (JSON.parse(r2.stdout) as LakeStatusResult).tables.find((t) => t.table === 'users')!;
    expect(users.lag).toBe(5);
    expect(users.lagSeconds).toBeGreaterThanOrEqual(1);
    expect(users.lagSeconds).toBeLessThan(600);

    // top's lake line says the same: seven tables, the lake five messages behind.
    const top = await runCli(
      [
        'top',
        '--once',
        '--json',
        '--lake',
        lake,
        '--s3-endpoint',
        stack.s3Endpoint,
        '--kafka-brokers',
        stack.kafkaBrokers.join(','),
      ],
      { env },
    );
    expect(top.code, top.stderr.slice(-2000)).toBe(0);
    const sample = JSON.parse(top.stdout) as TopSample;
    expect(sample.lake?.ok, JSON.stringify(sample.lake)).toBe(true);
    if (!sample.lake?.ok) return;
    expect(sample.lake.tables).toBe(SOURCE_TABLES.length);
    expect(sample.lake.lag).toBe(5);
    expect(sample.lake.lagSeconds).toBeGreaterThanOrEqual(1);
    expect(sample.lake.newestCommitSeconds).toBeGreaterThanOrEqual(0);
    expect(sample.lake.oldestCommitSeconds).toBeGreaterThanOrEqual(sample.lake.newestCommitSeconds!);
  });
});
