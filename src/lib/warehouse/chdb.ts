import { join, resolve } from 'node:path';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Session as ChdbSession } from 'chdb';
import {
  parseVersion,
  type OpenWarehouseOptions,
  type EncodedFormat,
  type ServerVersion,
  type Settings,
  type Warehouse,
} from './types.js';
import { WarehouseQueryError } from './errors.js';
import { sqlString } from './quote.js';
import { ConfigError } from '../errors/index.js';

/** chDB keeps one engine per process and keys connections by data directory: share them. */
const sessions = new Map<string, { session: ChdbSession; refs: number }>();

/**
 * Embedded ClickHouse (chDB). The module (~500 MB, ~0.4 s to load) is imported only when a
 * chdb: URL is opened, so commands that do not touch the warehouse start fast.
 */
export class ChdbWarehouse implements Warehouse {
  readonly engine = 'chdb' as const;
  readonly displayUrl: string;
  private queue: Promise<unknown> = Promise.resolve();
  private cachedVersion: ServerVersion | undefined;
  private closed = false;
  /** Where encoded inserts are handed to the engine (in memory when /dev/shm exists). */
  private handOffDir: string | undefined;
  private handOffs = 0;

  private constructor(
    readonly path: string,
    private readonly session: ChdbSession,
  ) {
    this.displayUrl = `chdb:${path}`;
  }

  static async open(url: string, opts: OpenWarehouseOptions = {}): Promise<ChdbWarehouse> {
    const raw = url.slice('chdb:'.length) || './.shopdata/warehouse';
    const path = resolve(opts.cwd ?? process.cwd(), raw);
    let entry = sessions.get(path);
    if (!entry) {
      const other = [...sessions.keys()][0];
      if (other !== undefined) {
        throw new ConfigError(
          `chDB is already open on ${other}; it can hold one data directory per process, not also ${path}.`,
          {
            hint: 'Use one chdb:PATH per process (close the other warehouse first), or a ClickHouse server URL.',
          },
        );
      }
      mkdirSync(path, { recursive: true });
      const { Session } = await import('chdb');
      // Match the 18.16 server's output so callers see the same rows on both engines:
      // 64-bit integers quoted in JSON, decimals with their trailing zeros.
      entry = {
        session: new Session(path, {
          connectionArgs: [
            '--output_format_json_quote_64bit_integers=1',
            '--output_format_decimal_trailing_zeros=1',
          ],
        }),
        refs: 0,
      };
      sessions.set(path, entry);
    }
    entry.refs++;
    return new ChdbWarehouse(path, entry.session);
  }

  /** chDB runs one statement at a time per session; queue them so callers may overlap. */
  private run<T>(what: string, sql: string, fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn).catch((err: unknown) => {
      throw err instanceof WarehouseQueryError ? err : new WarehouseQueryError(what, sql, err);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async version(): Promise<ServerVersion> {
    if (!this.cachedVersion) {
      const rows = await this.query<{ v: string }>('SELECT version() AS v');
      this.cachedVersion = parseVersion(rows[0]?.v ?? '0');
    }
    return this.cachedVersion;
  }

  async exec(sql: string, settings?: Settings): Promise<void> {
    await this.run('exec', sql, async () => {
      await this.session.queryAsync(withSettings(sql, settings), { format: 'TabSeparated' });
    });
  }

  async query<T = Record<string, unknown>>(sql: string, settings?: Settings): Promise<T[]> {
    return this.run('query', sql, async () => {
      const res = await this.session.queryAsync(withSettings(sql, settings), { format: 'JSONEachRow' });
      const text = res.text();
      const rows: T[] = [];
      for (const line of text.split('\n')) if (line) rows.push(JSON.parse(line) as T);
      return rows;
    });
  }

  async insert(table: string, rows: readonly object[], settings?: Settings): Promise<void> {
    if (rows.length === 0) return;
    const payload = Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n'));
    await this.run('insert', `INSERT INTO ${table}`, async () => {
      await this.session.insert({
        table,
        values: payload,
        format: 'JSONEachRow',
        ...(settings ? { settings } : {}),
      });
    });
  }

  /**
   * RowBinary through a file the engine reads (`FROM INFILE`): chDB's insert API takes text formats
   * only, and parsing RowBinary from a file costs about half of JSONEachRow from memory.
   */
  async insertEncoded(
    table: string,
    columns: readonly string[],
    format: EncodedFormat,
    data: Uint8Array,
    settings?: Settings,
  ): Promise<void> {
    if (data.length === 0) return;
    this.handOffDir ??= mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'shopdata-chdb-'));
    const file = join(this.handOffDir, `${++this.handOffs}.bin`);
    await writeFile(file, data);
    const sql =
      `INSERT INTO ${table} (${columns.join(', ')})${settingsClause(settings)} ` +
      `FROM INFILE '${file.replace(/['\\]/g, '\\$&')}' FORMAT ${format}`;
    try {
      await this.run('insert', `INSERT INTO ${table}`, async () => {
        await this.session.queryAsync(sql, { format: 'TabSeparated' });
      });
    } finally {
      await unlink(file).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    if (this.handOffDir) rmSync(this.handOffDir, { recursive: true, force: true });
    const entry = sessions.get(this.path);
    if (entry && --entry.refs === 0) {
      sessions.delete(this.path);
      entry.session.close();
    }
  }
}

function withSettings(sql: string, settings?: Settings): string {
  const clause = settingsClause(settings);
  return clause ? `${sql.replace(/;\s*$/, '')}${clause}` : sql;
}

function settingsClause(settings?: Settings): string {
  if (!settings || Object.keys(settings).length === 0) return '';
  const list = Object.entries(settings)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? sqlString(v) : v === true ? 1 : v === false ? 0 : v}`)
    .join(', ');
  return ` SETTINGS ${list}`;
}
