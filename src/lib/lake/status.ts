import type { Kafka } from 'kafkajs';
import { DependencyUnavailableError } from '../errors/index.js';
import type { TopicRouter } from '../debezium/topics.js';
import { KafkaLagSource, lagAtPositions } from '../kafka/lag.js';
import { SOURCE_TABLES, type SourceTable } from '../vault/types.js';
import {
  OFFSETS_PROPERTY,
  SINK_OFFSETS_PREFIX,
  SINK_VALID_THROUGH,
  archivedOffsets,
  currentSnapshot,
  latestWith,
  splitTpKey,
} from '../archive/offsets.js';
import { dateOfEpochDay, epochDayOfDate } from '../values/index.js';
import { isCatalogIO } from './catalog/index.js';
import { loadTableMetadata } from './iceberg/metadata.js';
import { detectFormat, lakeTableUri, planTableDays } from './index.js';
import type { LakeIO } from './io.js';
import { readParquetMetadata, lakeAsyncBuffer } from './parquet.js';

/**
 * `shopdata lake status`: per lake table, the current snapshot and its commit time, rows and files
 * per day over the last N days, the Kafka offsets the table covers (`archive`'s snapshot summaries,
 * or the Iceberg sink's consumer group) and the lag from Kafka to the lake in messages and seconds.
 */

export interface DayStatus {
  day: string;
  rows: number;
  files: number;
  deleteFiles: number;
}

export interface PartitionStatus {
  topic: string;
  partition: number;
  /** Next offset the lake holds (null: nothing archived from this partition). */
  covered: number | null;
  /** Log-end offset (null: Kafka not configured). */
  end: number | null;
  lag: number | null;
  /** Age of the oldest message not in the lake; 0 when caught up; null when unknown. */
  lagSeconds: number | null;
}

export interface TableStatus {
  table: SourceTable;
  /** `<lake>/iceberg/<table>`, `<lake>/parquet/<table>`, or `<namespace>.<table>`. */
  name: string;
  format: 'iceberg' | 'parquet' | 'missing';
  /** Who commits to it, from its snapshot summaries. */
  writer: 'archive' | 'iceberg-sink' | 'other' | null;
  snapshot: {
    id: string;
    committedAt: string;
    operation: string | null;
    totalRecords: number | null;
    totalDataFiles: number | null;
  } | null;
  /** Newest day the table has data for (its partitions). */
  lastDay: string | null;
  days: DayStatus[];
  /** The sink's `kafka.connect.valid-through-ts`. */
  validThrough: string | null;
  /** Where the covered offsets come from. */
  offsetsFrom: 'snapshot' | `group ${string}` | null;
  partitions: PartitionStatus[];
  lag: number | null;
  lagSeconds: number | null;
}

export interface LakeStatusResult {
  lake: string;
  /** The last day shown (inclusive) and how many days. */
  until: string;
  days: number;
  kafka: boolean;
  tables: TableStatus[];
}

export interface LakeStatusOptions {
  io: LakeIO;
  router: TopicRouter;
  /** Last day shown (YYYY-MM-DD, UTC) and how many days back. */
  until: string;
  days: number;
  tables?: SourceTable[];
  /** When set: log-end offsets and record times from Kafka. */
  kafka?: Kafka | undefined;
  /** Consumer group of the Iceberg Kafka Connect sink (`connect-<connector>`). */
  sinkGroup: string;
  now?: () => number;
}

export async function lakeStatus(o: LakeStatusOptions): Promise<LakeStatusResult> {
  const now = o.now ?? Date.now;
  const tables: TableStatus[] = [];
  for (const t of o.tables ?? SOURCE_TABLES) tables.push(await tableStatus(o, t));
  if (o.kafka) await addLag(o, tables, now());
  return {
    lake: o.io.root,
    until: o.until,
    days: o.days,
    kafka: Boolean(o.kafka),
    tables,
  };
}

function emptyStatus(table: SourceTable, name: string): TableStatus {
  return {
    table,
    name,
    format: 'missing',
    writer: null,
    snapshot: null,
    lastDay: null,
    days: [],
    validThrough: null,
    offsetsFrom: null,
    partitions: [],
    lag: null,
    lagSeconds: null,
  };
}

