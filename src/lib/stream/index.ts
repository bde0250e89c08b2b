import { availableParallelism } from 'node:os';
import type { ShopdataConfig } from '../config/index.js';
import { requirePiiSalt } from '../config/index.js';
import { TopicRouter } from '../debezium/topics.js';
import { ConfigError } from '../errors/index.js';
import { createKafka } from '../kafka/client.js';
import type { Logger } from '../log/index.js';
import { StreamMetrics, serveMetrics } from '../observability/metrics.js';
import { VAULT_TABLES } from '../vault/tables.js';
import { forRetryingCaller, openConfiguredWarehouse, type Warehouse } from '../warehouse/index.js';
import { sqlString, sqlStringList } from '../warehouse/quote.js';
import { FileDeadLetterSink, KafkaDeadLetterSink } from './dlq.js';
import { CountingDeadLetterSink, dryRunWarehouse } from './dry-run.js';
import { runFile } from './file-runner.js';
import { runKafka } from './kafka-runner.js';
import { Loader, type BatchOutcome } from './loader.js';
import { PreparePool } from './pool.js';
import type { DeadLetterSink, StreamResult } from './types.js';
import { readWarehouseClock } from '../warehouse/clock.js';

export type { StreamResult, StreamMessage, DeadLetter, PartitionOffset } from './types.js';
export { DLQ_HEADERS } from './dlq.js';
export { parseReplayLine } from './file-runner.js';

export interface StreamOptions {
  config: ShopdataConfig;
  logger: Logger;
  /** SIGTERM/SIGINT. */
  signal: AbortSignal;
  fromFile?: string;
  untilIdle: boolean;
  idleMs: number;
  topics: string[];
  groupId: string;
  dlqTopic: string;
  batchSize: number;
  batchMaxMs: number;
  /** 0 or undefined: no metrics endpoint. */
  metricsPort?: number;
  metricsHost?: string;
  router: TopicRouter;
  vaultDatabase: string;
  /** `<ops>.loads` gets one row per vault table and record source of each batch. */
  opsDatabase: string;
  giveUpAfterMs: number;
  shutdownGraceMs: number;
  /**
   * Decode and map, but insert nothing and write no dead letter. With Kafka, the caller passes a
   * throwaway group so the real group's offsets stay where they are.
   */
  dryRun?: boolean;
  /** Called once the metrics endpoint listens (tests, logs). */
  onMetricsListening?: (port: number) => void;
  /** --from-file: longest line accepted in bytes; longer lines are rejected unread. */
  maxLineBytes?: number;
  /** Worker threads that decode, map and encode batches; 0 = in the main thread. Default: `defaultWorkers()`. */
  workers?: number;
}

