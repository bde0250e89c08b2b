import {
  ConfigError,
  DataProblemError,
  DependencyUnavailableError,
  isNetworkError,
} from '../../errors/index.js';
import type { Logger } from '../../log/index.js';
import { retry } from '../../retry/index.js';
import { parseJsonExact, stringifyJsonExact, type TableMetadata } from '../iceberg/metadata.js';

/**
 * A client of the Iceberg REST catalog protocol (the OpenAPI spec in apache/iceberg,
 * open-api/rest-catalog-open-api.yaml): config, OAuth2 client credentials or a bearer token,
 * namespaces, load/create table, and commits with requirements. Only what shopdata needs.
 */

export interface RestCatalogOptions {
  uri: string;
  warehouse?: string | undefined;
  /** A bearer token (SHOPDATA_ICEBERG_CATALOG_TOKEN). */
  token?: string | undefined;
  /** OAuth2 client credentials `client_id:client_secret` (SHOPDATA_ICEBERG_CATALOG_CREDENTIAL). */
  credential?: string | undefined;
  /** Token endpoint; default `<uri>/v1/oauth/tokens`. */
  oauth2ServerUri?: string | undefined;
  scope?: string | undefined;
  logger?: Logger | undefined;
  /** Attempts for idempotent requests on network errors. */
  retries?: number;
}

export interface LoadTableResult {
  metadataLocation: string;
  metadata: TableMetadata;
  config: Record<string, string>;
}

export type Requirement =
  | { type: 'assert-table-uuid'; uuid: string }
  | { type: 'assert-ref-snapshot-id'; ref: string; 'snapshot-id': bigint | number | null }
  | { type: 'assert-create' };

export type Update = Record<string, unknown> & { action: string };

interface HttpResult {
  status: number;
  body: unknown;
  text: string;
}

export class RestCatalog {
  private prefix: string | undefined;
  private bearer: string | undefined;
  private tokenExpiresAt = Infinity;
  private ready: Promise<void> | undefined;
  readonly uri: string;

  constructor(private readonly o: RestCatalogOptions) {
    this.uri = o.uri.replace(/\/+$/, '');
    this.bearer = o.token;
  }

