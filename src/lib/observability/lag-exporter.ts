import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kafka } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import type { Logger } from '../log/index.js';
import { KafkaSource } from '../top/kafka-source.js';
import { LagTracker } from '../top/tracker.js';
import type { GroupView } from '../top/types.js';
import { LAG_METRICS } from './metric-names.js';

export interface LagExporterOptions {
  kafka: Kafka;
  /** Group ids (`*` wildcards, as in `top --group`); empty: every consumer group. */
  groups: string[];
  /** Sampling period; Prometheus scrapes the last sample. Default 5 s. */
  intervalMs?: number;
  logger?: Logger | undefined;
}

/**
 * Consumer-group lag measured from outside the consumer — committed vs. log-end offsets and the age
 * of the oldest unconsumed record (what `top` computes) — as Prometheus gauges. Unlike the
 * stream's own metrics it keeps reporting while `stream` is down, which is what the lag and
 * "stopped consuming" alerts need. Meant to run as `shopdata top --metrics-port N` (headless) or
 * inside any long-running process.
 */
export class LagExporter {
  readonly registry = new Registry();
  private readonly source: KafkaSource;
  private readonly tracker = new LagTracker({ windowSize: 10, historySize: 2 });
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private server: Server | undefined;

  private readonly lagSeconds = new Gauge({
    name: LAG_METRICS.lagSeconds,
    help: 'Age in seconds of the oldest unconsumed record (0 when caught up), by group, topic and partition.',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [this.registry],
  });
  private readonly lagMessages = new Gauge({
    name: LAG_METRICS.lagMessages,
    help: 'Log-end offset minus committed offset, by group, topic and partition.',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [this.registry],
  });
  private readonly committed = new Gauge({
    name: LAG_METRICS.committedOffset,
    help: "The group's committed offset, by group, topic and partition.",
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [this.registry],
  });
  private readonly up = new Gauge({
    name: 'shopdata_lag_exporter_kafka_up',
    help: '1 when the last sample read Kafka, 0 when it failed (the lag gauges then keep their last values).',
    registers: [this.registry],
  });

  constructor(private readonly opts: LagExporterOptions) {
    this.source = new KafkaSource(opts.kafka, {
      groups: opts.groups,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }

  /** Reads Kafka once and replaces the gauges with what it saw. */
  async sample(): Promise<GroupView[]> {
    try {
      const views = this.tracker.update(await this.source.poll());
      this.lagSeconds.reset();
      this.lagMessages.reset();
      this.committed.reset();
      for (const g of views) {
        for (const p of g.partitions) {
          const labels = { group: g.groupId, topic: p.topic, partition: String(p.partition) };
          if (p.lagSeconds !== null) this.lagSeconds.set(labels, p.lagSeconds);
          if (p.lag !== null) this.lagMessages.set(labels, p.lag);
          if (p.committed !== null) this.committed.set(labels, p.committed);
        }
      }
      this.up.set(1);
      return views;
    } catch (e) {
      this.up.set(0);
      this.opts.logger?.warn(
        { 'event.action': 'lag-sample', 'error.message': (e as Error).message },
        'could not read consumer lag from Kafka; retrying',
      );
      return [];
    }
  }

  /** Samples every `intervalMs` until `close()`. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.sampling = this.sample().then(() => undefined);
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 5000);
  }

  /** Serves GET /metrics on host:port (port 0: any free port; host: loopback unless told); returns the bound port. */
  async serve(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((req, res) => {
      if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
        this.registry
          .metrics()
          .then((body) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(body);
          })
          .catch((e: unknown) => {
            res.writeHead(500).end(String(e));
          });
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, resolve);
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
    if (this.server) await new Promise((r) => this.server!.close(r));
    this.server = undefined;
    await this.source.close();
  }
}
