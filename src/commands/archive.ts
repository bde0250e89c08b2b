import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base-command.js';
import { kafkaFlags, lakeFlags, metricsHostFlag } from '../lib/cli/flags.js';
import { DEFAULT_TOPIC_PREFIXES, TopicRouter } from '../lib/debezium/topics.js';
import { InterruptedError, UsageError } from '../lib/errors/index.js';
import type { ArchiveResult } from '../lib/archive/index.js';

const MB = 1024 * 1024;

export default class Archive extends BaseCommand<typeof Archive> {
  static override summary = 'Append every Debezium change to the lake’s Iceberg tables, exactly once.';
  static override description = `Consumes the Debezium topics of the shop (or replays --from-file in every format \`stream\` reads, kcat -J included) and appends each change to its lake table (<lake>/iceberg/<table>, or <namespace>.<table> of the REST catalog at SHOPDATA_ICEBERG_CATALOG_URI): the after-image columns without password_hash, plus __op, __ts and __deleted, partitioned by day(__ts) (docs/CONTRACT.md §5).

Exactly once: every Iceberg commit records in its snapshot summary the Kafka offsets (topic, partition) it covers, and a restart resumes from them. A change whose offset the table already holds is never written again — after kill -9, a broker restart, a rebalance, a redelivery, or the same replay file archived twice. A replay file also records how far it was read, so a second run reads nothing new. A commit whose response was lost is recognised by its commit id and not repeated.

A table is committed when it holds --roll-mb of messages or its oldest held change is --roll-seconds old (bounded memory: --max-buffer-mb over all tables). Events that cannot be decoded go to the dead-letter topic (--dlq-topic) or FILE.archive-rejects.jsonl, with the reason. Metrics (rows, files, commits, lag in messages and seconds) on --metrics-port. The production alternative is the Apache Iceberg Kafka Connect sink (templates/connectors/shop-lake.yaml), writing the same tables.

SIGTERM stops reading, commits what is held and exits 0; SIGINT does the same and exits 130. Exit 3 when Kafka or the lake stay unreachable for --give-up-after seconds (what was committed stays; a restart reads on).`;
  static override examples = [
    '<%= config.bin %> archive --kafka-brokers localhost:9092 --lake s3://shop-lake/prod',
    '<%= config.bin %> archive --from-file events.jsonl --until-idle --lake ./lake',
    '<%= config.bin %> archive --until-idle --json   # catch up, print counts and offsets, exit (cron, Airflow)',
    '<%= config.bin %> archive --metrics-port 9466 --group shopdata-archive',
    '<%= config.bin %> archive --from-file events.jsonl --dry-run --json   # what would be archived',
  ];

  static override flags = {
    ...kafkaFlags,
    ...lakeFlags,
    'from-file': Flags.string({ description: 'Replay events from a JSON-lines file instead of Kafka.' }),
    'dry-run': Flags.boolean({
      description:
        'Decode every event and report per table the rows that would be archived; write nothing to the lake or the DLQ (Kafka: a throwaway group reads until idle).',
      default: false,
    }),
    'until-idle': Flags.boolean({
      description:
        'Stop once caught up: every partition read to its high watermark and committed (with --from-file: at end of file).',
      default: false,
    }),
    'idle-ms': Flags.integer({
      description: 'With --until-idle: how long no new message must arrive before stopping.',
      default: 2000,
      min: 0,
    }),
    topics: Flags.string({
      description: 'Comma-separated topics (default: the contract topics under the topic prefixes).',
    }),
    group: Flags.string({ description: 'Consumer group id.', default: 'shopdata-archive' }),
    'dlq-topic': Flags.string({ description: 'Dead-letter topic.', default: 'shopdata.archive.dlq' }),
    'postgres-topic-prefix': Flags.string({
      description: 'Topic prefix of the PostgreSQL connector, up to the table name.',
      default: DEFAULT_TOPIC_PREFIXES.postgres,
    }),
    'mongo-topic-prefix': Flags.string({
      description: 'Topic prefix of the MongoDB connector, up to the collection name.',
      default: DEFAULT_TOPIC_PREFIXES.mongo,
    }),
    'roll-mb': Flags.integer({
      description: 'Commit a table once it holds this many MB of messages.',
      default: 32,
      min: 1,
    }),
    'roll-seconds': Flags.integer({
      description: 'Commit a table once its oldest held change is this many seconds old.',
      default: 60,
      min: 1,
    }),
    'max-buffer-mb': Flags.integer({
      description: 'Commit the biggest table when all tables together hold this many MB.',
      default: 128,
      min: 1,
    }),
    'max-line-mb': Flags.integer({
      description: 'With --from-file: longer lines are rejected (line-too-long), not read.',
      default: 16,
      min: 1,
    }),
    codec: Flags.option({
      options: ['ZSTD', 'SNAPPY', 'GZIP', 'UNCOMPRESSED'] as const,
      description: 'Parquet compression of the data files.',
      default: 'ZSTD',
    })(),
    'metrics-port': Flags.integer({
      description: 'Serve Prometheus metrics on this port at /metrics (0 = off).',
      min: 0,
      max: 65535,
    }),
    ...metricsHostFlag,
    'give-up-after': Flags.integer({
      description: 'Exit 3 when Kafka or the lake stay unreachable this many seconds (0 = keep waiting).',
      default: 600,
      min: 0,
    }),
    'shutdown-grace': Flags.integer({
      description: 'Seconds the final commit may wait for the lake on SIGTERM/SIGINT.',
      default: 10,
      min: 0,
    }),
  };

