import pg from 'pg';
import type { SourceChange } from '../vault/types.js';
import { ConfigError, DependencyUnavailableError, UsageError, isNetworkError } from '../errors/index.js';
import { retry } from '../retry/index.js';
import { maskUrl } from '../config/index.js';
import {
  PG_COLUMNS,
  PG_TABLES,
  type AuthCredentialRow,
  type PgTable,
  type ProductRow,
  type SellerRow,
  type UserRow,
} from './rows.js';
import { isoMicros } from './values.js';

/** Array element type of each column, for `unnest($n::type[])`. */
const PG_TYPES: Record<PgTable, readonly string[]> = {
  sellers: ['bigint', 'text', 'text', 'timestamptz', 'timestamptz'],
  users: ['bigint', 'text', 'text', 'text', 'timestamptz', 'timestamptz'],
  auth_credentials: ['bigint', 'text', 'timestamptz', 'int', 'timestamptz'],
  products: ['bigint', 'bigint', 'text', 'text', 'text', 'numeric', 'boolean', 'timestamptz', 'timestamptz'],
};
const TIMESTAMP_COLUMNS = new Set(['created_at', 'updated_at', 'last_login_at']);
/** Parents before children for inserts (FKs); children before parents for deletes. */
const INSERT_ORDER: readonly PgTable[] = ['sellers', 'users', 'auth_credentials', 'products'];
const DELETE_ORDER: readonly PgTable[] = ['auth_credentials', 'products', 'users', 'sellers'];

export const SEED_STATE_TABLE = 'shopdata_seed_state';

export interface SeedStateRow {
  runKey: string;
  options: Record<string, unknown>;
  /** Changes of the run applied to PostgreSQL (committed with them). */
  pgPosition: number;
  /** Changes of the run whose MongoDB events are written (updated after the insert). */
  mongoPosition: number;
  total: number;
}

export function validateSchemaName(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new UsageError(`--pg-schema ${JSON.stringify(schema)} is not a plain SQL identifier.`, {
      hint: 'Use letters, digits and underscores, e.g. --pg-schema public.',
    });
  }
  return schema;
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * Writes source changes into the shop's PostgreSQL tables (docs/CONTRACT.md §4) as real INSERT, UPDATE
 * and DELETE statements, so logical decoding (Debezium) sees c/u/d, and records seed progress in
 * `shopdata_seed_state` in the same transaction.
 */
export class PostgresSourceWriter {
  private constructor(
    private readonly client: pg.Client,
    readonly schema: string,
    readonly url: string,
  ) {}

  static async connect(
    url: string,
    schema: string,
    opts: { attempts?: number; signal?: AbortSignal } = {},
  ): Promise<PostgresSourceWriter> {
    validateSchemaName(schema);
    const attempts = opts.attempts ?? 3;
    const unreachable = (err: unknown) =>
      isNetworkError(err) || /timeout|terminated|ECONN/i.test(String((err as Error).message));
    return retry(
      async () => {
        const client = new pg.Client({
          connectionString: url,
          connectionTimeoutMillis: 5000,
          application_name: 'shopdata-seed',
        });
        // An idle connection that dies must not crash the process; the next query reports it.
        client.on('error', () => undefined);
        try {
          await client.connect();
          return new PostgresSourceWriter(client, schema, url);
        } catch (err) {
          await client.end().catch(() => undefined);
          throw refusal(err, url) ?? err;
        }
      },
      {
        retryable: unreachable,
        attempts,
        baseMs: 500,
        maxMs: 2000,
        signal: opts.signal,
        giveUp: ({ err }) =>
          new DependencyUnavailableError(
            'postgres',
            `PostgreSQL at ${maskUrl(url)} is unreachable after ${attempts} attempts: ${(err as Error).message}`,
            {
              hint: 'Start it (scripts/stack/up postgres) or fix SHOPDATA_POSTGRES_URL / --postgres-url.',
              cause: err,
            },
          ),
      },
    );
  }

  private t(table: string): string {
    return `${quoteIdent(this.schema)}.${quoteIdent(table)}`;
  }

