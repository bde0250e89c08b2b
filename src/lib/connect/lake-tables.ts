import { retry } from '../retry/index.js';
import { describeNetworkError, safeJson } from './client.js';
import {
  ConfigError,
  DataProblemError,
  DependencyUnavailableError,
  isNetworkError,
} from '../errors/index.js';
import { maskUrl } from '../config/index.js';
import {
  EXACT_COMMIT_TIME_COLUMN,
  LAKE_SCHEMAS,
  icebergSchemaOf,
  lakeTypeFromIceberg,
  type IcebergSchema,
  type IcebergField,
  type IcebergType,
  type LakeType,
} from '../lake/schema.js';
import { SOURCE_TABLES, type SourceTable } from '../vault/types.js';
import type { RenderedConnector } from './template.js';

/**
 * The lake tables an Iceberg sink connector writes, provisioned through the Iceberg REST catalog
 * before the connector is created. The sink converts every record to its table's types (a decimal
 * string to decimal(12,2), a commit time to timestamptz), so the tables must exist with the
 * contract schema (lake/schema.ts) and `day(__ts)` partitioning: the sink's own auto-create would
 * infer strings for decimals and timestamps from the JSON.
 */

export const ICEBERG_SINK_CLASS = 'org.apache.iceberg.connect.IcebergSinkConnector';

/** The column the sink adds to the contract layout (see lake/schema.ts): the exact commit time. */
const EXACT_TS_COLUMN = EXACT_COMMIT_TIME_COLUMN;

/**
 * The contract schema (lake/schema.ts) plus `__ts_us long` as the last top-level column, with the
 * ids a catalog assigns on create: top-level columns 1..n, nested ids after them. So the nested
 * ids of `purchases.items` are one higher than in lake/schema.ts; readers bind by the table's ids.
 */
export function sinkTableSchema(table: SourceTable): IcebergSchema {
  const schema = icebergSchemaOf(LAKE_SCHEMAS[table]);
  const top = schema.fields.length;
  const shift = (t: IcebergType): IcebergType => {
    if (typeof t === 'string') return t;
    if (t.type === 'list') return { ...t, 'element-id': t['element-id'] + 1, element: shift(t.element) };
    return { ...t, fields: t.fields.map((f) => ({ ...f, id: f.id + 1, type: shift(f.type) })) };
  };
  const fields: IcebergField[] = schema.fields.map((f) => ({ ...f, type: shift(f.type) }));
  fields.push({ id: top + 1, name: EXACT_TS_COLUMN, required: false, type: 'long' });
  return { ...schema, fields };
}

export interface SinkTable {
  /** `<namespace>.<table>` as in the connector's `iceberg.tables`. */
  identifier: string;
  namespace: string;
  table: SourceTable;
}