async function tableStatus(o: LakeStatusOptions, table: SourceTable): Promise<TableStatus> {
  const catalog = isCatalogIO(o.io) ? o.io.catalog : undefined;
  const format = await detectFormat(o.io, table);
  const name = catalog
    ? `${catalog.namespace}.${table}`
    : lakeTableUri(o.io, format === 'parquet' ? 'parquet' : 'iceberg', table);
  const out = emptyStatus(table, name);
  if (!format) return out;
  out.format = format;
  const to = epochDayOfDate(o.until);
  const from = to - o.days + 1;
  const plan = await planTableDays(o.io, table, {
    format,
    from: dateOfEpochDay(from),
    to: o.until,
  });
  const byDay = new Map<number, DayStatus>();
  for (let d = from; d <= to; d++)
    byDay.set(d, { day: dateOfEpochDay(d), rows: 0, files: 0, deleteFiles: 0 });
  if (plan?.format === 'iceberg') {
    for (const f of plan.dataFiles) {
      const s = f.partitionDay !== undefined ? byDay.get(f.partitionDay) : undefined;
      if (!s) continue;
      s.rows += f.records;
      s.files++;
    }
    for (const f of plan.deleteFiles) {
      const s = f.partitionDay !== undefined ? byDay.get(f.partitionDay) : undefined;
      if (s) s.deleteFiles++;
    }
    out.lastDay = plan.lastDay !== undefined ? dateOfEpochDay(plan.lastDay) : null;
    const md = (await loadTableMetadata(o.io, plan.tableUri, plan.metadataUri))?.metadata;
    const snap = currentSnapshot(md);
    if (snap) {
      out.snapshot = {
        id: String(snap['snapshot-id']),
        committedAt: new Date(snap['timestamp-ms']).toISOString(),
        operation: snap.summary?.operation ?? null,
        totalRecords: numberOrNull(snap.summary?.['total-records']),
        totalDataFiles: numberOrNull(snap.summary?.['total-data-files']),
      };
    }
    const archived = latestWith(md, OFFSETS_PROPERTY);
    const sink = (md?.snapshots ?? []).some((s) =>
      Object.keys(s.summary ?? {}).some((k) => k.startsWith(SINK_OFFSETS_PREFIX)),
    );
    out.writer = archived ? 'archive' : sink ? 'iceberg-sink' : snap ? 'other' : null;
    if (archived) {
      out.offsetsFrom = 'snapshot';
      for (const [k, v] of archivedOffsets(md)) {
        const { topic, partition } = splitTpKey(k);
        out.partitions.push({ topic, partition, covered: Number(v), end: null, lag: null, lagSeconds: null });
      }
    }
    if (sink) {
      out.offsetsFrom ??= `group ${o.sinkGroup}`;
      for (const key of SINK_VALID_THROUGH) {
        const v = latestWith(md, key)?.summary[key];
        if (v) {
          out.validThrough = /^\d+$/.test(v) ? new Date(Number(v)).toISOString() : v;
          break;
        }
      }
    }
  } else if (plan?.format === 'parquet') {
    for (const f of plan.files) {
      const s = byDay.get(epochDayOfDate(f.day));
      if (!s) continue;
      const meta = await readParquetMetadata(await lakeAsyncBuffer(o.io, f.uri, f.size));
      s.rows += Number(meta.num_rows);
      s.files++;
    }
    out.lastDay = plan.lastDay !== undefined ? dateOfEpochDay(plan.lastDay) : null;
  }
  out.days = [...byDay.values()].reverse();
  return out;
}

function numberOrNull(v: string | undefined): number | null {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}

