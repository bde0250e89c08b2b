import { decodeMessage } from '../debezium/decode.js';
import type { TopicRouter } from '../debezium/topics.js';
import { mapChange, mapChanges, MappingError, type MappingContext } from '../vault/mapping.js';
import { encodeRowBinary, rowBinaryColumns, RowValueError } from '../vault/rowbinary.js';
import { META, VAULT_TABLES, vaultTable } from '../vault/tables.js';
import { SOURCE_TABLES, type SourceChange, type VaultRowSet } from '../vault/types.js';
import { loadAuditRows } from '../vault/writer.js';

/**
 * The CPU side of a stream batch, pure and synchronous so that it runs the same in a worker thread
 * (prepare-worker.ts) or in the main thread: decode every message, map the changes with the one
 * vault mapping, and encode the rows per vault table for the insert. A message that cannot be
 * decoded, mapped or encoded becomes a reject with its reason; the others still load.
 */

/** `RowBinary`: encoded for Warehouse.insertEncoded; `objects`: row objects for Warehouse.insert. */
export type PrepareFormat = 'RowBinary' | 'objects';

export interface PrepareContext {
  router: TopicRouter;
  piiSalt: string;
  /** Goes into load_ts. */
  loadTsMs: number;
  format: PrepareFormat;
}

/** What decoding needs of a message. */
export interface PrepareMessage {
  topic: string;
  partition: number;
  offset: string;
  key: unknown;
  value: unknown;
}

export interface PreparedTable {
  /** Logical vault table name (`hub_user`). */
  table: string;
  rows: number;
  /** Column order of `data`. */
  columns: string[];
  /** RowBinary rows. */
  data?: Uint8Array;
  /** Row objects (format `objects`). */
  objects?: Record<string, unknown>[];
}

export interface PrepareReject {
  /** Index of the message in the batch. */
  index: number;
  reason: string;
  error: string;
}

/** One line of `<ops>.loads` without who and when (the loader adds them): rows per table and source. */
export interface LoadAudit {
  vault_table: string;
  record_source: string;
  rows: number;
  min_effective_us: number;
  max_effective_us: number;
}

export interface PreparedBatch {
  /** Per vault table, in VAULT_TABLES order (hubs, links, satellites). */
  tables: PreparedTable[];
  /** What `tables` holds per vault table and record source (writer.ts loadAuditRows). */
  audit: LoadAudit[];
  rejects: PrepareReject[];
  /** Messages that carry no change (tombstones). */
  skipped: number[];
  /** Messages whose change is in `tables`, with its source table (index into SOURCE_TABLES) and commit time. */
  loaded: Int32Array;
  loadedTable: Uint8Array;
  loadedTs: Float64Array;
  /** Where the batch's hub and link keys wait for confirmation (KeyCache), per worker slot (−1: here). */
  tokens?: { slot: number; token: number }[];
}

const TABLE_INDEX = new Map<string, number>(SOURCE_TABLES.map((t, i) => [t, i]));

/**
 * Hub and link keys whose row ClickHouse confirmed, with the version confirmed (the greatest: the
 * earliest sighting). A batch leaves out a hub or link row whose key is confirmed with a version at
 * least as great: the table would keep the confirmed row anyway (ReplacingMergeTree keeps the
 * greatest version). About a quarter of the stream's rows are such repeats (users and products
 * referenced again and again). Rows of a batch count only once the batch is confirmed (`confirm`);
 * a batch that failed or had refused rows is forgotten (`drop`). Deleting hub or link rows by hand
 * while a stream runs needs a restart of the stream, which starts with an empty cache.
 */
export class KeyCache {
  /** Per vault table: hash key → confirmed version. Map order is the eviction order. */
  private readonly confirmed = new Map<string, Map<string, number | string>>();
  private size = 0;
  /** Per batch token: the rows it sent, as table, key and version in a row. */
  private readonly pending = new Map<number, (string | number)[]>();

  constructor(private readonly capacity = 300_000) {}