/** The contract tables of an Iceberg sink connector's `iceberg.tables`; anything else is a config error. */
export function sinkTables(rc: RenderedConnector): SinkTable[] {
  const list = (rc.config['iceberg.tables'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.map((identifier) => {
    const dot = identifier.lastIndexOf('.');
    const namespace = identifier.slice(0, dot);
    const table = identifier.slice(dot + 1) as SourceTable;
    if (dot <= 0 || namespace.includes('.') || !SOURCE_TABLES.includes(table)) {
      throw new ConfigError(
        `Connector ${rc.name}: iceberg.tables entry "${identifier}" is not <namespace>.<table> with one of the lake tables (${SOURCE_TABLES.join(', ')}).`,
        { hint: 'Fix iceberg.tables in the template (templates/connectors/README.md).' },
      );
    }
    return { identifier, namespace, table };
  });
}

/** A connector config, rendered from a template or live on Connect. */
export interface ConnectorConfig {
  name: string;
  config: Record<string, string>;
}

const DEBEZIUM_SOURCE = /^io\.debezium\.connector\./;

/**
 * Debezium connectors that write topics of the sink without the JSON schema wrapper: the sink
 * cannot unwrap those events (they would all go to its dead-letter topic). A source's topics are
 * `<topic.prefix>.…`; its format is its `value.converter.schemas.enable` (unset: the worker's
 * default, which the stack's worker has on, so it is not flagged).
 */
export function schemalessSources(sink: RenderedConnector, sources: ConnectorConfig[]): ConnectorConfig[] {
  const topics = (sink.config.topics ?? '').split(',').map((t) => t.trim());
  return sources.filter((src) => {
    const prefix = src.config['topic.prefix'];
    if (!DEBEZIUM_SOURCE.test(src.config['connector.class'] ?? '') || !prefix) return false;
    if (!topics.some((t) => t.startsWith(`${prefix}.`))) return false;
    return src.config['value.converter.schemas.enable']?.trim().toLowerCase() === 'false';
  });
}

/**
 * Refuses an Iceberg sink fed by schemaless Debezium connectors: those rendered in this run, and
 * those live on the worker (a rendered config wins over the live one of the same name).
 */
export function assertSinkSources(
  rendered: RenderedConnector[],
  live: Record<string, Record<string, string> | undefined>,
): void {
  const byName = new Map<string, ConnectorConfig>();
  for (const [name, config] of Object.entries(live)) if (config) byName.set(name, { name, config });
  for (const rc of rendered) byName.set(rc.name, { name: rc.name, config: rc.config });
  for (const sink of rendered.filter((r) => r.connectorClass === ICEBERG_SINK_CLASS)) {
    const bad = schemalessSources(sink, [...byName.values()]);
    if (bad.length === 0) continue;
    throw new ConfigError(
      `Connector ${sink.name} (Iceberg sink) reads topics that ${bad.map((b) => b.name).join(', ')} write without the JSON schema wrapper (value.converter.schemas.enable=false); the sink can only unwrap Debezium events with it.`,
      {
        hint: 'Apply the Debezium connectors with SHOPDATA_CONNECT_JSON_SCHEMAS=true (stream reads both forms), then the sink; nothing was changed.',
        details: { connector: sink.name, schemalessSources: bad.map((b) => b.name) },
      },
    );
  }
}

export interface CatalogOptions {
  uri: string;
  /** Warehouse named to GET /v1/config (optional for one-warehouse catalogs). */
  warehouse?: string;
  /** Bearer token (SHOPDATA_ICEBERG_CATALOG_TOKEN). */
  token?: string;
  fetchImpl?: typeof fetch;
  /** Total time for retrying an unreachable catalog before exit 3. */
  retryBudgetMs?: number;
}

/** A 502/503/504 from the catalog: worth another attempt. */
class CatalogBusy extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** The few REST catalog calls provisioning needs (Iceberg REST OpenAPI, /v1/...). */
export class RestCatalogClient {
  private prefix: string | undefined;
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: CatalogOptions) {
    this.base = opts.uri.replace(/\/+$/, '');
    this.fetchImpl = opts.fetchImpl ?? fetch;
  }

  get displayUri(): string {
    return maskUrl(this.base);
  }

  /** GET /v1/config once: the catalog may move every other path under a prefix. */
  private async path(rest: string): Promise<string> {
    if (this.prefix === undefined) {
      const q = this.opts.warehouse ? `?warehouse=${encodeURIComponent(this.opts.warehouse)}` : '';
      const r = await this.call('GET', `/v1/config${q}`);
      const body = (r.body ?? {}) as {
        overrides?: Record<string, string>;
        defaults?: Record<string, string>;
      };
      const p = body.overrides?.prefix ?? body.defaults?.prefix ?? '';
      this.prefix = p ? `/${encodeURIComponent(p)}` : '';
    }
    return `/v1${this.prefix}${rest}`;
  }

  async ensureNamespace(namespace: string): Promise<boolean> {
    const r = await this.call('POST', await this.path('/namespaces'), {
      body: { namespace: [namespace], properties: {} },
      allow: [409],
    });
    return r.status !== 409;
  }

  /** The table's metadata, or undefined when it does not exist. */
  async loadTable(namespace: string, table: string): Promise<TableMetadata | undefined> {
    const r = await this.call(
      'GET',
      await this.path(`/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}`),
      {
        allow: [404],
      },
    );
    return r.status === 404 ? undefined : (r.body as { metadata: TableMetadata }).metadata;
  }

  /** Creates the table with the contract schema; false when it appeared meanwhile (409). */
  async createTable(namespace: string, table: SourceTable): Promise<boolean> {
    const schema = sinkTableSchema(table);
    const ts = schema.fields.find((f) => f.name === '__ts')!;
    const r = await this.call(
      'POST',
      await this.path(`/namespaces/${encodeURIComponent(namespace)}/tables`),
      {
        allow: [409],
        body: {
          name: table,
          schema,
          'partition-spec': {
            'spec-id': 0,
            fields: [{ name: '__ts_day', transform: 'day', 'source-id': ts.id, 'field-id': 1000 }],
          },
          'stage-create': false,
          properties: { 'format-version': '2' },
        },
      },
    );
    return r.status !== 409;
  }

  /** One request, retried (lib/retry) on network errors, timeouts and 502–504 for the retry budget (default 10 s). */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    o: { body?: unknown; allow?: number[] } = {},
  ): Promise<{ status: number; body: unknown }> {
    return retry(
      async () => {
        let res: Response;
        try {
          res = await this.fetchImpl(`${this.base}${path}`, {
            method,
            headers: {
              accept: 'application/json',
              ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
              ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
            },
            body: o.body === undefined ? undefined : JSON.stringify(o.body),
            signal: AbortSignal.timeout(15_000),
          });
        } catch (err) {
          if (isNetworkError(err) || (err as Error).name === 'TimeoutError') throw err;
          // Not a connection problem: a port fetch refuses to use, a TLS certificate, a malformed URL.
          throw new ConfigError(
            `Cannot talk to the Iceberg REST catalog at ${this.displayUri}: ${describeNetworkError(err)}.`,
            {
              hint: 'Check SHOPDATA_ICEBERG_CATALOG_URI / --iceberg-catalog-uri (scheme, host, port, certificate).',
              cause: err,
            },
          );
        }
        const text = await res.text();
        const body = text ? safeJson(text) : undefined;
        if (res.ok || o.allow?.includes(res.status)) return { status: res.status, body };
        if ([502, 503, 504].includes(res.status)) throw new CatalogBusy(res.status);
        throw this.refused(method, path, res.status, body, text);
      },
      {
        budgetMs: this.opts.retryBudgetMs ?? 10_000,
        baseMs: 250,
        maxMs: 2_000,
        retryable: (err) =>
          err instanceof CatalogBusy || isNetworkError(err) || (err as Error).name === 'TimeoutError',
        giveUp: ({ err, attempt }) =>
          new DependencyUnavailableError(
            'iceberg-catalog',
            `The Iceberg REST catalog at ${this.displayUri} is unreachable: ${(err as Error).name === 'TimeoutError' ? 'no answer within 15 s' : describeNetworkError(err)} (${attempt} attempts).`,
            {
              hint: 'Check SHOPDATA_ICEBERG_CATALOG_URI (or --iceberg-catalog-uri) and that the catalog runs.',
              cause: err,
            },
          ),
      },
    );
  }

  private refused(method: string, path: string, status: number, body: unknown, text: string): Error {
    const err = (body as { error?: { message?: string } } | undefined)?.error;
    const message = `The Iceberg REST catalog at ${this.displayUri} refused ${method} ${path} (${status}): ${err?.message ?? text.slice(0, 300)}`;
    if (status === 401 || status === 403 || status === 419) {
      return new ConfigError(message, {
        hint: 'Give the catalog a valid bearer token in SHOPDATA_ICEBERG_CATALOG_TOKEN; nothing was changed.',
      });
    }
    return new DataProblemError(message, { hint: 'See the catalog message above.' });
  }
}

