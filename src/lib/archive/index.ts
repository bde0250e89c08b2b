import { resolve } from 'node:path';
import type { ShopdataConfig } from '../config/index.js';
import type { TopicRouter } from '../debezium/topics.js';
import { createKafka } from '../kafka/client.js';
import type { Logger } from '../log/index.js';
import type { ParquetCodec } from '../lake/parquet.js';
import type { LakeTables } from '../lake/tables.js';
import { FileDeadLetterSink, KafkaDeadLetterSink } from '../stream/dlq.js';
import { CountingDeadLetterSink } from '../stream/dry-run.js';
import type { DeadLetterSink } from '../stream/types.js';
import { SOURCE_TABLES } from '../vault/types.js';
import { Archiver, offsetsRecord, type TableCounts, type TopicCounts } from './archiver.js';
import { fileHead, runFileSource, sameHead } from './file-source.js';
import { runKafkaSource } from './kafka-source.js';
import { ArchiveMetrics, serveArchiveMetrics } from './metrics.js';
import { archivedFilePosition } from './offsets.js';

export type { TopicCounts, TableCounts } from './archiver.js';

export interface ArchiveOptions {
  config: ShopdataConfig;
  logger: Logger;
  /** SIGTERM/SIGINT: stop reading, commit what is held, exit. */
  signal: AbortSignal;
  /** The lake's tables (path-based or a REST catalog). */
  tables: LakeTables;
  fromFile?: string | undefined;
  untilIdle: boolean;
  idleMs: number;
  topics: string[];
  groupId: string;
  dlqTopic: string;
  router: TopicRouter;
  rollBytes: number;
  rollMs: number;
  maxBufferedBytes: number;
  maxLineBytes: number;
  codec?: ParquetCodec | undefined;
  metricsPort?: number | undefined;
  metricsHost?: string | undefined;
  giveUpAfterMs: number;
  shutdownGraceMs: number;
  onMetricsListening?: (port: number) => void;
  /**
   * Decode everything and report what would be archived; write nothing to the lake or the DLQ.
   * With Kafka the caller passes a throwaway group, so the real group's offsets stay.
   */
  dryRun?: boolean;
}

/** What `shopdata archive --json` prints. */
export interface ArchiveResult {
  source: 'kafka' | 'file';
  lake: string;
  /** Per topic: messages read, changes archived, tombstones skipped, duplicates dropped, dead letters. */
  topics: Record<string, TopicCounts>;
  /** Per lake table: rows, data files and commits of this run, and the last snapshot. */
  tables: Record<string, TableCounts>;
  dlq: { count: number; destination: string; reasons: Record<string, number> };
  /** `topic/partition` → the next offset the lake holds. */
  offsets: Record<string, string>;
  /** Replay file: where reading started and ended (bytes, lines). */
  file?: { path: string; startedAt: number; position: number; lines: number };
  durationMs: number;
  stoppedBy: 'idle' | 'eof' | 'SIGTERM' | 'SIGINT';
  /** --dry-run: `tables` counts the rows that would have been committed; nothing was written. */
  dryRun?: boolean;
}

