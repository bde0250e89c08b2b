import type { Kafka } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import { KafkaLagSource, LagCalculator, type GroupLag } from '../kafka/lag.js';
import type { Logger } from '../log/index.js';
import { LAG_METRICS } from './metric-names.js';
import { LagGauges, serveMetrics } from './metrics.js';

export interface LagExporterOptions {
  kafka: Kafka;
  /** Group ids (`*` wildcards, as in `top --group`); empty: every consumer group. */
  groups: string[];
  /** Sampling period; Prometheus scrapes the last sample. Default 5 s. */
  intervalMs?: number;
  logger?: Logger | undefined;
}

/**
 * Consumer-group lag measured from outside the consumer (src/lib/kafka/lag.ts: committed vs.
 * log-end offsets and the age of the oldest unconsumed record) as Prometheus gauges. Unlike the
 * stream's own metrics it keeps reporting while `stream` is down, which is what the lag and
 * "stopped consuming" alerts need. Runs as `shopdata top --metrics-port N` (headless).
 */
export class LagExporter {
  readonly registry = new Registry();
  private readonly gauges = new LagGauges(this.registry);
  private readonly source: KafkaLagSource;
  private readonly lag = new LagCalculator();
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private server: { close(): Promise<void> } | undefined;

  private readonly up = new Gauge({
    name: LAG_METRICS.exporterKafkaUp,
    help: '1 when the last sample read Kafka, 0 when it failed (the lag gauges then keep their last values).',
    registers: [this.registry],
  });

  constructor(private readonly opts: LagExporterOptions) {
    this.source = new KafkaLagSource(opts.kafka, {
      groups: opts.groups,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }

  /** Reads Kafka once and replaces the gauges with what it saw. */
  async sample(): Promise<GroupLag[]> {
    try {
      const groups = this.lag.update(await this.source.poll());
      const { messages, seconds, committed } = this.gauges;
      for (const g of [messages, seconds, committed]) g.reset();
      for (const { group, partitions } of groups) {
        for (const p of partitions) {
          const labels = { group: group.groupId, topic: p.topic, partition: String(p.partition) };
          if (p.lagSeconds !== null) seconds.set(labels, p.lagSeconds);
          if (p.lag !== null) messages.set(labels, p.lag);
          if (p.committed !== null) committed.set(labels, p.committed);
        }
      }
      this.up.set(1);
      return groups;
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
    const server = await serveMetrics(this, port, host);
    server.server.ref(); // the exporter's process lives for this server
    this.server = server;
    return server.port;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
    await this.server?.close();
    this.server = undefined;
    await this.source.close();
  }
}
