import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base-command.js';
import { clickhouseFlags, kafkaFlags, metricsHostFlag } from '../lib/cli/flags.js';
import { DEFAULT_TOPIC_PREFIXES, TopicRouter } from '../lib/debezium/topics.js';
import { InterruptedError, UsageError } from '../lib/errors/index.js';
import { runStream, type StreamResult } from '../lib/stream/index.js';
import { DEFAULT_MAX_LINE_BYTES } from '../lib/stream/file-runner.js';
import { databasesFor, dbSuffixFlag } from '../lib/warehouse/migrations/flags.js';

export default class Stream extends BaseCommand<typeof Stream> {
  static override summary = 'Consume the Debezium topics and load the Data Vault.';
  static override description = `Reads the Debezium change events of the shop (PostgreSQL: shop.public.<table>, MongoDB: shopev.shop_events.<collection>) as a Kafka consumer group, maps them with the vault mapping and inserts them into ClickHouse. A partition's offset is committed only after ClickHouse confirmed every row before it; after a crash or rebalance the redelivered rows collapse in the vault tables. Events that cannot be decoded or mapped go to the dead-letter topic with the reason and their source topic/partition/offset in headers. While ClickHouse is down the stream stops fetching and retries with backoff.

--from-file replays captured events (JSON lines: {"topic","partition","offset","key","value"} or kcat -C -J output); rejects go to FILE.rejects.jsonl (mode 0600, without password_hash; it holds source data, as the dead-letter topic does). Several stream processes with the same --group share the partitions.

SIGTERM stops fetching, flushes, commits and exits 0; SIGINT does the same and exits 130.`;
  static override examples = [
    '<%= config.bin %> stream --kafka-brokers localhost:9092 --clickhouse-url http://localhost:8123',
    '<%= config.bin %> stream --from-file events.jsonl --until-idle',
    '<%= config.bin %> stream --until-idle --json   # catch up, print counts and offsets, exit (cron, Airflow)',
    '<%= config.bin %> stream --metrics-port 9464 --group shopdata-stream',
  ];

  static override flags = {
    ...kafkaFlags,
    ...clickhouseFlags,
    'from-file': Flags.string({ description: 'Replay events from a JSON-lines file instead of Kafka.' }),
    'max-line-bytes': Flags.integer({
      description:
        'With --from-file: longest line read, in bytes; a longer line is rejected unread (reason line-too-long).',
      env: 'SHOPDATA_STREAM_MAX_LINE_BYTES',
      default: DEFAULT_MAX_LINE_BYTES,
      min: 1024,
    }),
    'dry-run': Flags.boolean({
      description:
        'Decode and map every event and report what would load; insert nothing, write no dead letter, commit nothing for the real group (Kafka: a throwaway group reads until idle).',
      default: false,
    }),
    'until-idle': Flags.boolean({
      description:
        'Stop once caught up: every assigned partition committed up to its high watermark (with --from-file: at end of file).',
      default: false,
    }),
    'idle-ms': Flags.integer({
      description: 'With --until-idle: how long no new message must arrive before stopping.',
      default: 2000,
      min: 0,
    }),
    topics: Flags.string({
      description:
        'Comma-separated topics (default: the contract topics under the topic prefixes; SHOPDATA_STREAM_TOPICS).',
    }),
    group: Flags.string({
      description: 'Consumer group id (SHOPDATA_STREAM_GROUP; default shopdata-stream).',
    }),
    'dlq-topic': Flags.string({
      description: 'Dead-letter topic (SHOPDATA_DLQ_TOPIC; default shopdata.dlq).',
    }),
    'postgres-topic-prefix': Flags.string({
      description: 'Topic prefix of the PostgreSQL connector, up to the table name.',
      default: DEFAULT_TOPIC_PREFIXES.postgres,
    }),
    'mongo-topic-prefix': Flags.string({
      description: 'Topic prefix of the MongoDB connector, up to the collection name.',
      default: DEFAULT_TOPIC_PREFIXES.mongo,
    }),
    'batch-size': Flags.integer({
      description: 'Events per ClickHouse insert (stream.batchSize; default 5000).',
      min: 1,
    }),
    'batch-max-ms': Flags.integer({
      description: 'Insert a smaller batch after this many ms (stream.batchMaxMs; default 1000).',
      min: 1,
    }),
    'metrics-port': Flags.integer({
      description: 'Serve Prometheus metrics on this port at /metrics (0 = off).',
      min: 0,
      max: 65535,
    }),
    ...metricsHostFlag,
    ...dbSuffixFlag,
    'give-up-after': Flags.integer({
      description: 'Exit 3 when ClickHouse or Kafka stay unreachable this many seconds (0 = keep waiting).',
      default: 600,
      min: 0,
    }),
    workers: Flags.integer({
      description:
        'Worker threads that decode, map and encode batches while the main thread fetches and inserts (0 = none; default: one per core, at most 4).',
      min: 0,
      max: 64,
    }),
    'shutdown-grace': Flags.integer({
      description: 'Seconds the final flush may wait for ClickHouse on SIGTERM/SIGINT.',
      default: 10,
      min: 0,
    }),
  };