/** Log-end offsets and the age of the first message each table does not hold yet. */
async function addLag(o: LakeStatusOptions, tables: TableStatus[], at: number): Promise<void> {
  const source = new KafkaLagSource(o.kafka!, { readRecordTimestamps: true });
  const admin = o.kafka!.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    for (const t of tables) {
      if (t.format !== 'iceberg') continue;
      const topic = o.router.topicFor(t.table);
      if (!existing.has(topic)) continue;
      if (t.offsetsFrom === `group ${o.sinkGroup}`) {
        const [g] = await admin.fetchOffsets({ groupId: o.sinkGroup, topics: [topic] });
        for (const p of g?.partitions ?? [])
          t.partitions.push({
            topic,
            partition: p.partition,
            covered: Number(p.offset) >= 0 ? Number(p.offset) : null,
            end: null,
            lag: null,
            lagSeconds: null,
          });
      }
      const ends = await admin.fetchTopicOffsets(topic);
      for (const e of ends) {
        if (!t.partitions.some((p) => p.topic === topic && p.partition === e.partition))
          t.partitions.push({
            topic,
            partition: e.partition,
            covered: null,
            end: null,
            lag: null,
            lagSeconds: null,
          });
      }
      const low = new Map(ends.map((e) => [e.partition, Number(e.low)]));
      const at2 = t.partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: p.covered ?? low.get(p.partition) ?? 0,
      }));
      const lags = lagAtPositions(at2, await source.positions([topic], at2), at);
      let lag = 0;
      let lagSeconds = 0;
      for (const [i, p] of t.partitions.entries()) {
        const l = lags[i]!;
        p.end = l.end;
        p.lag = l.lag;
        p.lagSeconds = l.lagSeconds;
        lag += p.lag ?? 0;
        lagSeconds = Math.max(lagSeconds, p.lagSeconds ?? 0);
      }
      t.partitions.sort((a, b) => a.partition - b.partition);
      t.lag = lag;
      t.lagSeconds = lagSeconds;
    }
  } catch (err) {
    if (err instanceof DependencyUnavailableError) throw err;
    throw new DependencyUnavailableError('kafka', `Kafka is unreachable: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check SHOPDATA_KAFKA_BROKERS, or unset it to see the lake without the lag.',
    });
  } finally {
    await admin.disconnect().catch(() => undefined);
    await source.close();
  }
}

/** What `top` shows of the lake: one line, refreshed at most every 30 s. */
export interface LakeFreshness {
  lake: string;
  /** Tables present in the lake (Iceberg with a snapshot, or Parquet). */
  tables: number;
  /** Age of the newest and the oldest current snapshot among the tables (Iceberg). */
  newestCommitSeconds: number | null;
  oldestCommitSeconds: number | null;
  oldestTable: string | null;
  /** Messages in Kafka the lake does not hold yet (archive-written tables), and the oldest one's age. */
  lag: number | null;
  lagSeconds: number | null;
}

/**
 * The lake's freshness: the commit times of the tables' current snapshots and, for tables written
 * by `archive`, the lag behind Kafka (log end − the offsets the snapshots hold). Cheap: metadata
 * files only, no manifests.
 */
export async function lakeFreshness(
  io: LakeIO,
  kafka: KafkaLagSource | undefined,
  now = Date.now(),
): Promise<LakeFreshness> {
  const out: LakeFreshness = {
    lake: io.root,
    tables: 0,
    newestCommitSeconds: null,
    oldestCommitSeconds: null,
    oldestTable: null,
    lag: null,
    lagSeconds: null,
  };
  const at: Array<{ topic: string; partition: number; offset: number }> = [];
  const topics = new Set<string>();
  for (const t of SOURCE_TABLES) {
    const format = await detectFormat(io, t);
    if (!format) continue;
    out.tables++;
    if (format !== 'iceberg') continue;
    const catalog = isCatalogIO(io) ? io.catalog : undefined;
    const md = catalog
      ? (await catalog.catalog.loadTable(catalog.namespace, t))?.metadata
      : (await loadTableMetadata(io, lakeTableUri(io, 'iceberg', t)))?.metadata;
    const snap = currentSnapshot(md);
    if (snap) {
      const age = Math.max(0, (now - snap['timestamp-ms']) / 1000);
      out.newestCommitSeconds = Math.min(out.newestCommitSeconds ?? age, age);
      if (out.oldestCommitSeconds === null || age > out.oldestCommitSeconds) {
        out.oldestCommitSeconds = age;
        out.oldestTable = t;
      }
    }
    for (const [k, v] of archivedOffsets(md)) {
      const { topic, partition } = splitTpKey(k);
      topics.add(topic);
      at.push({ topic, partition, offset: Number(v) });
    }
  }
  if (kafka && topics.size > 0) {
    out.lag = 0;
    out.lagSeconds = 0;
    for (const l of lagAtPositions(at, await kafka.positions([...topics], at), now)) {
      out.lag += l.lag ?? 0;
      out.lagSeconds = Math.max(out.lagSeconds, l.lagSeconds ?? 0);
    }
  }
  return out;
}
