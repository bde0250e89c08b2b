import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LAG_METRICS, STREAM_METRICS } from './metric-names.js';

/**
 * The Prometheus metrics shopdata serves, defined once, and the one `/metrics` server: `stream
 * --metrics-port` serves StreamMetrics, `top --metrics-port` the lag exporter's LagGauges. Each
 * process has a registry of its own (no global state, so tests can run several in one process).
 * The names the alert rules, the dashboard and `top` rely on come from metric-names.ts.
 */

type LagLabels = 'group' | 'topic' | 'partition';

/**
 * Consumer lag by group, topic and partition (computed by src/lib/kafka/lag.ts). The stream sets
 * them for its own partitions; the lag exporter for every group, from outside the consumer.
 */
export class LagGauges {
  readonly messages: Gauge<LagLabels>;
  readonly seconds: Gauge<LagLabels>;
  readonly committed: Gauge<LagLabels>;

  constructor(registry: Registry) {
    const labelNames = ['group', 'topic', 'partition'] as const;
    this.messages = new Gauge({
      name: LAG_METRICS.lagMessages,
      help: "Log-end offset minus the group's committed offset, by group, topic and partition.",
      labelNames,
      registers: [registry],
    });
    this.seconds = new Gauge({
      name: LAG_METRICS.lagSeconds,
      help: 'Age in seconds of the oldest unconsumed record (0 when caught up), by group, topic and partition.',
      labelNames,
      registers: [registry],
    });
    this.committed = new Gauge({
      name: LAG_METRICS.committedOffset,
      help: "The group's committed offset (everything before it is in ClickHouse), by group, topic and partition.",
      labelNames,
      registers: [registry],
    });
  }
}

/** The metrics of `shopdata stream`. */
export class StreamMetrics {
  readonly registry = new Registry();

  /** Messages taken from Kafka (or the replay file), tombstones and dead letters included. */
  readonly eventsConsumed = new Counter({
    name: STREAM_METRICS.eventsConsumed,
    help: 'Events consumed (loaded, tombstones skipped and dead-lettered), by topic.',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });

  /** What became of them. */
  readonly events = new Counter({
    name: STREAM_METRICS.events,
    help: 'Events consumed, by topic and outcome (loaded, skipped = tombstone, dlq).',
    labelNames: ['topic', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly rowsInserted = new Counter({
    name: STREAM_METRICS.rowsInserted,
    help: 'Vault rows ClickHouse confirmed, by vault table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });

  readonly dlq = new Counter({
    name: STREAM_METRICS.dlqEvents,
    help: 'Events sent to the dead-letter topic (or rejects file), by source topic and reason.',
    labelNames: ['topic', 'reason'] as const,
    registers: [this.registry],
  });

  readonly batches = new Counter({
    name: STREAM_METRICS.batches,
    help: 'Batches loaded (vault insert confirmed, dead letters written) and committed.',
    registers: [this.registry],
  });

  readonly batchSeconds = new Histogram({
    name: STREAM_METRICS.batchDuration,
    help: 'Time to map, insert and dead-letter one batch, until ClickHouse confirmed it.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly lastEventTimestamp = new Gauge({
    name: STREAM_METRICS.lastEventTimestamp,
    help: 'Source commit time (epoch seconds) of the newest event loaded, by topic.',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });

  readonly lastBatchTimestamp = new Gauge({
    name: STREAM_METRICS.lastBatchTimestamp,
    help: 'Wall time (epoch seconds) of the last committed batch.',
    registers: [this.registry],
  });

  readonly batchEvents = new Histogram({
    name: STREAM_METRICS.batchEvents,
    help: 'Messages per batch.',
    buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000],
    registers: [this.registry],
  });

  readonly lagGauges = new LagGauges(this.registry);
  /** Messages behind on this member's partitions. */
  readonly lag = this.lagGauges.messages;
  /** The next offset this member committed per partition. */
  readonly committedOffset = this.lagGauges.committed;

  readonly freshness = new Gauge({
    name: STREAM_METRICS.freshness,
    help: 'Seconds from the source commit of the newest change in the last batch to ClickHouse confirming it, by source table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });

  readonly warehouseUp = new Gauge({
    name: STREAM_METRICS.warehouseUp,
    help: '1 while ClickHouse accepts inserts, 0 while the stream waits for it (consumption paused).',
    registers: [this.registry],
  });

  /** Set by the stream: messages read but not yet committed (the batch gathering plus the one in flight). */
  bufferedSource: () => number = () => 0;

  readonly buffered = new Gauge({
    name: STREAM_METRICS.bufferedEvents,
    help: 'Events read but not yet confirmed by ClickHouse; bounded (about two batches) because fetching pauses while an insert waits.',
    registers: [this.registry],
    collect: () => {
      this.buffered.set(this.bufferedSource());
    },
  });

  readonly retries = new Counter({
    name: STREAM_METRICS.retries,
    help: 'Retried operations, by dependency (clickhouse, kafka).',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'shopdata_stream_' });
    this.warehouseUp.set(1);
  }
}

/**
 * Serves `GET /metrics` (and `/healthz`) of a registry on host:port; returns the bound port and a
 * closer. Loopback unless told otherwise (--metrics-host / SHOPDATA_METRICS_HOST).
 */
export async function serveMetrics(
  metrics: { readonly registry: Registry },
  port: number,
  host = '127.0.0.1',
): Promise<{ port: number; close: () => Promise<void>; server: Server }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        });
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('see /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
