export interface ServerVersion {
  major: number;
  minor: number;
  patch: number;
  raw: string;
}

export type Settings = Record<string, string | number | boolean>;

/** Binary input formats a warehouse may take from `insertEncoded`. */
export type EncodedFormat = 'RowBinary';

/**
 * One interface over ClickHouse reached by HTTP and embedded chDB. SQL is ClickHouse SQL; rows come
 * back as JSONEachRow objects (64-bit integers are strings on both engines).
 */
export interface Warehouse {
  readonly engine: 'clickhouse' | 'chdb';
  /** The URL with any password masked, for logs and output. */
  readonly displayUrl: string;
  version(): Promise<ServerVersion>;
  /** DDL or any statement without a result. */
  exec(sql: string, settings?: Settings): Promise<void>;
  query<T = Record<string, unknown>>(sql: string, settings?: Settings): Promise<T[]>;
  /** Inserts rows as JSONEachRow; resolves only once the server confirmed them. */
  insert(table: string, rows: readonly object[], settings?: Settings): Promise<void>;
  /**
   * Inserts rows already encoded (RowBinary, `columns` in order): no objects, no JSON. Optional;
   * callers fall back to `insert` when an engine lacks it. Resolves once the server confirmed them.
   */
  insertEncoded?(
    table: string,
    columns: readonly string[],
    format: EncodedFormat,
    data: Uint8Array,
    settings?: Settings,
  ): Promise<void>;
  close(): Promise<void>;
}

export interface OpenWarehouseOptions {
  requestTimeoutMs?: number;
  /** Attempts on network errors before giving up with exit 3. */
  retries?: number;
  /** An HTTP session, needed on old servers for temporary tables. */
  sessionId?: string;
  /** Working directory for a relative chdb:PATH. */
  cwd?: string;
}

export function parseVersion(raw: string): ServerVersion {
  const [major = 0, minor = 0, patch = 0] = raw.split('.').map((p) => Number.parseInt(p, 10) || 0);
  return { major, minor, patch, raw };
}