  /** Keeps the rows the table may not have yet and notes them under `token`. */
  filter(rows: VaultRowSet, token: number): void {
    const noted: (string | number)[] = [];
    for (const t of VAULT_TABLES) {
      if (t.kind === 'satellite') continue;
      const list = rows.get(t.name);
      if (!list) continue;
      const known = this.confirmed.get(t.name);
      const kept: Record<string, unknown>[] = [];
      for (const r of list) {
        const hk = r[t.hashKey] as string;
        const ver = r[META.ver] as number | string;
        const seen = known?.get(hk);
        if (seen !== undefined && !versionBelow(seen, ver)) continue;
        noted.push(t.name, hk, ver);
        kept.push(r);
      }
      if (kept.length === list.length) continue;
      if (kept.length === 0) rows.delete(t.name);
      else rows.set(t.name, kept);
    }
    this.pending.set(token, noted);
  }

  /** The batch noted under `token` is in ClickHouse. */
  confirm(token: number): void {
    const noted = this.pending.get(token);
    this.pending.delete(token);
    if (!noted) return;
    for (let i = 0; i < noted.length; i += 3) {
      const table = noted[i] as string;
      const hk = noted[i + 1] as string;
      const ver = noted[i + 2]!;
      let known = this.confirmed.get(table);
      if (!known) this.confirmed.set(table, (known = new Map()));
      const seen = known.get(hk);
      if (seen === undefined) this.size++;
      else if (!versionBelow(seen, ver)) continue;
      else known.delete(hk); // re-insert: the Map's order is the eviction order
      known.set(hk, ver);
    }
    // Over capacity: forget the oldest keys, table by table.
    for (const known of this.confirmed.values()) {
      for (const hk of known.keys()) {
        if (this.size <= this.capacity) return;
        known.delete(hk);
        this.size--;
      }
    }
  }

  drop(token: number): void {
    this.pending.delete(token);
  }
}

/** a < b for versions as numbers or as decimal strings beyond 2^53. */
function versionBelow(a: number | string, b: number | string): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a < b;
  const x = String(a);
  const y = String(b);
  return x.length !== y.length ? x.length < y.length : x < y;
}

export function prepareMessages(
  messages: readonly PrepareMessage[],
  ctx: PrepareContext,
  cache?: { keys: KeyCache; token: number },
): PreparedBatch {
  const rejects: PrepareReject[] = [];
  const skipped: number[] = [];
  let changes: SourceChange[] = [];
  let origin: number[] = [];
  for (let i = 0; i < messages.length; i++) {
    let decoded: ReturnType<typeof decodeMessage>;
    try {
      decoded = decodeMessage(messages[i]!, { router: ctx.router });
    } catch (err) {
      // The decoder reports what it understands; anything else is still one bad event, not a crash.
      rejects.push({
        index: i,
        reason: 'decode-failed',
        error: `The event could not be decoded (${(err as Error)?.name ?? 'error'}); it is kept here unchanged.`,
      });
      continue;
    }
    if (decoded.kind === 'change') {
      changes.push(decoded.change);
      origin.push(i);
    } else if (decoded.kind === 'skip') skipped.push(i);
    else rejects.push({ index: i, reason: decoded.error.reason, error: decoded.error.message });
  }

  const mctx: MappingContext = { piiSalt: ctx.piiSalt, loadTs: new Date(ctx.loadTsMs) };
  let tables: PreparedTable[] | undefined;
  let audit: LoadAudit[] = [];
  const mapped = (list: SourceChange[]): VaultRowSet => {
    const rows = mapChanges(list, mctx);
    cache?.keys.filter(rows, cache.token);
    audit = auditOf(rows);
    return rows;
  };
  try {
    tables = encodeTables(mapped(changes), ctx.format);
  } catch (err) {
    if (!isRowProblem(err)) throw err;
  }
  if (!tables) {
    // Rare path: find the changes that cannot be mapped or encoded, one by one.
    const good: SourceChange[] = [];
    const goodOrigin: number[] = [];
    changes.forEach((change, k) => {
      try {
        const rows = mapChange(change, mctx);
        if (ctx.format === 'RowBinary')
          for (const [table, list] of rows) encodeRowBinary(vaultTable(table), list);
        good.push(change);
        goodOrigin.push(origin[k]!);
      } catch (err) {
        if (!isRowProblem(err)) throw err;
        rejects.push({
          index: origin[k]!,
          reason: err instanceof RowValueError ? 'value-out-of-range' : 'mapping-failed',
          error: err.message + (err.hint ? ` (${err.hint})` : ''),
        });
      }
    });
    changes = good;
    origin = goodOrigin;
    tables = encodeTables(mapped(changes), ctx.format);
  }

  const loaded = Int32Array.from(origin);
  const loadedTable = new Uint8Array(changes.length);
  const loadedTs = new Float64Array(changes.length);
  changes.forEach((c, k) => {
    loadedTable[k] = TABLE_INDEX.get(c.table) ?? 0;
    loadedTs[k] = c.commitTsUs;
  });
  return { tables, audit, rejects, skipped, loaded, loadedTable, loadedTs };
}