  public async run(): Promise<StreamResult> {
    const f = this.flags;
    const config = this.settings();
    const sources = this.configSources();
    const router = new TopicRouter({ postgres: f['postgres-topic-prefix'], mongo: f['mongo-topic-prefix'] });
    const topicsFromConfig = sources['stream.topics'] !== undefined && sources['stream.topics'] !== 'default';
    const topics = f.topics
      ? f.topics
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : topicsFromConfig
        ? config.stream.topics
        : router.allTopics();
    if (topics.length === 0)
      throw new UsageError('No topics to consume.', {
        hint: 'Pass --topics or unset SHOPDATA_STREAM_TOPICS.',
      });
    const signal = this.shutdownSignal();
    const result = await runStream({
      config,
      logger: this.logger,
      signal,
      fromFile: f['from-file'],
      maxLineBytes: f['max-line-bytes'],
      untilIdle: f['until-idle'] || f['dry-run'],
      dryRun: f['dry-run'],
      idleMs: f['idle-ms'],
      topics,
      groupId: f['dry-run']
        ? `${f.group ?? config.stream.groupId}-dry-run-${process.pid}-${Date.now()}`
        : (f.group ?? config.stream.groupId),
      dlqTopic: f['dlq-topic'] ?? config.stream.dlqTopic,
      batchSize: f['batch-size'] ?? config.stream.batchSize,
      batchMaxMs: f['batch-max-ms'] ?? config.stream.batchMaxMs,
      metricsPort: f['metrics-port'] ?? config.stream.metricsPort,
      metricsHost: f['metrics-host'],
      router,
      vaultDatabase: databasesFor(f['db-suffix']).vault,
      opsDatabase: databasesFor(f['db-suffix']).ops,
      giveUpAfterMs: f['give-up-after'] * 1000,
      shutdownGraceMs: f['shutdown-grace'] * 1000,
      ...(f.workers !== undefined ? { workers: f.workers } : {}),
    });
    this.render(result);
    if (this.interruptedBy() === 'SIGINT') {
      throw new InterruptedError('Interrupted (SIGINT): work in flight was flushed and committed.', {
        details: { result: result as unknown as Record<string, unknown> },
      });
    }
    return result;
  }

  private render(r: StreamResult): void {
    const events = Object.values(r.topics).reduce((n, t) => n + t.events, 0);
    const rows = Object.values(r.vaultRows).reduce((n, v) => n + v, 0);
    this.out(
      `${events} events in ${r.batches} batches, ${rows} vault rows, ${r.dlq.count} dead letters (${r.dlq.destination}) in ${(r.durationMs / 1000).toFixed(1)} s; stopped by ${r.stoppedBy}`,
    );
    for (const [topic, c] of Object.entries(r.topics).sort()) {
      this.out(`  ${topic}: ${c.loaded} loaded, ${c.skipped} tombstones, ${c.dlq} dead letters`);
    }
    for (const [k, v] of Object.entries(r.offsetsCommitted).sort()) this.out(`  committed ${k} → ${v}`);
  }
}
