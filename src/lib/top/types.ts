import type { PartitionLag } from '../kafka/lag.js';

/**
 * What `shopdata top` samples and prints. `KafkaPoll` (src/lib/kafka/lag.ts) is the raw read of
 * one refresh (recorded as fixtures for tests); `TopSample` is what the views render and
 * `--once --json` prints.
 */

export const STATUSES = ['OK', 'WARN', 'STALLED', 'STOPPED', 'REWINDING'] as const;
export type LagStatus = (typeof STATUSES)[number];

export interface PartitionView extends PartitionLag {
  /** msgs/s committed (consumed) and appended (produced) since the previous sample. */
  consumeRate: number | null;
  produceRate: number | null;
  status: LagStatus;
  /** Why the status is what it is, in words. */
  reason: string;
  /** Recent lag values, oldest first, for the detail sparkline. */
  lagHistory: number[];
}

export interface GroupView {
  groupId: string;
  state: string;
  members: number;
  status: LagStatus;
  reason: string;
  totalLag: number;
  /** The oldest unconsumed record over all partitions, in seconds (null when unknown). */
  maxLagSeconds: number | null;
  consumeRate: number | null;
  produceRate: number | null;
  /** Recent group consume rates (msgs/s), oldest first: the sparkline. */
  rateHistory: number[];
  /** Recent total lag, oldest first. */
  lagHistory: number[];
  /** Samples in the status window / window size (Burrow's "complete"). */
  windowFill: number;
  partitions: PartitionView[];
}

export interface ConnectorView {
  name: string;
  type: string;
  state: string;
  workerId: string;
  tasks: Array<{ id: number; state: string; workerId: string; trace?: string }>;
}

export type SourceState<T> = ({ ok: true } & T) | { ok: false; configured: boolean; error: string };

export interface StreamMetricsView {
  url: string;
  /** Now minus the source commit time of the newest event loaded (grows while the stream stops). */
  freshnessSeconds: number | null;
  /** The stream's last batch: source commit → ClickHouse confirmed, slowest table. */
  latencySeconds: number | null;
  /** Rows inserted per second since the previous sample (null on the first sample). */
  insertRate: number | null;
  insertedTotal: number | null;
  /** Metric names that fed the figures above, so a reader can check them. */
  metricNames: string[];
}

/** From the warehouse: `<ops>.loads` rows written by `stream` and `backfill`. */
export interface OpsLoadsView {
  /** Now minus the newest source commit time the stream loaded (last 24 h). */
  freshnessSeconds: number | null;
  /** Rows loaded per second over the last 60 s. */
  insertRate: number;
  lastLoadAgeSeconds: number | null;
  loadsLastDay: number;
  /** The newest backfill load of the last week: how long ago, and the newest day it covered. */
  lastBackfillAgeSeconds: number | null;
  backfilledThrough: string | null;
}

/** The lake: how old its tables' snapshots are and how far archive is behind Kafka (src/lib/lake/status.ts). */
export interface LakeView {
  lake: string;
  tables: number;
  newestCommitSeconds: number | null;
  oldestCommitSeconds: number | null;
  oldestTable: string | null;
  lag: number | null;
  lagSeconds: number | null;
}

export interface TopSample {
  takenAt: string;
  intervalSeconds: number;
  windowSize: number;
  kafka: SourceState<{ brokers: string[]; groups: GroupView[] }>;
  connect: SourceState<{ url: string; connectors: ConnectorView[] }>;
  stream: SourceState<StreamMetricsView>;
  warehouse: SourceState<{ url: string } & OpsLoadsView>;
  /** With a lake configured (SHOPDATA_LAKE, --lake or the REST catalog). */
  lake?: SourceState<LakeView>;
}
