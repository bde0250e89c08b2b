import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/cli/base-command.js';
import { kafkaFlags, lakeFlags } from '../../lib/cli/flags.js';
import { DEFAULT_TOPIC_PREFIXES, TopicRouter } from '../../lib/debezium/topics.js';
import { UsageError } from '../../lib/errors/index.js';
import { parseDay } from '../../lib/backfill/dates.js';
import { SOURCE_TABLES, type SourceTable } from '../../lib/vault/types.js';
import type { LakeStatusResult } from '../../lib/lake/status.js';

export default class LakeStatus extends BaseCommand<typeof LakeStatus> {
  static override summary = 'Per lake table: snapshot, rows and files per day, Kafka offsets covered, lag.';
  static override description = `For each lake table (<lake>/iceberg/<table>, <lake>/parquet/<table>, or <namespace>.<table> of the REST catalog at SHOPDATA_ICEBERG_CATALOG_URI): the current snapshot and its commit time, rows and data files per day over the last --days days, the Kafka offsets the table covers — from the snapshot summaries \`shopdata archive\` writes, or from the Iceberg sink's consumer group (--sink-group) — and, with Kafka configured, the lag from Kafka to the lake in messages and seconds (age of the oldest message the lake does not hold yet).

Exit codes: 0 done (missing tables are reported, not an error); 1 unreadable lake metadata; 2 bad flags; 3 the lake, the catalog or Kafka unreachable.`;
  static override examples = [
    '<%= config.bin %> lake status',
    '<%= config.bin %> lake status --days 3 --until 2026-11-24 --json',
    '<%= config.bin %> lake status --kafka-brokers localhost:9092 --tables users,purchases',
  ];
  static override flags = {
    ...lakeFlags,
    ...kafkaFlags,
    days: Flags.integer({ description: 'Days shown, ending with --until.', default: 7, min: 1, max: 366 }),
    until: Flags.string({ description: 'Last day shown, YYYY-MM-DD (UTC; default: today).' }),
    tables: Flags.string({
      description: `Comma-separated lake tables (default: all of ${SOURCE_TABLES.join(', ')}).`,
    }),
    'sink-group': Flags.string({
      description: 'Consumer group of the Iceberg Kafka Connect sink (connect-<connector name>).',
      default: 'connect-shop-lake',
    }),
    'postgres-topic-prefix': Flags.string({
      description: 'Topic prefix of the PostgreSQL connector, up to the table name.',
      default: DEFAULT_TOPIC_PREFIXES.postgres,
    }),
    'mongo-topic-prefix': Flags.string({
      description: 'Topic prefix of the MongoDB connector, up to the collection name.',
      default: DEFAULT_TOPIC_PREFIXES.mongo,
    }),
  };

  public async run(): Promise<LakeStatusResult> {
    const f = this.flags;
    const until = f.until ? parseDay(f.until, '--until') : new Date().toISOString().slice(0, 10);
    const tables = f.tables
      ? f.tables
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : [...SOURCE_TABLES];
    const unknown = tables.filter((t) => !(SOURCE_TABLES as readonly string[]).includes(t));
    if (unknown.length)
      throw new UsageError(`Not a lake table: ${unknown.join(', ')}.`, {
        hint: `Lake tables: ${SOURCE_TABLES.join(', ')}.`,
      });
    const config = this.settings();
    const [{ openConfiguredLake }, { lakeStatus }, { createKafka }] = await Promise.all([
      import('../../lib/lake/index.js'),
      import('../../lib/lake/status.js'),
      import('../../lib/kafka/client.js'),
    ]);
    const io = openConfiguredLake(config);
    try {
      const result = await lakeStatus({
        io,
        router: new TopicRouter({ postgres: f['postgres-topic-prefix'], mongo: f['mongo-topic-prefix'] }),
        until,
        days: f.days,
        tables: tables as SourceTable[],
        kafka: config.kafka.brokers.length > 0 ? createKafka(config, this.logger) : undefined,
        sinkGroup: f['sink-group'],
      });
      this.render(result);
      return result;
    } finally {
      io.close();
    }
  }

  private render(r: LakeStatusResult): void {
    this.out(
      `lake ${r.lake}: ${r.days} days to ${r.until}${r.kafka ? '' : ' (no Kafka configured: lag not shown)'}`,
    );
    for (const t of r.tables) {
      this.out('');
      if (t.format === 'missing') {
        this.out(`${t.table}: missing (${t.name})`);
        continue;
      }
      const snap = t.snapshot
        ? `snapshot ${t.snapshot.id} committed ${t.snapshot.committedAt}${t.snapshot.totalRecords !== null ? `, ${t.snapshot.totalRecords} rows in total` : ''}`
        : 'no snapshot';
      this.out(`${t.table} (${t.format}${t.writer ? `, written by ${t.writer}` : ''}): ${snap}`);
      this.out(`  ${t.name}`);
      if (t.validThrough) this.out(`  sink valid through ${t.validThrough}`);
      this.out(`  day          rows   files  delete files`);
      for (const d of t.days)
        this.out(
          `  ${d.day}  ${String(d.rows).padStart(7)}  ${String(d.files).padStart(5)}  ${String(d.deleteFiles).padStart(12)}`,
        );
      for (const p of t.partitions) {
        const lag =
          p.lag === null
            ? ''
            : `, end ${p.end}, lag ${p.lag} messages${p.lagSeconds !== null ? ` / ${p.lagSeconds.toFixed(1)} s` : ''}`;
        this.out(`  ${p.topic}/${p.partition}: covered to ${p.covered ?? '-'}${lag}`);
      }
      if (t.offsetsFrom) this.out(`  offsets from ${t.offsetsFrom}`);
    }
  }
}
