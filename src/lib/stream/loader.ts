import { randomUUID } from 'node:crypto';
import type { TopicRouter } from '../debezium/topics.js';
import { DependencyUnavailableError, isNetworkError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { retry } from '../retry/index.js';
import type { StreamMetrics } from '../observability/metrics.js';
import { ATTRS, SPANS, batchParent, withSpan, type KafkaHeaders } from '../observability/tracing.js';
import { SOURCE_TABLES } from '../vault/types.js';
import type { Warehouse } from '../warehouse/types.js';
import type { Clock } from '../warehouse/clock.js';
import type { PreparePool } from './pool.js';
import { redactInsertError } from './dlq.js';
import {
  KeyCache,
  prepareMessages,
  type PrepareFormat,
  type PreparedBatch,
  type LoadAudit,
  type PreparedTable,
} from './prepare.js';
import type { DeadLetter, DeadLetterSink, PartitionOffset, StreamMessage, TopicCounts } from './types.js';

/**
 * The part of the stream that does not care where messages come from: gather a batch, prepare it
 * (decode, map with the shared vault mapping, encode; in worker threads when a pool is given),
 * insert it into ClickHouse and dead-letter what cannot be loaded — retrying with backoff while a
 * dependency is down — and only then report the offsets that are safe to commit. The runners
 * (Kafka, replay file) decide when to flush.
 *
 * A batch that ClickHouse refuses for a row's data (a parse or range error, not an outage) is cut
 * in halves until the refused events are isolated; they go to the dead letters with the server's
 * error code and the rest of the batch loads. Re-inserting the halves that loaded is harmless: the
 * vault tables collapse repeats.
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
  /** Worker threads that prepare batches; without it they are prepared in this thread. */
  pool?: PreparePool;
  /** Give up (exit 3) when a dependency stays unreachable this long; 0 = never. */
  giveUpAfterMs: number;
  /** First retry delay; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** A batch being gathered: the messages, rejects and the offsets they cover. */
export class Batch {
  readonly createdAt = Date.now();
  readonly messages: StreamMessage[] = [];
  /** Lines rejected before they were messages (replay files). */
  readonly rejects: DeadLetter[] = [];
  /** Next offset per `topic\0partition`. */
  readonly offsets = new Map<string, PartitionOffset>();
  /** First offset per `topic/partition`, for the batch span. */
  readonly firstOffsets = new Map<string, string>();
  readonly counts = new Map<string, TopicCounts>();
  /** Headers of the first records that carry trace context, for the batch span's parent and links. */
  readonly traceHeaders: KafkaHeaders[] = [];
  /** Messages and early rejects. */
  size = 0;
  /** Decoded, mapped and encoded (Loader.prepare). */
  prepared: Promise<PreparedBatch> | undefined;

  countsFor(topic: string): TopicCounts {
    let c = this.counts.get(topic);
    if (!c) this.counts.set(topic, (c = { events: 0, loaded: 0, skipped: 0, dlq: 0 }));
    return c;
  }
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

/**
 * ClickHouse error codes that blame the inserted data, not the server or the table: parse and
 * conversion errors, values out of range, throwIf and constraint checks.
 */
const ROW_DATA_CODES = new Set([6, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 131, 321, 395, 407, 469]);

/** The ClickHouse error code of a failure (client error code, or `Code: N` in the message). */
export function clickhouseErrorCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
    if (typeof code === 'number') return code;
    const m = /\bCode: (\d+)/.exec(String((e as { message?: unknown }).message ?? ''));
    if (m) return Number(m[1]);
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function isRowDataError(err: unknown): boolean {
  const code = clickhouseErrorCode(err);
  return code !== undefined && ROW_DATA_CODES.has(code) && !isNetworkError(err);
}

/** The vault table an insert failed on (kept beside the error, which belongs to the client). */
const failedTable = new WeakMap<object, string>();

export class Loader {
  private current = new Batch();
  /** This process's loads in `<ops>.loads`. */
  readonly runId = `stream-${randomUUID().slice(0, 8)}`;
  private readonly lastEventSeconds = new Map<string, number>();
  private readonly format: PrepareFormat;
  /** Hub and link keys ClickHouse confirmed, when batches are prepared in this thread. */
  private readonly keys = new KeyCache();
  private nextToken = 0;
  /** Messages added and not yet processed (gathering + in flight). */
  buffered = 0;

  constructor(private readonly o: LoaderOptions) {
    if (o.metrics) o.metrics.bufferedSource = () => this.buffered;
    this.format = o.warehouse.insertEncoded ? 'RowBinary' : 'objects';
  }

  /** Adds one message to the current batch (cheap and synchronous: decoding comes with prepare). */
  add(msg: StreamMessage): void {
    const b = this.current;
    b.size++;
    this.buffered++;
    b.messages.push(msg);
    b.countsFor(msg.topic).events++;
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
  }

  /** A message rejected before decoding (a replay line that is not a message); counts as consumed. */
  addReject(letter: DeadLetter): void {
    const b = this.current;
    b.size++;
    this.buffered++;
    const counts = b.countsFor(letter.message.topic || '(unparsed line)');
    counts.events++;
    counts.dlq++;
    b.rejects.push(letter);
  }

  /** Messages in the batch being gathered. */
  get pending(): number {
    return this.current.size;
  }

  /** Age of the batch being gathered (0 when empty). */
  get pendingAgeMs(): number {
    return this.current.size === 0 ? 0 : Date.now() - this.current.createdAt;
  }

  /** Hands over the gathered batch and starts a new one. */
  take(): Batch {
    const b = this.current;
    this.current = new Batch();
    return b;
  }

  /**
   * Starts preparing a batch (in the workers, or right here), so a runner can have it done while
   * the previous batch's insert is still waiting for ClickHouse. process() starts it if needed.
   */
  prepare(batch: Batch): void {
    if (batch.prepared) return;
    batch.prepared = this.prepareNow(batch.messages);
    batch.prepared.catch(() => undefined); // surfaced by process()
  }

  private prepareNow(messages: readonly StreamMessage[]): Promise<PreparedBatch> {
    const loadTsMs = this.o.clock.now().getTime();
    if (this.o.pool && this.format === 'RowBinary') return this.o.pool.prepare(messages, loadTsMs);
    try {
      const token = this.nextToken++;
      const batch = prepareMessages(
        messages,
        { router: this.o.router, piiSalt: this.o.piiSalt, loadTsMs, format: this.format },
        { keys: this.keys, token },
      );
      return Promise.resolve({ ...batch, tokens: [{ slot: -1, token }] });
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * Prepares, inserts and dead-letters a batch; resolves once ClickHouse confirmed every row and
   * every dead letter is written. Waits (with backoff) while a dependency is down. `stop` aborts
   * the wait: then it throws LoaderAbortedError and the batch must not be committed.
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
            [ATTRS.batchCount]: batch.size,
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
      this.buffered -= batch.size;
    }
  }

  /** The batch's work inside its span: prepare, insert and dead-letter in parallel, then count. */
  private async load(batch: Batch, stop?: AbortSignal): Promise<BatchOutcome> {
    const started = Date.now();
    const { logger } = this.o;
    let prepared: PreparedBatch | undefined;
    let settled = false;
    try {
      this.prepare(batch);
      prepared = await batch.prepared!;
      const rejects: DeadLetter[] = [...batch.rejects];
      for (const i of prepared.skipped) batch.countsFor(batch.messages[i]!.topic).skipped++;
      for (const r of prepared.rejects) {
        const message = batch.messages[r.index]!;
        batch.countsFor(message.topic).dlq++;
        rejects.push({ message, reason: r.reason, error: r.error });
      }
      const ready = prepared;
      const [inserted] = await Promise.all([
        ready.tables.length === 0
          ? Promise.resolve({ vaultRows: {} as Record<string, number>, refused: [] as Refusal[] })
          : withSpan(
              SPANS.streamInsert,
              { attributes: { [ATTRS.tables]: ready.tables.map((t) => t.table) } },
              () => this.insertIsolating(batch, ready, stop),
            ),
        rejects.length === 0 ? Promise.resolve() : this.deadLetter(rejects, stop),
      ]);
      const { vaultRows, refused } = inserted;
      settled = true;
      this.settle(prepared, refused.length === 0 ? 'confirm' : 'drop');
      if (refused.length > 0) {
        const letters = refused.map((r) => r.letter);
        await this.deadLetter(letters, stop);
        for (const l of letters) batch.countsFor(l.message.topic).dlq++;
        rejects.push(...letters);
      }
      const confirmedAt = Date.now();

      const refusedIdx = new Set(refused.map((r) => r.index));
      const sourceTables: Record<string, number> = {};
      const newest = new Map<string, number>();
      const newestByTopic = new Map<string, number>();
      for (let k = 0; k < prepared.loaded.length; k++) {
        const i = prepared.loaded[k]!;
        if (refusedIdx.has(i)) continue;
        const table = SOURCE_TABLES[prepared.loadedTable[k]!]!;
        const us = prepared.loadedTs[k]!;
        sourceTables[table] = (sourceTables[table] ?? 0) + 1;
        if ((newest.get(table) ?? -Infinity) < us) newest.set(table, us);
        const topic = batch.messages[i]!.topic;
        if ((newestByTopic.get(topic) ?? -Infinity) < us) newestByTopic.set(topic, us);
      }
      for (const m of batch.counts.values()) m.loaded = m.events - m.skipped - m.dlq;
      this.record(batch, vaultRows, rejects, { newest, newestByTopic, started, confirmedAt });
      logger.debug(
        {
          stream: { messages: batch.size, rows: vaultRows, dlq: rejects.length, ms: confirmedAt - started },
        },
        'batch loaded',
      );
      return {
        offsets: [...batch.offsets.values()],
        counts: batch.counts,
        vaultRows,
        sourceTables,
        rejects,
        messages: batch.size,
        durationMs: confirmedAt - started,
      };
    } catch (err) {
      if (prepared && !settled) this.settle(prepared, 'drop');
      throw err;
    }
  }

  private deadLetter(letters: DeadLetter[], stop?: AbortSignal): Promise<void> {
    return withSpan(SPANS.streamDeadLetter, { attributes: { [ATTRS.dlq]: letters.length } }, () =>
      this.retrying('kafka', () => this.o.dlq.send(letters), stop),
    );
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
    metrics.batchEvents.observe(batch.size);
  }

  /** Tells the key caches whether the batch's hub and link rows are in ClickHouse. */
  private settle(prepared: PreparedBatch, kind: 'confirm' | 'drop'): void {
    const tokens = prepared.tokens ?? [];
    const here = tokens.filter((t) => t.slot < 0);
    for (const t of here) {
      if (kind === 'confirm') this.keys.confirm(t.token);
      else this.keys.drop(t.token);
    }
    const there = tokens.filter((t) => t.slot >= 0);
    if (there.length) this.o.pool?.settle(there, kind);
  }

  /**
   * Inserts hubs and links, then satellites (so a reader never sees a satellite row without its
   * parent), the tables of each phase in parallel requests; then the batch's lines of `<ops>.loads`.
   */
  private async insertTables(
    tables: readonly PreparedTable[],
    audit: readonly LoadAudit[],
  ): Promise<Record<string, number>> {
    const written: Record<string, number> = {};
    const wh = this.o.warehouse;
    const phases = [
      tables.filter((t) => !t.table.startsWith('sat_')),
      tables.filter((t) => t.table.startsWith('sat_')),
    ];
    for (const phase of phases) {
      const results = await Promise.allSettled(
        phase.map((t) => {
          const name = `${this.o.vaultDatabase}.${t.table}`;
          return t.data
            ? wh.insertEncoded!(name, t.columns, 'RowBinary', t.data)
            : wh.insert(name, t.objects ?? []);
        }),
      );
      const failed = results.findIndex((r) => r.status === 'rejected');
      if (failed >= 0) {
        const err = (results[failed] as PromiseRejectedResult).reason as unknown;
        if (err && typeof err === 'object') failedTable.set(err, phase[failed]!.table);
        throw err;
      }
      for (const t of phase) written[t.table] = (written[t.table] ?? 0) + t.rows;
    }
    if (audit.length > 0) {
      const at = Math.floor(this.o.clock.now().getTime() / 1000);
      const loads = audit.map((a) => ({ ...a, loaded_at: at, command: 'stream', run_id: this.runId }));
      await wh.insert(`${this.o.opsDatabase}.loads`, loads);
    }
    return written;
  }

  /**
   * Inserts a prepared batch. When ClickHouse refuses it for a row's data, bisects the batch's
   * changes (re-preparing each half here) until the refused events are isolated, and returns them
   * as dead letters; the rest is inserted. If every change of a larger batch is refused, the
   * problem is the table or the server, not the rows: that error is thrown.
   */
  private async insertIsolating(
    batch: Batch,
    prepared: PreparedBatch,
    stop?: AbortSignal,
  ): Promise<{ vaultRows: Record<string, number>; refused: Refusal[] }> {
    let first: unknown;
    try {
      const vaultRows = await this.retrying(
        'clickhouse',
        () => this.insertTables(prepared.tables, prepared.audit),
        stop,
      );
      return { vaultRows, refused: [] };
    } catch (err) {
      if (!isRowDataError(err)) throw err;
      first = err;
    }
    const candidates = Array.from(prepared.loaded);
    this.o.logger.warn(
      {
        code: clickhouseErrorCode(first),
        table: failedTable.get(first as object),
        changes: candidates.length,
      },
      'ClickHouse refused rows of a batch; isolating them (the rest of the batch loads)',
    );
    const vaultRows: Record<string, number> = {};
    const refused: { index: number; err: unknown }[] = [];
    const attempt = async (idx: number[]): Promise<void> => {
      const sub = prepareMessages(
        idx.map((i) => batch.messages[i]!),
        {
          router: this.o.router,
          piiSalt: this.o.piiSalt,
          loadTsMs: this.o.clock.now().getTime(),
          format: this.format,
        },
      );
      const written = await this.retrying('clickhouse', () => this.insertTables(sub.tables, sub.audit), stop);
      for (const [t, n] of Object.entries(written)) vaultRows[t] = (vaultRows[t] ?? 0) + n;
    };
    const isolate = async (idx: number[]): Promise<void> => {
      if (idx.length === 1) {
        refused.push({ index: idx[0]!, err: first });
        return;
      }
      const mid = idx.length >> 1;
      for (const half of [idx.slice(0, mid), idx.slice(mid)]) {
        try {
          await attempt(half);
        } catch (err) {
          if (!isRowDataError(err)) throw err;
          first = err;
          await isolate(half);
        }
      }
    };
    await isolate(candidates);
    if (refused.length === candidates.length && candidates.length > 3) throw first;
    return {
      vaultRows,
      refused: refused.map((r) => ({
        index: r.index,
        letter: {
          message: batch.messages[r.index]!,
          reason: 'rejected-by-clickhouse',
          error: refusal(r.err),
        },
      })),
    };
  }

  /**
   * Runs `fn` until it succeeds. Network failures are retried with exponential backoff until
   * `giveUpAfterMs`; other failures three times (ClickHouse may refuse under load), then thrown.
   * A refusal for a row's data is thrown at once: retrying cannot help, isolating it does.
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
        retryable: (err, attempt) => !isRowDataError(err) && (isTransient(err) || attempt <= 3),
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

interface Refusal {
  index: number;
  letter: DeadLetter;
}

/** Why ClickHouse refused an event, without the server's message (it quotes the row's values). */
function refusal(err: unknown): string {
  const code = clickhouseErrorCode(err);
  const type = (err as { cause?: { type?: unknown } } | undefined)?.cause?.type;
  const table = err && typeof err === 'object' ? failedTable.get(err) : undefined;
  return (
    `ClickHouse refused this event's row${table ? ` in ${table}` : ''} (error ${code ?? '?'}${typeof type === 'string' && type ? ` ${type}` : ''}); ` +
    'the rest of its batch was loaded. Check the event against the vault column types; the server log has the full message.'
  );
}

function hasTraceparent(headers: NonNullable<KafkaHeaders>): boolean {
  for (const k in headers) if (k.toLowerCase() === 'traceparent') return true;
  return false;
}