export interface TableMetadata {
  'current-schema-id'?: number;
  schemas?: Array<{ 'schema-id': number; fields: IcebergField[] }>;
  'default-spec-id'?: number;
  'partition-specs'?: Array<{
    'spec-id': number;
    fields: Array<{ name: string; transform: string; 'source-id': number }>;
  }>;
  location?: string;
}

export interface LakeTableReport {
  identifier: string;
  /** exists: matches the contract; missing: apply creates it; incompatible: the sink cannot write it. */
  state: 'exists' | 'missing' | 'incompatible' | 'created' | 'would-create';
  problems: string[];
}

/** Compares an existing table with the sink's layout: every contract column and `__ts_us`, their types, `day(__ts)`. */
export function contractProblems(table: SourceTable, meta: TableMetadata): string[] {
  const schema = meta.schemas?.find((s) => s['schema-id'] === meta['current-schema-id']) ?? meta.schemas?.[0];
  const byName = new Map((schema?.fields ?? []).map((f) => [f.name, f]));
  const problems: string[] = [];
  for (const f of LAKE_SCHEMAS[table].fields) {
    const have = byName.get(f.name);
    if (!have) problems.push(`column ${f.name} is missing`);
    else if (!sameType(f.type, have.type))
      problems.push(`column ${f.name} is ${show(have.type)}, not ${showLake(f.type)}`);
  }
  const exact = byName.get(EXACT_TS_COLUMN);
  if (!exact) problems.push(`column ${EXACT_TS_COLUMN} is missing (the exact commit time the sink writes)`);
  else if (exact.type !== 'long') problems.push(`column ${EXACT_TS_COLUMN} is ${show(exact.type)}, not long`);
  const spec = meta['partition-specs']?.find((s) => s['spec-id'] === meta['default-spec-id']);
  const tsId = byName.get('__ts')?.id;
  const day =
    spec?.fields.length === 1 && spec.fields[0]!.transform === 'day' && spec.fields[0]!['source-id'] === tsId;
  if (tsId !== undefined && !day) problems.push('the partition spec is not day(__ts)');
  return problems;
}

