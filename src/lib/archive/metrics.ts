import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ARCHIVE_METRICS } from '../observability/metric-names.js';
import { serveMetrics } from '../observability/metrics.js';

/** The metrics of `shopdata archive`, in a registry of their own (tests run several in one process). */
export class ArchiveMetrics {
  readonly registry = new Registry();

  readonly rows = new Counter({
    name: ARCHIVE_METRICS.rows,
    help: 'Changelog rows committed to the lake, by table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly files = new Counter({
    name: ARCHIVE_METRICS.files,
    help: 'Parquet data files committed to the lake, by table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly commits = new Counter({
    name: ARCHIVE_METRICS.commits,
    help: 'Iceberg commits (snapshots), by table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: ARCHIVE_METRICS.events,
    help: 'Messages read, by topic and outcome (archived, skipped = tombstone, duplicate = already in the lake, dlq).',
    labelNames: ['topic', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly lagMessages = new Gauge({
    name: ARCHIVE_METRICS.lagMessages,
    help: 'Log-end offset minus the next offset the lake holds, by topic and partition.',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });
  readonly lagSeconds = new Gauge({
    name: ARCHIVE_METRICS.lagSeconds,
    help: 'Age in seconds of the oldest message not yet in the lake (0 when caught up), by topic and partition.',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });
  readonly lastCommit = new Gauge({
    name: ARCHIVE_METRICS.lastCommitTimestamp,
    help: "Wall time (epoch seconds) of the table's last commit by this process.",
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly commitSeconds = new Histogram({
    name: ARCHIVE_METRICS.commitDuration,
    help: 'Time to write the data files, manifests and metadata of one commit.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  /** Set by the archiver: bytes of messages held in memory, not yet committed. */
  bufferedSource: () => number = () => 0;
  readonly buffered = new Gauge({
    name: ARCHIVE_METRICS.bufferedBytes,
    help: 'Bytes of messages read but not yet committed to the lake (bounded by --max-buffer-mb).',
    registers: [this.registry],
    collect: () => {
      this.buffered.set(this.bufferedSource());
    },
  });
  readonly retries = new Counter({
    name: ARCHIVE_METRICS.retries,
    help: 'Retried operations, by dependency (lake, kafka).',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'shopdata_archive_' });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** `GET /metrics` for the archive, on the one metrics server of the project. */
export function serveArchiveMetrics(metrics: ArchiveMetrics, port: number, host: string) {
  return serveMetrics(metrics, port, host);
}
