import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveMetrics, StreamMetrics } from '../../../src/lib/observability/metrics.js';
import { runCli } from '../../helpers/cli.js';
import { stack } from '../../helpers/stack.js';
import type { TopSample } from '../../../src/lib/top/types.js';

// The stream's own metrics endpoint (src/lib/metrics, the code `shopdata stream --metrics-port`
// runs) read by the built `shopdata top --metrics-url`: the names and units both sides agree on.
describe('shopdata top reads the stream /metrics', () => {
  const metrics = new StreamMetrics({ processMetrics: false });
  let server: Awaited<ReturnType<typeof serveMetrics>>;
  const env = {
    SHOPDATA_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    SHOPDATA_CONNECT_URL: '',
    SHOPDATA_LOG_LEVEL: 'warn',
  };

  beforeAll(async () => {
    server = await serveMetrics(metrics, 0, '127.0.0.1');
  });
  afterAll(async () => {
    await server.close();
  });

  it('freshness from the newest event time, latency, and the insert rate between samples', async () => {
    const newest = Date.now() / 1000 - 42;
    metrics.lastEventTimestamp.set({ topic: 'shop.public.users' }, newest - 100);
    metrics.lastEventTimestamp.set({ topic: 'shopev.shop_events.purchases' }, newest);
    metrics.freshness.set({ table: 'users' }, 1.5);
    metrics.rowsInserted.inc({ table: 'hub_user' }, 1000);
    // Rows keep arriving while top takes its two samples 1 s apart: 600 rows/s.
    const timer = setInterval(() => metrics.rowsInserted.inc({ table: 'sat_user' }, 60), 100);
    const r = await runCli(
      [
        'top',
        '--once',
        '--json',
        '--samples',
        '2',
        '--interval',
        '1',
        '--group',
        'no-such-group',
        '--metrics-url',
        `http://127.0.0.1:${server.port}/metrics`,
      ],
      { env },
    ).finally(() => clearInterval(timer));
    expect(r.code, r.stderr).toBe(0);
    const sample = JSON.parse(r.stdout) as TopSample;
    if (!sample.stream.ok) throw new Error(sample.stream.error);
    expect(sample.stream.freshnessSeconds!).toBeGreaterThanOrEqual(42);
    expect(sample.stream.freshnessSeconds!).toBeLessThan(60);
    expect(sample.stream.latencySeconds).toBe(1.5);
    expect(sample.stream.insertedTotal!).toBeGreaterThan(1000);
    // Timer jitter on busy cores: the rate is near 600/s, not exact.
    expect(sample.stream.insertRate!).toBeGreaterThan(300);
    expect(sample.stream.insertRate!).toBeLessThan(900);
    expect(sample.stream.metricNames).toEqual([
      'shopdata_stream_freshness_seconds',
      'shopdata_stream_last_event_timestamp_seconds',
      'shopdata_stream_rows_inserted_total',
    ]);
  });

  it('the stream gone: the sample says so, Kafka figures still come', async () => {
    const gone = new StreamMetrics({ processMetrics: false });
    const s = await serveMetrics(gone, 0, '127.0.0.1');
    const port = s.port;
    await s.close();
    const r = await runCli(
      [
        'top',
        '--once',
        '--json',
        '--group',
        'no-such-group',
        '--metrics-url',
        `http://127.0.0.1:${port}/metrics`,
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const sample = JSON.parse(r.stdout) as TopSample;
    expect(sample.kafka.ok).toBe(true);
    expect(sample.stream.ok).toBe(false);
    if (!sample.stream.ok)
      expect(sample.stream.error).toMatch(
        new RegExp(`stream metrics unreachable at http://127\\.0\\.0\\.1:${port}/metrics.*ECONNREFUSED`),
      );
  });
});
