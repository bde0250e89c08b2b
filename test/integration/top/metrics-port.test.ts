import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';
import { LAG_METRICS } from '../../../src/lib/observability/metric-names.js';
import { createTopicsReady } from '../../helpers/kafka.js';

// `shopdata top --metrics-port N`: the headless lag exporter the lag alerts scrape.
const kafka = new Kafka({
  clientId: 'top-metrics-test',
  brokers: [...stack.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
const topic = uniqueName('top_metrics');
const group = uniqueName('top_metrics_group');
const admin = kafka.admin();

afterAll(async () => {
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('top --metrics-port', () => {
  it('serves the lag of a group that is behind, and exits 0 on SIGTERM', async () => {
    await admin.connect();
    await createTopicsReady(admin, [{ topic, numPartitions: 1 }]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 25 }, (_, i) => ({ value: `m${i}` })) });
    await producer.disconnect();
    // The group committed 5 of 25: 20 behind.
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '5' }] });

    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        `${REPO_ROOT}bin/run.js`,
        'top',
        '--metrics-port',
        String(port),
        '--metrics-host',
        '127.0.0.1',
        '--group',
        group,
        '--interval',
        '0.5',
      ],
      {
        env: { ...process.env, SHOPDATA_KAFKA_BROKERS: stack.kafkaBrokers.join(',') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      let body = '';
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        body = await fetch(`http://127.0.0.1:${port}/metrics`)
          .then((r) => r.text())
          .catch(() => '');
        if (body.includes(`${LAG_METRICS.lagMessages}{group="${group}"`)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const line = body.split('\n').find((l) => l.startsWith(`${LAG_METRICS.lagMessages}{group="${group}"`));
      expect(line, stderr.slice(-1500)).toBeDefined();
      expect(Number(line!.split(' ').pop())).toBe(20);
      expect(body).toContain(`${LAG_METRICS.lagSeconds}{group="${group}"`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