  /** Fails with exit 2 when the shop tables are missing from the target schema. */
  async checkTables(): Promise<void> {
    const r = await this.client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name = ANY($2)',
      [this.schema, PG_TABLES],
    );
    const found = new Set(r.rows.map((x) => x.table_name));
    const missing = PG_TABLES.filter((t) => !found.has(t));
    if (missing.length > 0) {
      throw new ConfigError(`PostgreSQL schema ${this.schema} lacks the shop tables ${missing.join(', ')}.`, {
        hint: 'Create them with templates/postgres/shop.sql (scripts/stack/up postgres does it for the local stack), or pass --pg-schema.',
      });
    }
  }

  async ensureStateTable(): Promise<void> {
    await this.client.query(
      `CREATE TABLE IF NOT EXISTS ${this.t(SEED_STATE_TABLE)} (
         run_key text PRIMARY KEY,
         options jsonb NOT NULL,
         pg_position bigint NOT NULL DEFAULT 0,
         mongo_position bigint NOT NULL DEFAULT 0,
         total bigint NOT NULL,
         started_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
  }

  async readStates(): Promise<SeedStateRow[]> {
    const r = await this.client.query<{
      run_key: string;
      options: Record<string, unknown>;
      pg_position: string;
      mongo_position: string;
      total: string;
    }>(
      `SELECT run_key, options, pg_position, mongo_position, total FROM ${this.t(SEED_STATE_TABLE)} ORDER BY started_at`,
    );
    return r.rows.map((x) => ({
      runKey: x.run_key,
      options: x.options,
      pgPosition: Number(x.pg_position),
      mongoPosition: Number(x.mongo_position),
      total: Number(x.total),
    }));
  }

  async startRun(runKey: string, options: Record<string, unknown>, total: number): Promise<void> {
    await this.client.query(
      `INSERT INTO ${this.t(SEED_STATE_TABLE)} (run_key, options, total) VALUES ($1, $2, $3)
       ON CONFLICT (run_key) DO UPDATE SET options = EXCLUDED.options, total = EXCLUDED.total, updated_at = now()`,
      [runKey, JSON.stringify(options), total],
    );
  }

  async setMongoPosition(runKey: string, position: number): Promise<void> {
    await this.client.query(
      `UPDATE ${this.t(SEED_STATE_TABLE)} SET mongo_position = $2, updated_at = now() WHERE run_key = $1`,
      [runKey, position],
    );
  }

  /** Row counts of the four tables (to refuse seeding on top of foreign data). */
  async rowCounts(): Promise<Record<PgTable, number>> {
    const parts = PG_TABLES.map((t) => `(SELECT count(*) FROM ${this.t(t)}) AS ${t}`);
    const r = await this.client.query<Record<PgTable, string>>(`SELECT ${parts.join(', ')}`);
    const row = r.rows[0]!;
    return Object.fromEntries(PG_TABLES.map((t) => [t, Number(row[t])])) as Record<PgTable, number>;
  }

  /** Empties the shop tables and the seed progress (tests, demos). */
  async truncate(): Promise<void> {
    await this.client.query(`TRUNCATE ${PG_TABLES.map((t) => this.t(t)).join(', ')}`);
    await this.client.query(`DROP TABLE IF EXISTS ${this.t(SEED_STATE_TABLE)}`);
  }

  /**
   * Applies the PostgreSQL changes of one batch in one transaction, in an order that keeps the
   * per-row history and the foreign keys: inserts (parents first), then updates (each table's
   * rows in their order; a row updated twice gets two statements), then deletes (children
   * first). With `progress`, the run's position is committed with the rows: exactly once.
   */
  async applyBatch(
    changes: readonly SourceChange[],
    progress?: { runKey: string; position: number },
  ): Promise<void> {
    const inserts = new Map<PgTable, SourceChange[]>();
    const updates = new Map<PgTable, SourceChange[]>();
    const deletes = new Map<PgTable, SourceChange[]>();
    for (const c of changes) {
      if (!(c.table in PG_COLUMNS)) continue;
      const table = c.table as PgTable;
      const bucket = c.op === 'd' ? deletes : c.op === 'u' ? updates : inserts;
      let list = bucket.get(table);
      if (!list) bucket.set(table, (list = []));
      list.push(c);
    }
    await this.client.query('BEGIN');
    try {
      for (const table of INSERT_ORDER) {
        const list = inserts.get(table);
        if (list)
          await this.insertRows(
            table,
            list.map((c) => c.row),
          );
      }
      for (const [table, list] of updates) {
        // One UPDATE … FROM unnest per round; a key seen again starts the next round.
        let round: SourceChange['row'][] = [];
        const seen = new Set<unknown>();
        const key = PG_COLUMNS[table][0];
        for (const c of list) {
          if (seen.has(c.row[key])) {
            await this.updateRows(table, round);
            round = [];
            seen.clear();
          }
          seen.add(c.row[key]);
          round.push(c.row);
        }
        if (round.length > 0) await this.updateRows(table, round);
      }
      for (const table of DELETE_ORDER) {
        const list = deletes.get(table);
        if (!list) continue;
        const key = PG_COLUMNS[table][0];
        await this.client.query(`DELETE FROM ${this.t(table)} WHERE ${key} = ANY($1::bigint[])`, [
          list.map((c) => c.row[key]),
        ]);
      }
      if (progress) {
        await this.client.query(
          `UPDATE ${this.t(SEED_STATE_TABLE)} SET pg_position = $2, updated_at = now() WHERE run_key = $1`,
          [progress.runKey, progress.position],
        );
      }
      await this.client.query('COMMIT');
    } catch (err) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Multi-row INSERT through unnest of one array per column (no parameter limit, one round trip). */
  async insertRows(table: PgTable, rows: readonly SourceChange['row'][]): Promise<void> {
    if (rows.length === 0) return;
    const cols = PG_COLUMNS[table];
    const types = PG_TYPES[table];
    const params = cols.map((col) => rows.map((r) => toPg(col, r[col])));
    const casts = types.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
    await this.client.query(
      `INSERT INTO ${this.t(table)} (${cols.join(', ')}) SELECT * FROM unnest(${casts})`,
      params,
    );
  }

  private async updateRows(table: PgTable, rows: readonly SourceChange['row'][]): Promise<void> {
    if (rows.length === 0) return;
    const cols = PG_COLUMNS[table];
    const types = PG_TYPES[table];
    const [key, ...rest] = cols;
    const params = cols.map((col) => rows.map((r) => toPg(col, r[col])));
    const casts = types.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
    await this.client.query(
      `UPDATE ${this.t(table)} AS t SET ${rest.map((c) => `${c} = v.${c}`).join(', ')}
       FROM unnest(${casts}) AS v(${cols.join(', ')}) WHERE t.${key} = v.${key}`,
      params,
    );
  }

  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.client.query<R>(sql, params);
  }

  /** The current rows, in canonical form (for `seed --rate`, which continues the shop that is there). */
  async readSellers(): Promise<SellerRow[]> {
    return (await this.readCanonical('sellers')) as SellerRow[];
  }
  async readUsers(): Promise<UserRow[]> {
    return (await this.readCanonical('users')) as UserRow[];
  }
  async readAuth(): Promise<AuthCredentialRow[]> {
    return (await this.readCanonical('auth_credentials')) as AuthCredentialRow[];
  }
  async readProducts(): Promise<ProductRow[]> {
    return (await this.readCanonical('products')) as ProductRow[];
  }

  /** Rows of one table in canonical form: ids numbers, timestamps epoch µs, price "12.50". */
  async readCanonical(table: PgTable): Promise<SourceChange['row'][]> {
    const cols = PG_COLUMNS[table];
    const select = cols.map((c, i) => {
      const type = PG_TYPES[table][i]!;
      if (TIMESTAMP_COLUMNS.has(c)) return `(extract(epoch FROM ${c}) * 1000000)::bigint::text AS ${c}`;
      if (type === 'bigint' || type === 'int') return `${c}::text AS ${c}`;
      if (type === 'numeric') return `${c}::text AS ${c}`;
      return c;
    });
    const r = await this.client.query<Record<string, unknown>>(
      `SELECT ${select.join(', ')} FROM ${this.t(table)} ORDER BY ${cols[0]}`,
    );
    return r.rows.map((row) => {
      const out: SourceChange['row'] = {};
      cols.forEach((c, i) => {
        const v = row[c];
        const type = PG_TYPES[table][i]!;
        if (v === null || v === undefined) out[c] = null;
        else if (type === 'bigint' || type === 'int' || type === 'timestamptz') out[c] = Number(v);
        else out[c] = v as string | boolean;
      });
      return out;
    });
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

function toPg(column: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (TIMESTAMP_COLUMNS.has(column)) return isoMicros(value as number);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** A login or database the server refuses: a configuration error (exit 2), never retried. */
function refusal(err: unknown, url: string): ConfigError | undefined {
  const code = (err as { code?: string }).code;
  if (code === '28P01' || code === '28000') {
    return new ConfigError(`PostgreSQL at ${maskUrl(url)} refused the login: ${(err as Error).message}`, {
      hint: 'Check the user and password in SHOPDATA_POSTGRES_URL / --postgres-url.',
    });
  }
  if (code === '3D000') {
    return new ConfigError(`PostgreSQL at ${maskUrl(url)}: ${(err as Error).message}`, {
      hint: 'Point SHOPDATA_POSTGRES_URL at the shop database (e.g. postgres://shopdata:shopdata@127.0.0.1:55432/shop).',
    });
  }
  return undefined;
}
