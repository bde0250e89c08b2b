import { randomUUID } from 'node:crypto';
import { decodeMessage } from '../debezium/decode.js';
import type { TopicRouter } from '../debezium/topics.js';
import { DependencyUnavailableError, isNetworkError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { retry } from '../retry/index.js';
import { changeToLakeRow } from '../lake/changes.js';
import { appendTo } from '../lake/iceberg/writer.js';
import type { ParquetCodec } from '../lake/parquet.js';
import { LAKE_SCHEMAS } from '../lake/schema.js';
import type { LakeTables } from '../lake/tables.js';
import type { DeadLetter, DeadLetterSink, StreamMessage } from '../stream/types.js';
import { SOURCE_TABLES, type SourceTable } from '../vault/types.js';
import type { ArchiveMetrics } from './metrics.js';
import {
  FILE_PROPERTY,
  OFFSETS_PROPERTY,
  archivedOffsets,
  encodeOffsets,
  splitTpKey,
  tpKey,
  type OffsetMap,
} from './offsets.js';

/**
 * The part of `archive` that does not care where messages come from: decode each message with the
 * stream's decoder, hold the changes per lake table, and commit a table's changes as one Iceberg
 * snapshot when its buffer is big or old enough. Each snapshot carries the Kafka offsets it covers
 * (offsets.ts), and a change is archived only if its offset is at or past the offset the table
 * already holds for its partition — checked against the very metadata the commit lands on — so a
 * redelivered message, a replay read twice or a second writer never adds a row twice.
 */

export interface ArchiverOptions {
  tables: LakeTables;
  router: TopicRouter;
  dlq: DeadLetterSink;
  logger: Logger;
  metrics?: ArchiveMetrics | undefined;
  /** Commit a table when it holds this many bytes of messages. */
  rollBytes: number;
  /** Commit a table when its oldest held message is this old (ms). */
  rollMs: number;
  /** Commit the biggest table when all of them together hold this many bytes. */
  maxBufferedBytes: number;
  codec?: ParquetCodec | undefined;
  /** Give up (exit 3) when the lake or the DLQ stay unreachable this long; 0 = never. */
  giveUpAfterMs: number;
  /** Aborts waiting for a dependency (shutdown grace over). */
  stop?: AbortSignal | undefined;
  /**
   * A replay file: each commit records the position before which every line is in the lake
   * (FILE_PROPERTY), so a restart reads on from there.
   */
  file?: { path: string; headBytes: number; headSha256: string } | undefined;
  /** Decode and count what would be committed; write no file, no commit, no dead letter. */
  dryRun?: boolean | undefined;
}

export interface TopicCounts {
  events: number;
  archived: number;
  skipped: number;
  duplicates: number;
  dlq: number;
}

export interface TableCounts {
  rows: number;
  files: number;
  commits: number;
  snapshotId?: string;
}

interface Held {
  row: Record<string, unknown>;
  key: string;
  offset: bigint;
}

class TableBuffer {
  readonly rows: Held[] = [];
  readonly rejects: DeadLetter[] = [];
  /** Next offset per partition covered by what this buffer holds (rows, tombstones, rejects). */
  readonly marks: OffsetMap = new Map();
  /** Per partition: when its oldest held message was produced (ms), for lag in seconds. */
  readonly oldest = new Map<string, number>();
  bytes = 0;
  firstAt = 0;
  /** Replay file: where the first held line starts (everything before it of this table is committed). */
  firstPos: number | undefined;
  /** Lines before the first held line. */
  firstLine = 0;

  get empty(): boolean {
    return this.marks.size === 0 && this.rejects.length === 0;
  }
}

export class Archiver {
  /** Next offset per partition that the lake holds (all tables). */
  private readonly committed: OffsetMap = new Map();
  /** Next offset per partition that is in the lake or held here: anything below is a duplicate. */
  private readonly seen: OffsetMap = new Map();
  private readonly buffers = new Map<SourceTable, TableBuffer>();
  private orphanRejects: DeadLetter[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  /** Replay file: bytes and lines read so far (complete lines). */
  private readPosition = { position: 0, lines: 0 };
  readonly topics: Record<string, TopicCounts> = {};
  readonly tables: Record<string, TableCounts> = {};
  readonly dlqReasons: Record<string, number> = {};
  /** After a table's commit: the lake's next offsets for the partitions it covered (Kafka: commit the group). */
  onCommitted: ((table: SourceTable, offsets: OffsetMap) => Promise<void>) | undefined;

  constructor(private readonly o: ArchiverOptions) {
    if (o.metrics) o.metrics.bufferedSource = () => this.bufferedBytes;
  }

  /** Reads what every lake table already holds (call before adding, and after a rebalance). */
  async loadCommitted(): Promise<void> {
    for (const table of SOURCE_TABLES) {
      const loaded = await this.retrying('lake', () => this.o.tables.ref(table).load());
      for (const [k, v] of archivedOffsets(loaded?.metadata)) this.advance(k, v);
    }
  }

  private advance(key: string, next: bigint): void {
    if ((this.committed.get(key) ?? -1n) < next) this.committed.set(key, next);
    if ((this.seen.get(key) ?? -1n) < next) this.seen.set(key, next);
  }

  /** The next offset the lake holds for a partition (undefined: nothing archived from it). */
  committedOffset(topic: string, partition: number): bigint | undefined {
    return this.committed.get(tpKey(topic, partition));
  }

  /** The next offset not yet read (in the lake or held here) for a partition. */
  seenOffset(topic: string, partition: number): bigint | undefined {
    return this.seen.get(tpKey(topic, partition));
  }

  committedOffsets(): OffsetMap {
    return new Map(this.committed);
  }

  /** Oldest produce time (ms) of a held message per partition. */
  oldestHeld(): Map<string, number> {
    const out = new Map<string, number>();
    for (const b of this.buffers.values()) for (const [k, t] of b.oldest) out.set(k, t);
    return out;
  }

  /** The bound on held bytes: the Kafka side stops fetching above it until a commit frees memory. */
  get maxBufferedBytes(): number {
    return this.o.maxBufferedBytes;
  }

  get bufferedBytes(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.bytes;
    return n;
  }

  private counts(topic: string): TopicCounts {
    return (this.topics[topic] ??= { events: 0, archived: 0, skipped: 0, duplicates: 0, dlq: 0 });
  }

  private buffer(table: SourceTable): TableBuffer {
    let b = this.buffers.get(table);
    if (!b) this.buffers.set(table, (b = new TableBuffer()));
    return b;
  }

  /**
   * Takes one message (cheap, synchronous). Returns what became of it. `size` is its size in bytes
   * (memory accounting); `timestampMs` when it was produced (lag in seconds).
   */
  add(
    msg: StreamMessage,
    meta: { size?: number; timestampMs?: number; position?: number } = {},
  ): keyof Omit<TopicCounts, 'events'> {
    const counts = this.counts(msg.topic);
    counts.events++;
    const table = this.o.router.tableFor(msg.topic);
    const key = tpKey(msg.topic, msg.partition);
    const offset = BigInt(msg.offset);
    if (table !== null && offset < (this.seen.get(key) ?? 0n)) {
      counts.duplicates++;
      this.o.metrics?.events.inc({ topic: msg.topic, outcome: 'duplicate' });
      return 'duplicates';
    }
    const decoded = decodeMessage(msg, { router: this.o.router });
    if (table === null) {
      // Not one of our topics (only possible in a replay file): a dead letter, no offset to keep.
      const reason = decoded.kind === 'reject' ? decoded.error.reason : 'unknown-table';
      const error =
        decoded.kind === 'reject' ? decoded.error.message : `Topic ${msg.topic} is not a lake table.`;
      return this.reject(this.orphanRejects, { message: msg, reason, error });
    }
    this.seen.set(key, offset + 1n);
    const b = this.buffer(table);
    if (b.empty) {
      b.firstAt = Date.now();
      b.firstPos = meta.position;
      b.firstLine = Math.max(0, (msg.line ?? 1) - 1);
    }
    b.marks.set(key, offset + 1n);
    if (meta.timestampMs !== undefined && !b.oldest.has(key)) b.oldest.set(key, meta.timestampMs);
    b.bytes += meta.size ?? sizeOf(msg.value);
    if (decoded.kind === 'change') {
      b.rows.push({ row: changeToLakeRow(decoded.change), key, offset });
      counts.archived++;
      this.o.metrics?.events.inc({ topic: msg.topic, outcome: 'archived' });
      return 'archived';
    }
    if (decoded.kind === 'skip') {
      counts.skipped++;
      this.o.metrics?.events.inc({ topic: msg.topic, outcome: 'skipped' });
      return 'skipped';
    }
    return this.reject(b.rejects, {
      message: msg,
      reason: decoded.error.reason,
      error: decoded.error.message,
    });
  }

  /** Replay file: every complete line before `position` has been added. */
  setReadPosition(position: number, lines: number): void {
    this.readPosition = { position, lines };
  }

  /**
   * The replay position this commit may claim: every line before it is in the lake once the commit
   * lands — the start of the oldest line still held by another table, else all that was read.
   */
  private fileSummary(committing: TableBuffer): Record<string, string> {
    const f = this.o.file;
    if (!f) return {};
    let position = this.readPosition.position;
    let lines = this.readPosition.lines;
    for (const b of this.buffers.values()) {
      if (b === committing || b.empty || b.firstPos === undefined) continue;
      if (b.firstPos < position) {
        position = b.firstPos;
        lines = b.firstLine;
      }
    }
    if (this.orphanRejects.length > 0) return {}; // their dead letters are not written yet
    return {
      [FILE_PROPERTY]: JSON.stringify({
        path: f.path,
        position,
        lines,
        headBytes: f.headBytes,
        headSha256: f.headSha256,
      }),
    };
  }

  /** A replay line that is not a message at all. */
  addReject(letter: DeadLetter): void {
    this.counts(letter.message.topic || '(unparsed line)').events++;
    this.reject(this.orphanRejects, letter);
  }

  private reject(into: DeadLetter[], letter: DeadLetter): 'dlq' {
    into.push(letter);
    this.counts(letter.message.topic || '(unparsed line)').dlq++;
    this.dlqReasons[letter.reason] = (this.dlqReasons[letter.reason] ?? 0) + 1;
    this.o.metrics?.events.inc({ topic: letter.message.topic || '(unparsed line)', outcome: 'dlq' });
    return 'dlq';
  }

  /** Tables whose buffer is big or old enough to commit now (the biggest first when memory is tight). */
  due(now = Date.now()): SourceTable[] {
    const out: SourceTable[] = [];
    for (const [t, b] of this.buffers) {
      if (b.empty) continue;
      if (b.bytes >= this.o.rollBytes || now - b.firstAt >= this.o.rollMs) out.push(t);
    }
    if (out.length === 0 && this.bufferedBytes >= this.o.maxBufferedBytes) {
      const biggest = [...this.buffers].sort((a, b) => b[1].bytes - a[1].bytes)[0];
      if (biggest && !biggest[1].empty) out.push(biggest[0]);
    }
    return out;
  }

  get pending(): boolean {
    return [...this.buffers.values()].some((b) => !b.empty) || this.orphanRejects.length > 0;
  }

  async flushDue(): Promise<void> {
    for (const t of this.due()) await this.flush(t);
  }

  async flushAll(): Promise<void> {
    for (const t of SOURCE_TABLES)
      if (this.buffers.get(t) && !this.buffers.get(t)!.empty) await this.flush(t);
    if (this.orphanRejects.length > 0) await this.sendDeadLetters([]);
  }

  /** Commits one table's held changes (serialised: one commit at a time). */
  flush(table: SourceTable): Promise<void> {
    const run = this.chain.then(() => this.flushNow(table));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async sendDeadLetters(own: DeadLetter[]): Promise<void> {
    const letters = [...own, ...this.orphanRejects];
    this.orphanRejects = [];
    if (letters.length > 0) await this.retrying('dlq', () => this.o.dlq.send(letters));
  }

  private async flushNow(table: SourceTable): Promise<void> {
    const b = this.buffers.get(table);
    if (!b || b.empty) return;
    this.buffers.set(table, new TableBuffer());
    if (this.o.dryRun) return this.countOnly(table, b);
    // Dead letters are durable before any commit covers their offsets.
    await this.sendDeadLetters(b.rejects);
    const started = Date.now();
    const commitId = randomUUID();
    let lakeNow: OffsetMap = new Map();
    let written = 0;
    const res = await this.retrying('lake', () =>
      appendTo(
        this.o.tables.ref(table),
        LAKE_SCHEMAS[table],
        (current) => {
          const lake = archivedOffsets(current);
          // Fence: what another writer (or an earlier attempt) committed is not written again.
          const rows = b.rows.filter((h) => h.offset >= (lake.get(h.key) ?? 0n));
          const merged = new Map(lake);
          let advanced = false;
          for (const [k, v] of b.marks) {
            if ((merged.get(k) ?? -1n) < v) {
              merged.set(k, v);
              advanced = true;
            }
          }
          lakeNow = merged;
          written = rows.length;
          // Tombstones and dead letters only still move the table's offsets on (no data file).
          if (!advanced) return null;
          return {
            rows: rows.map((h) => h.row),
            summary: { [OFFSETS_PROPERTY]: encodeOffsets(merged), ...this.fileSummary(b) },
          };
        },
        { commitId, ...(this.o.codec ? { codec: this.o.codec } : {}) },
      ),
    );
    for (const [k, v] of lakeNow) this.advance(k, v);
    const t = (this.tables[table] ??= { rows: 0, files: 0, commits: 0 });
    if (res) {
      t.rows += written;
      t.files += res.files.length;
      t.commits++;
      t.snapshotId = res.snapshotId;
      const m = this.o.metrics;
      m?.rows.inc({ table }, written);
      m?.files.inc({ table }, res.files.length);
      m?.commits.inc({ table });
      m?.lastCommit.set({ table }, Date.now() / 1000);
      m?.commitSeconds.observe((Date.now() - started) / 1000);
      this.o.logger.debug(
        { table, rows: written, files: res.files.length, snapshot: res.snapshotId, recovered: res.recovered },
        'archive: committed',
      );
    }
    if (written < b.rows.length)
      this.o.logger.info(
        { table, skipped: b.rows.length - written },
        'archive: changes another writer had already committed were not written again',
      );
    const mine: OffsetMap = new Map();
    for (const k of b.marks.keys()) mine.set(k, this.committed.get(k) ?? 0n);
    await this.onCommitted?.(table, mine);
  }

  /** --dry-run: what this commit would add (rows the table does not hold yet), nothing written. */
  private async countOnly(table: SourceTable, b: TableBuffer): Promise<void> {
    this.orphanRejects = [];
    const loaded = await this.retrying('lake', () => this.o.tables.ref(table).load());
    const lake = archivedOffsets(loaded?.metadata);
    const rows = b.rows.filter((h) => h.offset >= (lake.get(h.key) ?? 0n)).length;
    const t = (this.tables[table] ??= { rows: 0, files: 0, commits: 0 });
    t.rows += rows;
    // Held offsets count as done, so the Kafka side sees the read as caught up.
    for (const [k, v] of b.marks) if ((this.committed.get(k) ?? -1n) < v) this.committed.set(k, v);
  }

  /** Runs `fn`, retrying with backoff (0.5 s … 15 s) while the dependency is unreachable, up to giveUpAfterMs. */
  private async retrying<T>(dependency: 'lake' | 'dlq', fn: () => Promise<T>): Promise<T> {
    let last: unknown;
    const unavailable = (err: unknown) =>
      err instanceof DependencyUnavailableError
        ? err
        : new DependencyUnavailableError(
            dependency,
            `The ${dependency} stayed unreachable: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
    try {
      return await retry(fn, {
        retryable: (err) => err instanceof DependencyUnavailableError || isNetworkError(err),
        budgetMs: this.o.giveUpAfterMs,
        baseMs: 500,
        maxMs: 15_000,
        signal: this.o.stop,
        onRetry: ({ err, delayMs }) => {
          last = err;
          this.o.metrics?.retries.inc({ dependency });
          this.o.logger.warn(
            { err: { message: (err as Error).message }, dependency, retryInMs: delayMs },
            'archive: waiting for a dependency',
          );
        },
        giveUp: ({ err }) => unavailable(err),
      });
    } catch (err) {
      // Stopped while waiting (shutdown grace over): the wait's cause is what to report.
      if (this.o.stop?.aborted && last !== undefined) throw unavailable(last);
      throw err;
    }
  }
}

function sizeOf(v: StreamMessage['value']): number {
  if (v === null || v === undefined) return 16;
  if (typeof v === 'string') return v.length;
  if (Buffer.isBuffer(v)) return v.byteLength;
  return 512;
}

/** `topic/partition` → next offset, for results. */
export function offsetsRecord(offsets: OffsetMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of [...offsets].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const { topic, partition } = splitTpKey(k);
    out[`${topic}/${partition}`] = v.toString();
  }
  return out;
}