/** One worker per core, at most 4: the main thread mostly waits on Kafka and ClickHouse. */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** Runs the stream (Kafka or replay file) until caught up, end of file, a signal, or a failure. */
export async function runStream(o: StreamOptions): Promise<StreamResult> {
  const started = Date.now();
  const piiSalt = requirePiiSalt(o.config);
  if (o.batchSize < 1) throw new ConfigError('--batch-size must be at least 1.');
  const metrics = new StreamMetrics();
  const server = o.metricsPort ? await serveMetrics(metrics, o.metricsPort, o.metricsHost) : undefined;
  if (server) {
    o.logger.info({ port: server.port }, 'stream: metrics on /metrics');
    o.onMetricsListening?.(server.port);
  }
  let warehouse: Warehouse | undefined;
  let dlq: DeadLetterSink | undefined;
  let pool: PreparePool | undefined;
  const result: StreamResult = {
    source: o.fromFile ? 'file' : 'kafka',
    topics: {},
    sourceTables: {},
    vaultRows: {},
    dlq: { count: 0, destination: '', reasons: {} },
    offsetsCommitted: {},
    batches: 0,
    durationMs: 0,
    stoppedBy: 'error',
  };
  const account = (outcome: BatchOutcome) => {
    result.batches++;
    for (const [topic, c] of outcome.counts) {
      const t = (result.topics[topic] ??= { events: 0, loaded: 0, skipped: 0, dlq: 0 });
      t.events += c.events;
      t.loaded += c.loaded;
      t.skipped += c.skipped;
      t.dlq += c.dlq;
    }
    for (const [k, n] of Object.entries(outcome.sourceTables))
      result.sourceTables[k] = (result.sourceTables[k] ?? 0) + n;
    for (const [k, n] of Object.entries(outcome.vaultRows))
      result.vaultRows[k] = (result.vaultRows[k] ?? 0) + n;
    for (const r of outcome.rejects) {
      result.dlq.count++;
      result.dlq.reasons[r.reason] = (result.dlq.reasons[r.reason] ?? 0) + 1;
    }
  };

  try {
    warehouse = await openConfiguredWarehouse(o.config);
    await checkVaultTables(warehouse, o.vaultDatabase, o.opsDatabase);
    // The loader retries inserts itself (backoff, metrics, --give-up-after); no retry rounds below it.
    warehouse = await forRetryingCaller(warehouse);
    if (o.dryRun) warehouse = dryRunWarehouse(warehouse);
    const kafka = o.fromFile ? undefined : createKafka(o.config, o.logger);
    dlq = o.dryRun
      ? new CountingDeadLetterSink()
      : o.fromFile
        ? new FileDeadLetterSink(`${o.fromFile}.rejects.jsonl`)
        : new KafkaDeadLetterSink(kafka!, o.dlqTopic);
    result.dlq.destination = dlq.description;
    if (warehouse.insertEncoded)
      pool = PreparePool.create(o.workers ?? defaultWorkers(), {
        prefixes: o.router.prefixes,
        piiSalt,
        format: 'RowBinary',
      });
    const loader = new Loader({
      ...(pool ? { pool } : {}),
      warehouse,
      vaultDatabase: o.vaultDatabase,
      opsDatabase: o.opsDatabase,
      piiSalt,
      clock: await readWarehouseClock(warehouse),
      router: o.router,
      dlq,
      logger: o.logger,
      metrics,
      giveUpAfterMs: o.giveUpAfterMs,
    });
    if (o.fromFile) {
      const r = await runFile({
        path: o.fromFile,
        loader,
        rejects: dlq,
        logger: o.logger,
        batchSize: o.batchSize,
        batchMaxMs: o.batchMaxMs,
        follow: !o.untilIdle,
        signal: o.signal,
        onBatch: account,
        ...(o.maxLineBytes !== undefined ? { maxLineBytes: o.maxLineBytes } : {}),
      });
      result.offsetsCommitted = { [o.fromFile]: String(r.lines) };
      result.stoppedBy = r.stoppedBy === 'eof' ? 'eof' : signalName(o.signal);
    } else {
      const r = await runKafka({
        kafka: kafka!,
        groupId: o.groupId,
        topics: o.topics,
        loader,
        logger: o.logger,
        metrics,
        batchSize: o.batchSize,
        batchMaxMs: o.batchMaxMs,
        untilIdle: o.untilIdle,
        idleMs: o.idleMs,
        signal: o.signal,
        shutdownGraceMs: o.shutdownGraceMs,
        giveUpAfterMs: o.giveUpAfterMs,
        onBatch: (outcome) => account(outcome),
      });
      result.offsetsCommitted = r.committed;
      result.stoppedBy = r.stoppedBy === 'idle' ? 'idle' : signalName(o.signal);
    }
  } finally {
    result.durationMs = Date.now() - started;
    await pool?.close().catch(() => undefined);
    await dlq?.close().catch(() => undefined);
    await warehouse?.close().catch(() => undefined);
    await server?.close();
  }
  return result;
}

function signalName(signal: AbortSignal): StreamResult['stoppedBy'] {
  const reason = (signal.reason as Error | undefined)?.message;
  return reason === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
}

/** Fails fast (exit 2) when the vault tables are missing, instead of retrying inserts forever. */
async function checkVaultTables(wh: Warehouse, database: string, opsDatabase: string): Promise<void> {
  const names = sqlStringList(VAULT_TABLES.map((t) => t.name));
  const rows = await wh.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE (database = ${sqlString(database)} AND name IN (${names})) OR (database = ${sqlString(opsDatabase)} AND name = 'loads')`,
  );
  const present = new Set(rows.map((r) => r.name));
  const missing = [...VAULT_TABLES.map((t) => t.name), 'loads']
    .filter((name) => !present.has(name))
    .map((name) => (name === 'loads' ? `${opsDatabase}.loads` : name));
  if (missing.length > 0) {
    throw new ConfigError(
      `The vault database "${database}" (and ${opsDatabase}.loads) lacks ${missing.length} of the ${VAULT_TABLES.length + 1} tables the stream writes (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}).`,
      {
        hint: 'Run `shopdata warehouse migrate` against this ClickHouse first.',
      },
    );
  }
}