  public async run(): Promise<ArchiveResult> {
    const f = this.flags;
    const config = this.settings();
    const router = new TopicRouter({ postgres: f['postgres-topic-prefix'], mongo: f['mongo-topic-prefix'] });
    const topics = f.topics
      ? f.topics
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : router.allTopics();
    const unknown = topics.filter((t) => router.tableFor(t) === null);
    if (unknown.length > 0) {
      throw new UsageError(`Not a topic of a lake table: ${unknown.join(', ')}.`, {
        hint: `Archive topics are <prefix><table>: ${router.allTopics().join(', ')} (see --postgres-topic-prefix, --mongo-topic-prefix).`,
      });
    }
    // Loaded here, not at the top: --help stays fast.
    const [{ runArchive }, { openLakeTables }] = await Promise.all([
      import('../lib/archive/index.js'),
      import('../lib/lake/catalog/index.js'),
    ]);
    const tables = await openLakeTables(config, { logger: this.logger });
    try {
      const result = await runArchive({
        config,
        logger: this.logger,
        signal: this.shutdownSignal(),
        tables,
        fromFile: f['from-file'],
        untilIdle: f['until-idle'] || f['dry-run'],
        dryRun: f['dry-run'],
        idleMs: f['idle-ms'],
        topics,
        groupId: f['dry-run'] ? `${f.group}-dry-run-${process.pid}-${Date.now()}` : f.group,
        dlqTopic: f['dlq-topic'],
        router,
        rollBytes: f['roll-mb'] * MB,
        rollMs: f['roll-seconds'] * 1000,
        maxBufferedBytes: f['max-buffer-mb'] * MB,
        maxLineBytes: f['max-line-mb'] * MB,
        codec: f.codec,
        metricsPort: f['metrics-port'],
        metricsHost: f['metrics-host'],
        giveUpAfterMs: f['give-up-after'] * 1000,
        shutdownGraceMs: f['shutdown-grace'] * 1000,
      });
      this.render(result);
      if (this.interruptedBy() === 'SIGINT') {
        throw new InterruptedError('Interrupted (SIGINT): what was held was committed to the lake.', {
          details: { result: result as unknown as Record<string, unknown> },
        });
      }
      return result;
    } finally {
      tables.io.close();
    }
  }

  private render(r: ArchiveResult): void {
    const t = Object.values(r.topics);
    const sum = (k: keyof (typeof t)[number]) => t.reduce((n, c) => n + c[k], 0);
    const commits = Object.values(r.tables).reduce((n, c) => n + c.commits, 0);
    const files = Object.values(r.tables).reduce((n, c) => n + c.files, 0);
    this.out(
      `${sum('events')} events: ${sum('archived')} changes archived in ${commits} commits (${files} files), ${sum('skipped')} tombstones, ${sum('duplicates')} already in the lake, ${r.dlq.count} dead letters (${r.dlq.destination}) in ${(r.durationMs / 1000).toFixed(1)} s; stopped by ${r.stoppedBy}`,
    );
    this.out(
      `  lake ${r.lake}${r.dryRun ? ' (dry run: nothing was written; rows are what would be archived)' : ''}`,
    );
    for (const [table, c] of Object.entries(r.tables).sort())
      this.out(
        `  ${table}: ${c.rows} rows, ${c.files} files, ${c.commits} commits, snapshot ${c.snapshotId ?? '-'}`,
      );
    if (r.file) this.out(`  ${r.file.path}: read from byte ${r.file.startedAt} to ${r.file.position}`);
    for (const [k, v] of Object.entries(r.offsets)) this.out(`  lake holds ${k} up to ${v}`);
  }
}
