import { randomUUID } from 'node:crypto';
import { DecodeError, decodeMessage, type Decoded } from '../debezium/decode.js';
import type { TopicRouter } from '../debezium/topics.js';
import { DependencyUnavailableError, isNetworkError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { retry } from '../retry/index.js';
import type { StreamMetrics } from '../observability/metrics.js';
import { ATTRS, SPANS, batchParent, withSpan, type KafkaHeaders } from '../observability/tracing.js';
import { mapChangesIsolated } from '../vault/mapping.js';
import { redactInsertError } from './dlq.js';
import { VAULT_TABLES } from '../vault/tables.js';
import { loadAuditRows } from '../vault/writer.js';
import type { SourceChange, VaultRowSet } from '../vault/types.js';
import type { Warehouse } from '../warehouse/types.js';
import type { Clock } from '../warehouse/clock.js';
import type { DeadLetter, DeadLetterSink, PartitionOffset, StreamMessage, TopicCounts } from './types.js';

/**
 * The part of the stream that does not care where messages come from: decode each message, gather
 * a batch, map it with the shared vault mapping, insert it into ClickHouse and dead-letter what
 * cannot be loaded — retrying with backoff while a dependency is down — and only then report the
 * offsets that are safe to commit. The runners (Kafka, replay file) decide when to flush.
 */

export interface LoaderOptions {
  warehouse: Warehouse;
  vaultDatabase: string;
  /** Where each confirmed batch is recorded in `<ops>.loads` (what `top` reads its freshness from). */
  opsDatabase: string;
  piiSalt: string;
  /** Stamps load_ts: the warehouse server's clock (warehouse/clock.ts). */
  clock: Clock;
  router: TopicRouter;
  dlq: DeadLetterSink;
  logger: Logger;
  metrics?: StreamMetrics;
  /** Give up (exit 3) when a dependency stays unreachable this long; 0 = never. */
  giveUpAfterMs: number;
  /** First retry delay; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** A batch being gathered: decoded changes, rejects and the offsets they cover. */
export class Batch {
  readonly createdAt = Date.now();
  readonly changes: SourceChange[] = [];
  /** The message each change came from, for dead-lettering it if mapping fails. */
  readonly changeMessages: StreamMessage[] = [];
  readonly rejects: DeadLetter[] = [];
  /** Next offset per `topic\0partition`. */
  readonly offsets = new Map<string, PartitionOffset>();
  /** First offset per `topic/partition`, for the batch span. */
  readonly firstOffsets = new Map<string, string>();
  readonly counts = new Map<string, TopicCounts>();
  /** Headers of the first records that carry trace context, for the batch span's parent and links. */
  readonly traceHeaders: KafkaHeaders[] = [];
  messages = 0;
  /** Vault rows and mapping rejects, once mapped (Loader.prepare). */
  mapped: Mapped | undefined;

  countsFor(topic: string): TopicCounts {
    let c = this.counts.get(topic);
    if (!c) this.counts.set(topic, (c = { events: 0, loaded: 0, skipped: 0, dlq: 0 }));
    return c;
  }
}

interface Mapped {
  rows: VaultRowSet;
  rejects: DeadLetter[];
  rejected: Set<SourceChange>;
}

export interface BatchOutcome {
  offsets: PartitionOffset[];
  counts: Map<string, TopicCounts>;
  vaultRows: Record<string, number>;
  sourceTables: Record<string, number>;
  rejects: DeadLetter[];
  messages: number;
  durationMs: number;
}

/** Thrown when the loader was told to stop while it waited for a dependency; nothing was committed. */
export class LoaderAbortedError extends Error {
  constructor() {
    super('stopped while waiting for a dependency; the batch was not committed and will be redelivered');
    this.name = 'LoaderAbortedError';
  }
}

const TABLE_KIND = new Map(VAULT_TABLES.map((t) => [t.name, t.kind]));

export class Loader {
  private current = new Batch();
  /** This process's loads in `<ops>.loads`. */
  readonly runId = `stream-${randomUUID().slice(0, 8)}`;
  private readonly lastEventSeconds = new Map<string, number>();
  /** Messages added and not yet processed (gathering + in flight). */
  buffered = 0;

  constructor(private readonly o: LoaderOptions) {
    if (o.metrics) o.metrics.bufferedSource = () => this.buffered;
  }

  /** Decodes one message into the current batch (cheap and synchronous; no I/O). */
  add(msg: StreamMessage): void {
    const b = this.current;
    b.messages++;
    this.buffered++;
    const counts = b.countsFor(msg.topic);
    counts.events++;
    const tpKey = `${msg.topic}\u0000${msg.partition}`;
    b.offsets.set(tpKey, {
      topic: msg.topic,
      partition: msg.partition,
      offset: (BigInt(msg.offset) + 1n).toString(),
    });
    const tpName = `${msg.topic}/${msg.partition}`;
    if (!b.firstOffsets.has(tpName)) b.firstOffsets.set(tpName, msg.offset);
    if (msg.headers && b.traceHeaders.length < 64 && hasTraceparent(msg.headers))
      b.traceHeaders.push(msg.headers);

    // decodeMessage answers reject rather than throw; the guard keeps that true for this offset,
    // which is already recorded: no offset may be committed without its row or its dead letter.
    let decoded: Decoded;
    try {
      decoded = decodeMessage(msg, { router: this.o.router });
    } catch {
      const error = new DecodeError(
        'decode-failed',
        'Decoding failed unexpectedly; the event was not loaded.',
      );
      decoded = { kind: 'reject', error };
    }
    if (decoded.kind === 'change') {
      b.changes.push(decoded.change);
      b.changeMessages.push(msg);
    } else if (decoded.kind === 'skip') {
      counts.skipped++;
    } else {
      counts.dlq++;
      b.rejects.push({ message: msg, reason: decoded.error.reason, error: decoded.error.message });
    }
  }

  /** A message rejected before decoding (a replay line that is not a message); counts as consumed. */
  addReject(letter: DeadLetter): void {
    const b = this.current;
    b.messages++;
    this.buffered++;
    const counts = b.countsFor(letter.message.topic || '(unparsed line)');
    counts.events++;
    counts.dlq++;
    b.rejects.push(letter);
  }

  /** Messages in the batch being gathered. */
  get pending(): number {
    return this.current.messages;
  }

  /** Age of the batch being gathered (0 when empty). */
  get pendingAgeMs(): number {
    return this.current.messages === 0 ? 0 : Date.now() - this.current.createdAt;
  }

  /** Hands over the gathered batch and starts a new one. */
  take(): Batch {
    const b = this.current;
    this.current = new Batch();
    return b;
  }

  /**
   * Maps a batch to vault rows now (CPU work), so a runner can do it while the previous batch's
   * insert is still waiting for ClickHouse. process() maps it itself if this was not called.
   */
  prepare(batch: Batch): void {
    batch.mapped ??= this.map(batch);
  }

  /**
   * Maps, inserts and dead-letters a batch; resolves once ClickHouse confirmed every row and every
   * dead letter is written. Waits (with backoff) while a dependency is down. `stop` aborts the
   * wait: then it throws LoaderAbortedError and the batch must not be committed.
   */
  async process(batch: Batch, stop?: AbortSignal): Promise<BatchOutcome> {
    try {
      return await withSpan(
        SPANS.streamBatch,
        {
          kind: 'consumer',
          parent: batchParent(batch.traceHeaders),
          attributes: {
            [ATTRS.messagingSystem]: 'kafka',
            [ATTRS.operationType]: 'process',
            [ATTRS.batchCount]: batch.messages,
          },
        },
        async (span) => {
          const outcome = await this.load(batch, stop);
          span.setAttributes({
            [ATTRS.destination]: [...batch.counts.keys()],
            [ATTRS.partition]: outcome.offsets.map((o) => `${o.topic}/${o.partition}`),
            [ATTRS.offsetFirst]: [...batch.firstOffsets].map(([k, v]) => `${k}@${v}`),
            [ATTRS.offsetLast]: outcome.offsets.map(
              (o) => `${o.topic}/${o.partition}@${BigInt(o.offset) - 1n}`,
            ),
            [ATTRS.rows]: Object.values(outcome.vaultRows).reduce((a, b) => a + b, 0),
            [ATTRS.tables]: Object.keys(outcome.vaultRows),
            [ATTRS.dlq]: outcome.rejects.length,
          });
          return outcome;
        },
      );
    } finally {
      this.buffered -= batch.messages;
    }
  }

  /** The batch's work inside its span: map, insert and dead-letter in parallel, then count. */
  private async load(batch: Batch, stop?: AbortSignal): Promise<BatchOutcome> {
    const started = Date.now();
    const { logger } = this.o;
    const { rows, rejects, rejected } = (batch.mapped ??= this.map(batch));
    const [vaultRows] = await Promise.all([
      rows.size === 0
        ? Promise.resolve({} as Record<string, number>)
        : withSpan(SPANS.streamInsert, { attributes: { [ATTRS.tables]: [...rows.keys()] } }, () =>
            this.retrying('clickhouse', () => this.insert(rows), stop),
          ),
      rejects.length === 0
        ? Promise.resolve()
        : withSpan(SPANS.streamDeadLetter, { attributes: { [ATTRS.dlq]: rejects.length } }, () =>
            this.retrying('kafka', () => this.o.dlq.send(rejects), stop),
          ),
    ]);
    const confirmedAt = Date.now();

    const sourceTables: Record<string, number> = {};
    const newest = new Map<string, number>();
    const newestByTopic = new Map<string, number>();
    batch.changes.forEach((c, i) => {
      if (rejected.has(c)) return;
      sourceTables[c.table] = (sourceTables[c.table] ?? 0) + 1;
      if ((newest.get(c.table) ?? -Infinity) < c.commitTsUs) newest.set(c.table, c.commitTsUs);
      const topic = batch.changeMessages[i]!.topic;
      if ((newestByTopic.get(topic) ?? -Infinity) < c.commitTsUs) newestByTopic.set(topic, c.commitTsUs);
    });
    for (const m of batch.counts.values()) m.loaded = m.events - m.skipped - m.dlq;
    this.record(batch, vaultRows, rejects, { newest, newestByTopic, started, confirmedAt });
    logger.debug(
      {
        stream: { messages: batch.messages, rows: vaultRows, dlq: rejects.length, ms: confirmedAt - started },
      },
      'batch loaded',
    );
    return {
      offsets: [...batch.offsets.values()],
      counts: batch.counts,
      vaultRows,
      sourceTables,
      rejects,
      messages: batch.messages,
      durationMs: confirmedAt - started,
    };
  }

  /** The batch's figures into the stream's metrics. */
  private record(
    batch: Batch,
    vaultRows: Record<string, number>,
    rejects: DeadLetter[],
    t: {
      newest: Map<string, number>;
      newestByTopic: Map<string, number>;
      started: number;
      confirmedAt: number;
    },
  ): void {
    const { metrics } = this.o;
    if (!metrics) return;
    for (const [topic, c] of batch.counts) {
      metrics.eventsConsumed.inc({ topic }, c.events);
      if (c.loaded) metrics.events.inc({ topic, outcome: 'loaded' }, c.loaded);
      if (c.skipped) metrics.events.inc({ topic, outcome: 'skipped' }, c.skipped);
      if (c.dlq) metrics.events.inc({ topic, outcome: 'dlq' }, c.dlq);
    }
    for (const [table, n] of Object.entries(vaultRows)) metrics.rowsInserted.inc({ table }, n);
    for (const r of rejects) metrics.dlq.inc({ topic: r.message.topic, reason: r.reason });
    for (const [table, us] of t.newest)
      metrics.freshness.set({ table }, Math.max(0, t.confirmedAt / 1000 - us / 1e6));
    for (const [topic, us] of t.newestByTopic) {
      // A gauge of the newest event: never move it backwards on a redelivered or late batch.
      const prev = this.lastEventSeconds.get(topic) ?? 0;
      if (us / 1e6 > prev) {
        this.lastEventSeconds.set(topic, us / 1e6);
        metrics.lastEventTimestamp.set({ topic }, us / 1e6);
      }
    }
    metrics.batches.inc();
    metrics.lastBatchTimestamp.set(t.confirmedAt / 1000);
    metrics.batchSeconds.observe((t.confirmedAt - t.started) / 1000);
    metrics.batchEvents.observe(batch.messages);
  }

  /**
   * Inserts hubs, then links, then satellites (so a reader never sees a child without its parent,
   * as insertRowSet guarantees), with the tables of one kind in parallel requests.
   */
  private async insert(rows: VaultRowSet): Promise<Record<string, number>> {
    for (const table of rows.keys()) {
      if (!TABLE_KIND.has(table))
        throw new Error(`Row set holds rows for "${table}", which is not a vault table.`);
    }
    const written: Record<string, number> = {};
    for (const kind of ['hub', 'link', 'satellite'] as const) {
      const tables = VAULT_TABLES.filter((t) => t.kind === kind && (rows.get(t.name)?.length ?? 0) > 0);
      await Promise.all(
        tables.map((t) => this.o.warehouse.insert(`${this.o.vaultDatabase}.${t.name}`, rows.get(t.name)!)),
      );
      for (const t of tables) written[t.name] = rows.get(t.name)!.length;
    }
    const loads = loadAuditRows(rows, 'stream', this.runId, this.o.clock.now());
    if (loads.length > 0) await this.o.warehouse.insert(`${this.o.opsDatabase}.loads`, loads);
    return written;
  }

  /** The batch's vault rows; changes the mapping rejects become dead letters, the rest still load. */
  private map(batch: Batch): Mapped {
    const ctx = { piiSalt: this.o.piiSalt, loadTs: this.o.clock.now() };
    const rejects = [...batch.rejects];
    const rejected = new Set<SourceChange>();
    const mapped = mapChangesIsolated(batch.changes, ctx);
    for (const r of mapped.rejected) {
      const msg = batch.changeMessages[r.index]!;
      rejects.push({
        message: msg,
        reason: 'mapping-failed',
        error: r.error.message + (r.error.hint ? ` (${r.error.hint})` : ''),
      });
      batch.countsFor(msg.topic).dlq++;
      rejected.add(r.change);
    }
    return { rows: mapped.rows, rejects, rejected };
  }

  /**
   * Runs `fn` until it succeeds. Network failures are retried with exponential backoff until
   * `giveUpAfterMs`; other failures three times (ClickHouse may refuse under load), then thrown.
   */
  private async retrying<T>(
    dependency: 'clickhouse' | 'kafka',
    fn: () => Promise<T>,
    stop?: AbortSignal,
  ): Promise<T> {
    const { logger, metrics } = this.o;
    const name = dependency === 'clickhouse' ? 'ClickHouse' : 'Kafka';
    let failures = 0;
    try {
      const result = await retry(fn, {
        retryable: (err, attempt) => isTransient(err) || attempt <= 3,
        budgetMs: this.o.giveUpAfterMs,
        baseMs: this.o.backoffMs ?? 500,
        maxMs: this.o.maxBackoffMs ?? 15_000,
        jitter: 0.2,
        signal: stop,
        onRetry: ({ attempt, err, delayMs }) => {
          failures = attempt;
          metrics?.retries.inc({ dependency });
          if (dependency === 'clickhouse') metrics?.warehouseUp.set(0);
          logger.warn(
            {
              dependency,
              attempt,
              retryInMs: delayMs,
              err: { message: redactInsertError(String((err as Error)?.message)) },
            },
            `${dependency} failed; consumption paused, retrying`,
          );
        },
        giveUp: ({ err, elapsedMs }) =>
          isTransient(err)
            ? new DependencyUnavailableError(
                dependency,
                `${name} stayed unavailable for ${Math.round(elapsedMs / 1000)} s: ${(err as Error).message}`,
                {
                  cause: err,
                  hint: 'Nothing of the pending batch was committed; it is redelivered on the next start. Check the service, then restart the stream.',
                },
              )
            : err,
      });
      if (failures > 0) {
        logger.info({ dependency, attempts: failures + 1 }, `${dependency} is back; resuming`);
        if (dependency === 'clickhouse') metrics?.warehouseUp.set(1);
      }
      return result;
    } catch (err) {
      if (stop?.aborted) throw new LoaderAbortedError();
      throw err;
    }
  }
}

function isTransient(err: unknown): boolean {
  return isNetworkError(err) || err instanceof DependencyUnavailableError || isKafkaRetriable(err);
}

function isKafkaRetriable(err: unknown): boolean {
  const e = err as { retriable?: boolean; name?: string } | undefined;
  return (
    !!e &&
    (e.retriable === true ||
      (typeof e.name === 'string' && e.name.startsWith('KafkaJS') && e.name !== 'KafkaJSNonRetriableError'))
  );
}

function hasTraceparent(headers: NonNullable<KafkaHeaders>): boolean {
  for (const k in headers) if (k.toLowerCase() === 'traceparent') return true;
  return false;
}
