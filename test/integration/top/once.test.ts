import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';
import type { TopSample } from '../../../src/lib/top/types.js';
import { createTopicsReady } from '../../helpers/kafka.js';

// Needs `npm run build` and the stack's Kafka and Connect (scripts/stack/up kafka connect).
const execFileAsync = promisify(execFile);
const kafka = new Kafka({
  clientId: 'top-once-test',
  brokers: [...stack.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
const env = {
  SHOPDATA_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
  SHOPDATA_CONNECT_URL: stack.connectUrl,
  SHOPDATA_LOG_LEVEL: 'warn',
};

interface DescribeRow {
  topic: string;
  partition: number;
  current: number | null;
  end: number;
  lag: number | null;
}

/** `kafka-consumer-groups --describe` through the stack's Kafka tools, parsed. */
async function describeGroup(group: string): Promise<DescribeRow[]> {
  const { stdout } = await execFileAsync(
    `${REPO_ROOT}scripts/stack/kafka-tool`,
    ['consumer-groups', '-b', '--describe', '--group', group],
    {
      timeout: 120_000,
    },
  );
  const lines = stdout.split('\n').filter((l) => l.trim());
  const head = lines.findIndex((l) => /^GROUP\s+TOPIC\s+PARTITION/.test(l));
  if (head < 0) throw new Error(`unexpected kafka-consumer-groups output:\n${stdout}`);
  const cols = lines[head]!.trim().split(/\s+/);
  const idx = (c: string) => cols.indexOf(c);
  return lines.slice(head + 1).map((l) => {
    const f = l.trim().split(/\s+/);
    const num = (c: string) => (f[idx(c)] === '-' ? null : Number(f[idx(c)]));
    return {
      topic: f[idx('TOPIC')]!,
      partition: Number(f[idx('PARTITION')]),
      current: num('CURRENT-OFFSET'),
      end: Number(f[idx('LOG-END-OFFSET')]),
      lag: num('LAG'),
    };
  });
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('shopdata top --once against the real Kafka', () => {
  let admin: Admin;
  const topic = uniqueName('top_once');
  const group = `${topic}_g`;
  const ageMs = 90_000;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await createTopicsReady(admin, [{ topic, numPartitions: 3 }]);
    const producer = kafka.producer();
    await producer.connect();
    // Records written "90 s ago" (CreateTime), so lag in seconds has a known floor.
    const ts = String(Date.now() - ageMs);
    await producer.send({
      topic,
      messages: Array.from({ length: 60 }, (_, i) => ({
        key: `k${i}`,
        value: `v${i}`,
        partition: i % 3,
        timestamp: ts,
      })),
    });
    await producer.disconnect();
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: [
        { partition: 0, offset: '3' },
        { partition: 1, offset: '20' },
        { partition: 2, offset: '11' },
      ],
    });
  });

  afterAll(async () => {
    await admin.deleteGroups([group]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('--once --json offsets and lag match kafka-consumer-groups --describe', async () => {
    const [r, described] = await Promise.all([
      runCli(['top', '--once', '--json', '--group', group], { env }),
      describeGroup(group),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const sample = JSON.parse(r.stdout) as TopSample;
    expect(sample.kafka.ok).toBe(true);
    if (!sample.kafka.ok) return;
    expect(sample.kafka.groups.map((g) => g.groupId)).toEqual([group]);
    const g = sample.kafka.groups[0]!;
    expect(described).toHaveLength(3);
    for (const d of described) {
      const p = g.partitions.find((x) => x.topic === d.topic && x.partition === d.partition);
      expect(p, `${d.topic}[${d.partition}]`).toBeDefined();
      expect({ current: p!.committed, end: p!.end, lag: p!.lag }).toEqual({
        current: d.current,
        end: d.end,
        lag: d.lag,
      });
    }
    expect(g.totalLag).toBe(described.reduce((s, d) => s + (d.lag ?? 0), 0));
    // Lag in seconds from the record at each committed offset (all written ~90 s ago).
    for (const p of g.partitions.filter((x) => x.lag! > 0)) {
      expect(p.lagSecondsSource).toBe('record');
      expect(p.lagSeconds!).toBeGreaterThanOrEqual(ageMs / 1000);
      expect(p.lagSeconds!).toBeLessThan(ageMs / 1000 + 60);
    }
    expect(g.partitions.find((x) => x.partition === 1)).toMatchObject({
      lag: 0,
      lagSeconds: 0,
      lagSecondsSource: 'caught-up',
    });
    expect(g.state).toBe('Empty');
    // Connect was reachable: its section is present (whatever connectors others run).
    expect(sample.connect.ok).toBe(true);
  });

  it('two groups at different offsets of one partition both get lag in seconds from records', async () => {
    const group2 = `${topic}_g2`;
    await admin.setOffsets({
      groupId: group2,
      topic,
      partitions: [0, 1, 2].map((partition) => ({ partition, offset: String(partition + 1) })),
    });
    try {
      const r = await runCli(['top', '--once', '--json', '--group', `${group},${group2}`], { env });
      expect(r.code, r.stderr).toBe(0);
      const sample = JSON.parse(r.stdout) as TopSample;
      if (!sample.kafka.ok) throw new Error(sample.kafka.error);
      expect(sample.kafka.groups.map((g) => g.groupId).sort()).toEqual([group, group2].sort());
      for (const g of sample.kafka.groups) {
        for (const p of g.partitions.filter((x) => x.lag! > 0))
          expect(p.lagSecondsSource, `${g.groupId} ${p.partition}`).toBe('record');
      }
    } finally {
      await admin.deleteGroups([group2]).catch(() => undefined);
    }
  });

  it('without a TTY and without --once, prints one plain table and exits 0', async () => {
    const r = await runCli(['top', '--group', group], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG/);
    expect(r.stdout).toMatch(new RegExp(`${group}\\s+${topic}\\s+1\\s+20\\s+20\\s+0\\s`));
    expect(r.stdout).toMatch(new RegExp(`${group}\\s+${topic}\\s+0\\s+3\\s+20\\s+17\\s`));
  });

  it('--samples 3 gives rates; a committed group without members is judged on its window', async () => {
    const r = await runCli(
      ['top', '--once', '--json', '--group', group, '--samples', '3', '--interval', '0.5', '--window', '2'],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const sample = JSON.parse(r.stdout) as TopSample;
    if (!sample.kafka.ok) throw new Error(sample.kafka.error);
    const g = sample.kafka.groups[0]!;
    expect(g.consumeRate).toBe(0);
    expect(g.rateHistory).toEqual([0, 0]);
    // No member and no progress over a full window while lag remains: Burrow's STOPPED.
    expect(g.status).toBe('STOPPED');
    expect(g.partitions.find((p) => p.partition === 1)!.status).toBe('OK');
  });

  it('a group pattern selects by wildcard; Connect credentials in the URL are used and masked', async () => {
    const url = stack.connectUrl.replace('http://', 'http://top-user:s3cret-pw@');
    const r = await runCli(
      ['top', '--once', '--json', '--group', `${topic.slice(0, -4)}*_g`, '--connect-url', url],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('s3cret-pw');
    const sample = JSON.parse(r.stdout) as TopSample;
    if (!sample.kafka.ok || !sample.connect.ok) throw new Error(JSON.stringify(sample));
    expect(sample.kafka.groups.map((g) => g.groupId)).toContain(group);
    expect(sample.connect.url).toBe(stack.connectUrl.replace('http://', 'http://top-user:***@'));
  });

  it('Connect down: the sample says so and the Kafka part still works', async () => {
    const port = await closedPort();
    const r = await runCli(
      ['top', '--once', '--json', '--group', group, '--connect-url', `http://127.0.0.1:${port}`],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const sample = JSON.parse(r.stdout) as TopSample;
    expect(sample.kafka.ok).toBe(true);
    expect(sample.connect.ok).toBe(false);
    if (!sample.connect.ok)
      expect(sample.connect.error).toMatch(
        new RegExp(`Kafka Connect unreachable at http://127\\.0\\.0\\.1:${port}.*ECONNREFUSED`),
      );
  });

  it('Kafka unreachable: exit 3 with the reason in the JSON error', async () => {
    const r = await runCli(
      ['top', '--once', '--json', '--kafka-brokers', `127.0.0.1:${await closedPort()}`],
      { env, timeoutMs: 60_000 },
    );
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } };
    expect(out.error.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(out.error.message).toMatch(/Kafka unreachable at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(out.error.hint).toMatch(/SHOPDATA_KAFKA_BROKERS/);
  });
});