function sameType(want: LakeType, have: IcebergType): boolean {
  if (want.kind === 'list') {
    if (typeof have !== 'object' || have.type !== 'list' || typeof have.element !== 'object') return false;
    const el = have.element;
    if (el.type !== 'struct') return false;
    const fields = new Map(el.fields.map((f) => [f.name, f.type]));
    return want.element.fields.every((f) => fields.has(f.name) && sameType(f.type, fields.get(f.name)!));
  }
  const got = lakeTypeFromIceberg(have);
  if (!got || got.kind !== want.kind) return false;
  // A wider integer column holds the values too; a decimal must keep the scale.
  return want.kind !== 'decimal' || (got.kind === 'decimal' && got.scale === want.scale);
}

function show(t: IcebergType): string {
  return typeof t === 'string' ? t : t.type;
}
function showLake(t: LakeType): string {
  return t.kind === 'decimal'
    ? `decimal(${t.precision}, ${t.scale})`
    : t.kind === 'list'
      ? 'list<struct>'
      : t.kind;
}

/**
 * Inspects every sink table; when `create`, then creates the namespaces and missing tables (not in
 * a dry run). An incompatible table stops everything before anything is created: the sink would
 * fail on it, and changing a table that holds data is not ours to do.
 */
export async function provisionLakeTables(
  catalog: RestCatalogClient,
  connector: string,
  tables: SinkTable[],
  opts: { dryRun: boolean; create: boolean },
): Promise<LakeTableReport[]> {
  const out: LakeTableReport[] = [];
  for (const t of tables) {
    const meta = await catalog.loadTable(t.namespace, t.table);
    const problems = meta ? contractProblems(t.table, meta) : [];
    out.push({
      identifier: t.identifier,
      state: !meta ? 'missing' : problems.length ? 'incompatible' : 'exists',
      problems,
    });
  }
  const bad = out.filter((r) => r.state === 'incompatible');
  if (bad.length > 0) {
    throw new ConfigError(
      `Connector ${connector}: lake tables in the catalog at ${catalog.displayUri} do not have the contract layout (docs/CONTRACT.md §5), so the sink cannot write them:\n${bad.map((b) => `  - ${b.identifier}: ${b.problems.join('; ')}`).join('\n')}`,
      {
        hint: 'Point the connector at another namespace (SHOPDATA_ICEBERG_CATALOG_NAMESPACE), or migrate or drop those tables; nothing was changed.',
        details: { connector, tables: out },
      },
    );
  }
  if (!opts.create) return out;
  const namespaces = new Set<string>();
  for (const [i, t] of tables.entries()) {
    if (out[i]!.state !== 'missing') continue;
    if (opts.dryRun) {
      out[i]!.state = 'would-create';
      continue;
    }
    if (!namespaces.has(t.namespace)) await catalog.ensureNamespace(t.namespace);
    namespaces.add(t.namespace);
    out[i]!.state = (await catalog.createTable(t.namespace, t.table)) ? 'created' : 'exists';
  }
  return out;
}
