import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base-command.js';
import { clickhouseFlags, connectFlags, kafkaFlags, lakeFlags, metricsHostFlag } from '../lib/cli/flags.js';
import { DependencyUnavailableError, InterruptedError, UsageError } from '../lib/errors/index.js';
import { createKafka } from '../lib/kafka/client.js';
import { plainText } from '../lib/top/format.js';
import { Sampler } from '../lib/top/sampler.js';
import type { TopSample } from '../lib/top/types.js';

export default class Top extends BaseCommand<typeof Top> {
  static override summary =
    'Terminal UI of consumer lag (offsets and seconds), throughput and connector state.';
  static override description = `Per consumer group and partition: committed and log-end offsets, lag in messages and in seconds (the age of the next unconsumed record), consume rate, and a status from Burrow's rules over a sliding window of samples (OK, WARN, STALLED, STOPPED, REWINDING). Beside it: Kafka Connect connector and task states, the stream's freshness and insert rate from its /metrics and, with a ClickHouse server URL, from ops.loads, and with a lake configured (SHOPDATA_LAKE, --lake or SHOPDATA_ICEBERG_CATALOG_URI) a lake line: the age of the tables' newest and oldest snapshots and how far archive is behind Kafka.

Keys: ↑/↓ or j/k select, enter expands a group, s cycles the sort, / filters, p pauses, q quits.
When stdout is not a terminal, or with --once, prints one sample (a table, or JSON with --json) and exits.`;
  static override examples = [
    '<%= config.bin %> top',
    '<%= config.bin %> top --group shopdata-stream --interval 1',
    '<%= config.bin %> top --once --json',
    '<%= config.bin %> top --once --samples 10 --interval 1 --json   # statuses need a window of samples',
    '<%= config.bin %> top --metrics-url http://127.0.0.1:9464/metrics',
  ];

  static override flags = {
    ...kafkaFlags,
    ...connectFlags,
    ...clickhouseFlags,
    ...lakeFlags,
    'ops-database': Flags.string({
      description: 'Database of the ops.loads table (tests use suffixed databases).',
      default: 'ops',
      hidden: true,
    }),
    'metrics-url': Flags.string({
      description:
        "URL of `shopdata stream`'s Prometheus /metrics, for freshness and insert rate (optional; default: http://127.0.0.1:<stream.metricsPort>/metrics when shopdata.yaml sets stream.metricsPort).",
    }),
    group: Flags.string({
      description: 'Only these consumer groups (repeatable or comma-separated; * is a wildcard).',
      multiple: true,
    }),
    interval: Flags.string({ description: 'Seconds between refreshes.', default: '2' }),
    window: Flags.integer({
      description: 'Samples in the status window (Burrow: intervals).',
      default: 10,
      min: 2,
    }),
    'metrics-port': Flags.integer({
      description:
        'Headless: serve consumer lag (messages and seconds) as Prometheus metrics on this port until SIGTERM, for the lag alerts (templates/prometheus/).',
      min: 0,
      max: 65535,
    }),
    ...metricsHostFlag,
    once: Flags.boolean({
      description: 'Print one sample and exit (implied when stdout is not a terminal).',
      default: false,
    }),
    samples: Flags.integer({
      description:
        'With --once: take this many samples, --interval apart, and print the last (rates and statuses need at least 2).',
      default: 1,
      min: 1,
    }),
  };

  public async run(): Promise<TopSample | void> {
    const intervalSeconds = Number(this.flags.interval);
    if (!Number.isFinite(intervalSeconds) || intervalSeconds < 0.2) {
      throw new UsageError(`--interval must be a number of seconds >= 0.2, got "${this.flags.interval}".`, {
        hint: 'For example --interval 1 or --interval 0.5.',
      });
    }
    const config = this.settings();
    const interactive =
      !this.flags.once &&
      !this.jsonEnabled() &&
      Boolean(process.stdout.isTTY) &&
      Boolean(process.stdin.isTTY);
    // kafkajs warnings on stderr would tear the full-screen view; the banner reports failures.
    const kafka = createKafka(config, interactive ? undefined : this.logger, {
      connectionTimeout: 3000,
      retry: { retries: 1, initialRetryTime: 200 },
    });
    const groups = (this.flags.group ?? [])
      .flatMap((g) => g.split(','))
      .map((g) => g.trim())
      .filter(Boolean);
    if (this.flags['metrics-port'] !== undefined) {
      return this.exportLag(kafka, groups, intervalSeconds);
    }
    const sampler = new Sampler({
      kafka,
      brokers: config.kafka.brokers,
      connectUrl: config.connect.url,
      metricsUrl:
        this.flags['metrics-url'] ??
        (config.stream.metricsPort ? `http://127.0.0.1:${config.stream.metricsPort}/metrics` : undefined),
      // A ClickHouse server adds freshness from ops.loads; the embedded chDB is left to its writer.
      clickhouseUrl: /^https?:\/\//.test(config.clickhouse.url) ? config.clickhouse.url : undefined,
      opsDatabase: this.flags['ops-database'],
      groups,
      intervalSeconds,
      windowSize: this.flags.window,
      lake: this.lakeConfigured()
        ? {
            open: async () => (await import('../lib/lake/index.js')).openConfiguredLake(config),
          }
        : undefined,
      logger: this.logger,
    });
    try {
      if (interactive) {
        const { runInteractive } = await import('../lib/top/app.js');
        await runInteractive(sampler, intervalSeconds * 1000, this.shutdownSignal());
        const signal = this.interruptedBy();
        if (signal) throw new InterruptedError(`top stopped by ${signal}.`);
        return;
      }
      let sample = await sampler.sample();
      for (let i = 1; i < this.flags.samples; i++) {
        await new Promise((r) => setTimeout(r, intervalSeconds * 1000));
        sample = await sampler.sample();
      }
      if (!sample.kafka.ok) {
        throw new DependencyUnavailableError('kafka', sample.kafka.error, {
          hint: 'Check SHOPDATA_KAFKA_BROKERS / --kafka-brokers and that the broker is up (scripts/stack/status).',
        });
      }
      if (!this.jsonEnabled()) this.log(plainText(sample));
      return sample;
    } finally {
      await sampler.close();
    }
  }

  /** A lake was given (flag, variable, shopdata.yaml) or a REST catalog: the embedded default is not shown. */
  private lakeConfigured(): boolean {
    const config = this.settings();
    const source = this.configSources()['lake.uri'];
    return Boolean(config.lake.catalog.uri) || (source !== undefined && source !== 'default');
  }

  /** `--metrics-port`: the lag exporter the lag alerts scrape; measures from outside the consumer. */
  private async exportLag(
    kafka: ReturnType<typeof createKafka>,
    groups: string[],
    intervalSeconds: number,
  ): Promise<void> {
    const { LagExporter } = await import('../lib/observability/lag-exporter.js');
    const exporter = new LagExporter({
      kafka,
      groups,
      intervalMs: intervalSeconds * 1000,
      logger: this.logger,
    });
    const signal = this.shutdownSignal();
    try {
      const port = await exporter.serve(this.flags['metrics-port']!, this.flags['metrics-host']);
      exporter.start();
      this.logger.info({ port }, 'top: serving consumer lag on /metrics until SIGTERM');
      await new Promise<void>((resolve) =>
        signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    } finally {
      await exporter.close();
    }
    if (this.interruptedBy() === 'SIGINT')
      throw new InterruptedError('top --metrics-port stopped by SIGINT.');
  }
}