  /** For messages: the catalog URI without credentials. */
  get display(): string {
    return this.uri.replace(/\/\/[^@/]*@/, '//');
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      if (this.o.credential) await this.fetchToken();
      const q = this.o.warehouse ? `?warehouse=${encodeURIComponent(this.o.warehouse)}` : '';
      const res = await this.request('GET', `/v1/config${q}`, undefined, true);
      if (res.status !== 200) throw this.failure(res, 'read the catalog configuration');
      const cfg = res.body as { overrides?: Record<string, string>; defaults?: Record<string, string> };
      this.prefix = cfg.overrides?.prefix ?? cfg.defaults?.prefix;
    })();
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  /** OAuth2 client-credentials grant (RFC 6749 §4.4), as the REST catalog's token endpoint takes it. */
  private async fetchToken(): Promise<void> {
    const cred = this.o.credential!;
    const i = cred.indexOf(':');
    const [id, secret] = i >= 0 ? [cred.slice(0, i), cred.slice(i + 1)] : ['', cred];
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope: this.o.scope ?? 'catalog' });
    if (id) form.set('client_id', id);
    form.set('client_secret', secret);
    const url = this.o.oauth2ServerUri ?? `${this.uri}/v1/oauth/tokens`;
    const res = await retry(
      async () => {
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
          signal: AbortSignal.timeout(30_000),
        });
        return { status: r.status, text: await r.text() };
      },
      { attempts: (this.o.retries ?? 4) + 1 },
    ).catch((err: unknown) => {
      throw this.unreachable(err);
    });
    let body: { access_token?: string; expires_in?: number } = {};
    try {
      body = JSON.parse(res.text) as typeof body;
    } catch {
      // reported below
    }
    if (res.status !== 200 || !body.access_token) {
      throw new ConfigError(
        `The Iceberg catalog's token endpoint ${url} refused the client credentials (HTTP ${res.status}).`,
        {
          hint: 'Check SHOPDATA_ICEBERG_CATALOG_CREDENTIAL (client_id:client_secret) and lake.catalog.scope / oauth2ServerUri.',
        },
      );
    }
    this.bearer = body.access_token;
    this.tokenExpiresAt = body.expires_in ? Date.now() + (body.expires_in - 30) * 1000 : Infinity;
  }

  private path(...parts: string[]): string {
    const prefix = this.prefix ? `/${encodeURIComponent(this.prefix)}` : '';
    return `/v1${prefix}/${parts.join('/')}`;
  }

  private ns(namespace: string): string {
    // Multi-level namespaces are joined by the unit separator (0x1F) in paths.
    return encodeURIComponent(namespace.split('.').join('\u001f'));
  }

  private async request(
    method: string,
    path: string,
    body: unknown,
    idempotent: boolean,
  ): Promise<HttpResult> {
    if (this.o.credential && Date.now() >= this.tokenExpiresAt) await this.fetchToken();
    const once = async (): Promise<HttpResult> => {
      const r = await fetch(`${this.uri}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.bearer ? { authorization: `Bearer ${this.bearer}` } : {}),
        },
        ...(body !== undefined ? { body: stringifyJsonExact(body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await r.text();
      let parsed: unknown;
      try {
        parsed = text ? parseJsonExact(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (idempotent && r.status >= 500)
        throw Object.assign(new Error(`HTTP ${r.status}`), { code: 'ECONNRESET', status: r.status });
      return { status: r.status, body: parsed, text };
    };
    try {
      return idempotent ? await retry(once, { attempts: (this.o.retries ?? 4) + 1 }) : await once();
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  private unreachable(err: unknown): DependencyUnavailableError {
    if (err instanceof DependencyUnavailableError) return err;
    return new DependencyUnavailableError(
      'iceberg-catalog',
      `The Iceberg REST catalog ${this.display} is unreachable: ${(err as Error).message}`,
      {
        cause: err,
        hint: 'Check that the catalog runs and SHOPDATA_ICEBERG_CATALOG_URI points at it.',
      },
    );
  }

  private failure(res: HttpResult, what: string): Error {
    const msg = (res.body as { error?: { message?: string; type?: string } } | undefined)?.error;
    const detail = msg?.message ? `${msg.type ?? 'error'}: ${msg.message}` : res.text.slice(0, 300);
    if (res.status === 401 || res.status === 403) {
      return new ConfigError(
        `The Iceberg REST catalog ${this.display} refused to ${what} (HTTP ${res.status}): ${detail}`,
        {
          hint: 'Check SHOPDATA_ICEBERG_CATALOG_TOKEN or SHOPDATA_ICEBERG_CATALOG_CREDENTIAL.',
        },
      );
    }
    if (res.status >= 500) {
      return new DependencyUnavailableError(
        'iceberg-catalog',
        `The Iceberg REST catalog ${this.display} failed to ${what} (HTTP ${res.status}): ${detail}`,
      );
    }
    return new DataProblemError(
      `The Iceberg REST catalog ${this.display} could not ${what} (HTTP ${res.status}): ${detail}`,
    );
  }

  async createNamespace(namespace: string): Promise<void> {
    await this.init();
    const res = await this.request(
      'POST',
      this.path('namespaces'),
      { namespace: namespace.split('.'), properties: {} },
      true,
    );
    if (res.status !== 200 && res.status !== 409) throw this.failure(res, `create namespace ${namespace}`);
  }

  /** The table's current metadata, or undefined when the catalog has no such table. */
  async loadTable(namespace: string, table: string): Promise<LoadTableResult | undefined> {
    await this.init();
    const res = await this.request(
      'GET',
      this.path('namespaces', this.ns(namespace), 'tables', encodeURIComponent(table)),
      undefined,
      true,
    );
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.failure(res, `load table ${namespace}.${table}`);
    return this.loadResult(res, `${namespace}.${table}`);
  }

  private loadResult(res: HttpResult, name: string): LoadTableResult {
    const b = res.body as {
      'metadata-location'?: string;
      metadata?: TableMetadata;
      config?: Record<string, string>;
    };
    if (!b?.metadata || typeof b.metadata !== 'object' || typeof b['metadata-location'] !== 'string') {
      throw new DataProblemError(
        `The Iceberg REST catalog ${this.display} answered for ${name} without metadata or its location.`,
      );
    }
    return { metadataLocation: b['metadata-location'], metadata: b.metadata, config: b.config ?? {} };
  }

  async createTable(
    namespace: string,
    table: string,
    request: Record<string, unknown>,
  ): Promise<LoadTableResult> {
    await this.init();
    const res = await this.request(
      'POST',
      this.path('namespaces', this.ns(namespace), 'tables'),
      { name: table, 'stage-create': false, ...request },
      false,
    );
    if (res.status === 409) {
      const existing = await this.loadTable(namespace, table);
      if (existing) return existing;
    }
    if (res.status === 404) {
      await this.createNamespace(namespace);
      return this.createTable(namespace, table, request);
    }
    if (res.status !== 200) throw this.failure(res, `create table ${namespace}.${table}`);
    return this.loadResult(res, `${namespace}.${table}`);
  }

  /**
   * Commits updates if the requirements hold: the new metadata, or 'conflict' (HTTP 409, another
   * writer was first). A 5xx or a lost response throws DependencyUnavailableError: the outcome is
   * unknown and the caller must reload before trying again.
   */
  async commit(
    namespace: string,
    table: string,
    requirements: Requirement[],
    updates: Update[],
  ): Promise<LoadTableResult | 'conflict'> {
    await this.init();
    const res = await this.request(
      'POST',
      this.path('namespaces', this.ns(namespace), 'tables', encodeURIComponent(table)),
      { identifier: { namespace: namespace.split('.'), name: table }, requirements, updates },
      false,
    ).catch((err: unknown) => {
      throw isNetworkError(err) || err instanceof DependencyUnavailableError ? this.unreachable(err) : err;
    });
    if (res.status === 409) return 'conflict';
    if (res.status !== 200) throw this.failure(res, `commit to ${namespace}.${table}`);
    return this.loadResult(res, `${namespace}.${table}`);
  }
}
