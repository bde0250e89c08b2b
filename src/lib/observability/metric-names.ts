/**
 * The Prometheus metric names the alert rules (templates/prometheus/), the Grafana dashboard
 * (templates/grafana/) and `top` rely on. Whoever emits a metric imports its name from here, so a
 * rename breaks the build and the dashboard/rule tests instead of silently breaking an alert.
 *
 * Labels are listed with each name; label values are low-cardinality (topics, tables, days, checks).
 */

/** Exposed by `shopdata stream` on `--metrics-port` (Prometheus job `shopdata-stream`). */
export const STREAM_METRICS = {
  /** counter {topic}: Kafka (or file) events read, tombstones included. */
  eventsConsumed: 'shopdata_stream_events_consumed_total',
  /** counter {table}: rows inserted into vault tables. `top` reads it as the insert rate. */
  rowsInserted: 'shopdata_stream_rows_inserted_total',
  /** counter {topic, reason}: events sent to the dead-letter queue. */
  dlqEvents: 'shopdata_stream_dlq_events_total',
  /** counter: batches committed (vault insert done, offsets committed). */
  batches: 'shopdata_stream_batches_total',
  /** histogram: wall time of one batch, from first event read to offsets committed. */
  batchDuration: 'shopdata_stream_batch_duration_seconds',
  /** gauge {topic}: source commit time (epoch s) of the newest event loaded; freshness = time() - it. */
  lastEventTimestamp: 'shopdata_stream_last_event_timestamp_seconds',
  /** gauge: wall time (epoch s) of the last committed batch. */
  lastBatchTimestamp: 'shopdata_stream_last_batch_timestamp_seconds',
  /** counter {topic, outcome}: events by what became of them (loaded, skipped = tombstone, dlq). */
  events: 'shopdata_stream_events_total',
  /** gauge {table}: source commit of the newest change in the last batch → ClickHouse confirmed it, seconds. */
  freshness: 'shopdata_stream_freshness_seconds',
  /** histogram: messages per batch. */
  batchEvents: 'shopdata_stream_batch_events',
  /** gauge: 1 while ClickHouse accepts inserts, 0 while the stream waits for it. */
  warehouseUp: 'shopdata_stream_warehouse_up',
  /** gauge: events read but not yet confirmed by ClickHouse. */
  bufferedEvents: 'shopdata_stream_buffered_events',
  /** counter {dependency}: retried operations (clickhouse, kafka). */
  retries: 'shopdata_stream_retries_total',
} as const;

/**
 * Consumer-group lag, measured from outside the consumer (committed vs. log-end offsets, and the
 * age of the next unconsumed record), so it keeps growing while `stream` is stopped.
 * Exposed by the lag exporter (src/lib/observability/lag-exporter.ts); `stream` may expose the
 * same names for its own group.
 */
export const LAG_METRICS = {
  /** gauge {group, topic, partition}: age in seconds of the oldest unconsumed record; 0 when caught up. */
  lagSeconds: 'shopdata_consumer_lag_seconds',
  /** gauge {group, topic, partition}: log-end offset minus committed offset. */
  lagMessages: 'shopdata_consumer_lag_messages',
  /** gauge {group, topic, partition}: the group's committed offset. */
  committedOffset: 'shopdata_consumer_committed_offset',
  /** gauge: 1 when the lag exporter's last sample read Kafka (`top --metrics-port`). */
  exporterKafkaUp: 'shopdata_lag_exporter_kafka_up',
} as const;

/**
 * Pushed to the Pushgateway by `backfill` at the end of a run, one group per day:
 * grouping key {job="shopdata_backfill", day="YYYY-MM-DD"}.
 */
export const BACKFILL_METRICS = {
  /** gauge {day}: 1 when the day's last rebuild committed, 0 when it failed. */
  daySuccess: 'shopdata_backfill_day_success',
  /** gauge {day}: the day itself as epoch seconds of 00:00 UTC (so rules can find the newest day). */
  dayTimestamp: 'shopdata_backfill_day_timestamp_seconds',
  /** gauge {day}: wall time (epoch s) when the rebuild of the day finished. */
  runTimestamp: 'shopdata_backfill_run_timestamp_seconds',
  /** gauge {day}: seconds the rebuild of the day took. */
  duration: 'shopdata_backfill_duration_seconds',
  /** gauge {day, table}: rows written to the vault for the day. */
  rowsWritten: 'shopdata_backfill_rows_written',
  /** gauge {day, table}: rows whose streamed version the backfill corrected (changed or removed). */
  rowsCorrected: 'shopdata_backfill_rows_corrected',
} as const;

/**
 * Pushed by `vault check` at the end of a run: grouping key
 * {job="shopdata_vault_check", scope="all"|"YYYY-MM-DD"}.
 */
export const CHECK_METRICS = {
  /** gauge {check}: violations found by the check (0 = passed). */
  violations: 'shopdata_vault_check_violations',
  /** gauge {check}: 1 when the check passed. */
  passed: 'shopdata_vault_check_passed',
  /** gauge: wall time (epoch s) when the run finished. */
  runTimestamp: 'shopdata_vault_check_run_timestamp_seconds',
  /** gauge: seconds the run took. */
  duration: 'shopdata_vault_check_duration_seconds',
} as const;

/**
 * Exposed by `shopdata archive` on `--metrics-port` (Prometheus job `shopdata-archive`): the
 * embedded Kafka → Iceberg lake writer. The lake-staleness alert reads lagSeconds.
 */
export const ARCHIVE_METRICS = {
  /** counter {table}: changelog rows committed to the lake. */
  rows: 'shopdata_archive_rows_total',
  /** counter {table}: data files committed. */
  files: 'shopdata_archive_files_total',
  /** counter {table}: Iceberg commits (snapshots). */
  commits: 'shopdata_archive_commits_total',
  /** counter {topic, outcome}: messages read: archived, skipped (tombstone), duplicate (already in the lake), dlq. */
  events: 'shopdata_archive_events_total',
  /** gauge {topic, partition}: log-end offset minus the next offset the lake holds. */
  lagMessages: 'shopdata_archive_lag_messages',
  /** gauge {topic, partition}: age in seconds of the oldest message not yet in the lake; 0 when caught up. */
  lagSeconds: 'shopdata_archive_lag_seconds',
  /** gauge {table}: wall time (epoch s) of the table's last commit by this process. */
  lastCommitTimestamp: 'shopdata_archive_last_commit_timestamp_seconds',
  /** histogram: wall time of one commit (data files, manifests, metadata). */
  commitDuration: 'shopdata_archive_commit_duration_seconds',
  /** gauge: bytes of messages read and not yet committed. */
  bufferedBytes: 'shopdata_archive_buffered_bytes',
  /** counter {dependency}: retries while the lake, the DLQ or Kafka are unreachable. */
  retries: 'shopdata_archive_retries_total',
} as const;

export const PUSH_JOBS = { backfill: 'shopdata_backfill', vaultCheck: 'shopdata_vault_check' } as const;

/** Every metric name above, for tests that check the rules and the dashboard reference real metrics. */
export const ALL_METRIC_NAMES: readonly string[] = [
  ...Object.values(STREAM_METRICS),
  ...Object.values(LAG_METRICS),
  ...Object.values(BACKFILL_METRICS),
  ...Object.values(CHECK_METRICS),
  ...Object.values(ARCHIVE_METRICS),
];