export async function runArchive(o: ArchiveOptions): Promise<ArchiveResult> {
  const started = Date.now();
  const metrics = new ArchiveMetrics();
  const server = o.metricsPort
    ? await serveArchiveMetrics(metrics, o.metricsPort, o.metricsHost ?? '127.0.0.1')
    : undefined;
  if (server) {
    o.logger.info({ port: server.port }, 'archive: metrics on /metrics');
    o.onMetricsListening?.(server.port);
  }
  // After a signal the held changes get shutdownGraceMs to reach the lake; then waiting stops.
  const hardStop = new AbortController();
  const onSignal = () => setTimeout(() => hardStop.abort(), o.shutdownGraceMs).unref();
  o.signal.addEventListener('abort', onSignal, { once: true });
  const filePath = o.fromFile ? resolve(o.fromFile) : undefined;
  const head = filePath ? await fileHead(filePath) : undefined;
  const kafka = filePath ? undefined : createKafka(o.config, o.logger);
  const dlq: DeadLetterSink = o.dryRun
    ? new CountingDeadLetterSink()
    : filePath
      ? new FileDeadLetterSink(`${filePath}.archive-rejects.jsonl`)
      : new KafkaDeadLetterSink(kafka!, o.dlqTopic);
  const archiver = new Archiver({
    tables: o.tables,
    router: o.router,
    dlq,
    logger: o.logger,
    metrics,
    rollBytes: o.rollBytes,
    rollMs: o.rollMs,
    maxBufferedBytes: o.maxBufferedBytes,
    codec: o.codec,
    giveUpAfterMs: o.giveUpAfterMs,
    stop: hardStop.signal,
    dryRun: o.dryRun,
    file:
      filePath && head
        ? { path: filePath, headBytes: head.headBytes, headSha256: head.headSha256 }
        : undefined,
  });
  const result: ArchiveResult = {
    source: filePath ? 'file' : 'kafka',
    lake: o.tables.description,
    topics: archiver.topics,
    tables: archiver.tables,
    dlq: { count: 0, destination: dlq.description, reasons: archiver.dlqReasons },
    offsets: {},
    durationMs: 0,
    stoppedBy: 'eof',
    ...(o.dryRun ? { dryRun: true } : {}),
  };
  try {
    if (filePath) Object.assign(result, await archiveFile(o, archiver, filePath, head!.size));
    else {
      const r = await runKafkaSource({
        kafka: kafka!,
        groupId: o.groupId,
        topics: o.topics,
        archiver,
        logger: o.logger,
        metrics,
        untilIdle: o.untilIdle,
        idleMs: o.idleMs,
        signal: o.signal,
        giveUpAfterMs: o.giveUpAfterMs,
      });
      result.stoppedBy = r.stoppedBy === 'idle' ? 'idle' : signalName(o.signal);
    }
  } finally {
    o.signal.removeEventListener('abort', onSignal);
    result.offsets = offsetsRecord(archiver.committedOffsets());
    result.dlq.count = Object.values(archiver.dlqReasons).reduce((s, n) => s + n, 0);
    result.durationMs = Date.now() - started;
    await dlq.close().catch(() => undefined);
    await server?.close();
  }
  return result;
}

/** A replay file: from where the lake says it was archived to, to its end (or a signal). */
async function archiveFile(
  o: ArchiveOptions,
  archiver: Archiver,
  path: string,
  size: number,
): Promise<Pick<ArchiveResult, 'file' | 'stoppedBy'>> {
  await archiver.loadCommitted();
  const resumeAt = await resumePosition(o.tables, path, size);
  const r = await runFileSource({
    path,
    archiver,
    logger: o.logger,
    follow: !o.untilIdle,
    signal: o.signal,
    maxLineBytes: o.maxLineBytes,
    resumeAt,
  });
  await archiver.flushAll();
  return {
    file: { path, startedAt: resumeAt?.position ?? 0, position: r.position, lines: r.lines },
    stoppedBy: r.stoppedBy === 'eof' ? 'eof' : signalName(o.signal),
  };
}

/** Where the lake's snapshots say this file was archived to, if it is still the same file. */
async function resumePosition(
  tables: LakeTables,
  path: string,
  size: number,
): Promise<{ position: number; lines: number } | undefined> {
  let best: { position: number; lines: number; headBytes: number; headSha256: string } | undefined;
  for (const table of SOURCE_TABLES) {
    const loaded = await tables.ref(table).load();
    const p = archivedFilePosition(loaded?.metadata, path);
    if (p && p.position <= size && (!best || p.position > best.position)) best = p;
  }
  if (!best || !(await sameHead(path, best.headBytes, best.headSha256))) return undefined;
  return { position: best.position, lines: Math.max(0, best.lines) };
}

function signalName(signal: AbortSignal): ArchiveResult['stoppedBy'] {
  return (signal.reason as Error | undefined)?.message === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
}