function auditOf(rows: VaultRowSet): LoadAudit[] {
  return loadAuditRows(rows, '', '', new Date(0)).map((r) => ({
    vault_table: String(r.vault_table),
    record_source: String(r.record_source),
    rows: Number(r.rows),
    min_effective_us: Number(r.min_effective_us),
    max_effective_us: Number(r.max_effective_us),
  }));
}

function mergeAudit(lists: readonly LoadAudit[][]): LoadAudit[] {
  const out = new Map<string, LoadAudit>();
  for (const list of lists) {
    for (const a of list) {
      const key = `${a.vault_table}\u0000${a.record_source}`;
      const e = out.get(key);
      if (!e) out.set(key, { ...a });
      else {
        e.rows += a.rows;
        e.min_effective_us = Math.min(e.min_effective_us, a.min_effective_us);
        e.max_effective_us = Math.max(e.max_effective_us, a.max_effective_us);
      }
    }
  }
  return [...out.values()];
}

function isRowProblem(err: unknown): err is MappingError | RowValueError {
  return err instanceof MappingError || err instanceof RowValueError;
}

function encodeTables(rows: VaultRowSet, format: PrepareFormat): PreparedTable[] {
  const out: PreparedTable[] = [];
  for (const t of VAULT_TABLES) {
    const list = rows.get(t.name);
    if (!list || list.length === 0) continue;
    if (format === 'objects') out.push({ table: t.name, rows: list.length, columns: [], objects: list });
    else
      out.push({
        table: t.name,
        rows: list.length,
        columns: rowBinaryColumns(t),
        data: encodeRowBinary(t, list),
      });
  }
  for (const table of rows.keys()) {
    if (!VAULT_TABLES.some((t) => t.name === table))
      throw new Error(`Row set holds rows for "${table}", which is not a vault table.`);
  }
  return out;
}

/**
 * Joins the results of consecutive slices of one batch (prepared in parallel) into one, as if the
 * batch had been prepared at once. Hub and link rows seen in two slices stay twice; the tables
 * collapse them.
 */
export function mergePrepared(parts: readonly { start: number; batch: PreparedBatch }[]): PreparedBatch {
  if (parts.length === 1 && parts[0]!.start === 0) return parts[0]!.batch;
  const byTable = new Map<string, PreparedTable[]>();
  for (const { batch } of parts) {
    for (const t of batch.tables) {
      let list = byTable.get(t.table);
      if (!list) byTable.set(t.table, (list = []));
      list.push(t);
    }
  }
  const tables: PreparedTable[] = [];
  for (const t of VAULT_TABLES) {
    const list = byTable.get(t.name);
    if (!list) continue;
    const first = list[0]!;
    tables.push({
      table: t.name,
      rows: list.reduce((n, x) => n + x.rows, 0),
      columns: first.columns,
      ...(first.data ? { data: Buffer.concat(list.map((x) => x.data!)) } : {}),
      ...(first.objects ? { objects: list.flatMap((x) => x.objects!) } : {}),
    });
  }
  const shift = (list: number[] | Int32Array, by: number) => Array.from(list, (i) => i + by);
  const loaded = Int32Array.from(parts.flatMap((p) => shift(p.batch.loaded, p.start)));
  const loadedTable = new Uint8Array(loaded.length);
  const loadedTs = new Float64Array(loaded.length);
  let k = 0;
  for (const { batch } of parts) {
    loadedTable.set(batch.loadedTable, k);
    loadedTs.set(batch.loadedTs, k);
    k += batch.loaded.length;
  }
  return {
    tables,
    audit: mergeAudit(parts.map((p) => p.batch.audit)),
    rejects: parts.flatMap((p) => p.batch.rejects.map((r) => ({ ...r, index: r.index + p.start }))),
    skipped: parts.flatMap((p) => shift(p.batch.skipped, p.start)),
    loaded,
    loadedTable,
    loadedTs,
  };
}
